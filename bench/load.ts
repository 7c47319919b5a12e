/**
 * One timed load with autocannon, in this process (the server under test has its
 * own). Response times are kept per response at full resolution: autocannon's own
 * histogram has 1 ms buckets and skips non-2xx responses, both wrong for a
 * sub-millisecond baseline and for the 401 scenarios.
 */
import autocannon, { type AutocannonRequest } from 'autocannon'
import type { HttpRequestSpec } from './scenarios.ts'

export interface LoadOptions {
  /** http://127.0.0.1:<port> */
  origin: string
  request: HttpRequestSpec
  /** Rotated through the Authorization header, one per request. */
  tokens?: readonly string[] | undefined
  /** Where the rotation stands; share it between a warm-up and its measured load so the sequence continues. */
  rotation?: { next: number }
  durationS: number
  connections: number
  verifyBody?: ((body: string) => boolean) | undefined
}

export interface LoadMeasurement {
  responses: number
  elapsedS: number
  /** Milliseconds, one per response (unsorted). */
  latenciesMs: Float64Array
  statusCounts: Record<string, number>
  errors: number
  timeouts: number
  mismatches: number
  non2xx: number
  /** CPU used by this process (the load generator) during the load, % of one core. */
  loaderCpuPercent: number
  /** The measured window on the monotonic clock, microseconds (to cut a CPU profile to it). */
  windowUs: [number, number]
  /** A sample of what went wrong, for the report. */
  firstError?: string
  firstMismatch?: string
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n)

export async function runLoad ({ origin, request, tokens, rotation = { next: 0 }, durationS, connections, verifyBody }: LoadOptions): Promise<LoadMeasurement> {
  const rotating: AutocannonRequest[] | undefined = tokens === undefined || tokens.length === 0
    ? undefined
    : [{
        method: request.method,
        path: request.path,
        body: request.body,
        setupRequest: (req) => {
          req.headers = { ...request.headers, authorization: `Bearer ${tokens[rotation.next++ % tokens.length] as string}` }
          return req
        }
      }]

  let latencies = new Float64Array(1 << 16)
  let responses = 0
  const statusCounts: Record<string, number> = {}
  let firstError: string | undefined
  let firstMismatch: string | undefined

  const cpuBefore = process.cpuUsage()
  const start = nowUs()
  const instance = autocannon({
    // autocannon takes the path from the URL (a separate `path` option is ignored).
    url: origin + request.path,
    method: request.method,
    headers: request.headers,
    body: request.body,
    ...(rotating !== undefined && { requests: rotating }),
    ...(verifyBody !== undefined && { verifyBody }),
    connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10
  })
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (responses === latencies.length) {
      const grown = new Float64Array(latencies.length * 2)
      grown.set(latencies)
      latencies = grown
    }
    latencies[responses++] = responseTime
    statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1
  })
  instance.on('reqError', (error: Error) => { firstError ??= error.message })
  instance.on('reqMismatch', (body: string) => { firstMismatch ??= String(body).slice(0, 300) })
  const result = await instance
  const end = nowUs()
  const cpu = process.cpuUsage(cpuBefore)

  return {
    responses,
    elapsedS: (end - start) / 1e6,
    latenciesMs: latencies.subarray(0, responses),
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    non2xx: result.non2xx,
    loaderCpuPercent: ((cpu.user + cpu.system) / (end - start)) * 100,
    windowUs: [start, end],
    ...(firstError !== undefined && { firstError }),
    ...(firstMismatch !== undefined && { firstMismatch })
  }
}
