// The parts of autocannon 9's API the benchmark uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest | undefined
  }

  export interface AutocannonOptions extends AutocannonRequest {
    url: string
    connections?: number
    pipelining?: number
    /** Seconds. */
    duration?: number
    /** Seconds before a request counts as timed out. */
    timeout?: number
    requests?: AutocannonRequest[]
    verifyBody?: (body: string) => boolean
  }

  export interface AutocannonResult {
    duration: number
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    statusCodeStats: Record<string, { count: number }>
    requests: { total: number, average: number, sent: number }
  }

  export interface Instance extends EventEmitter, PromiseLike<AutocannonResult> {
    stop (): void
  }

  function autocannon (options: AutocannonOptions): Instance
  export default autocannon
}
