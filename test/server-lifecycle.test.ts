/**
 * The real entry point, server.ts, in a child process (with a slow test tool preloaded):
 * SIGTERM in the middle of a stream of requests.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { test, type Test } from 'tap'
import { build } from './helper.ts'
import { findSecrets } from './support/log-capture.ts'
import { slow } from './support/slow-tool.ts'
import { startTestIssuer, type TestIssuer } from './support/test-issuer.ts'
import { tools as defaultTools } from '../tools/index.ts'
import type { ToolDefinition } from '../lib/tool.ts'

const root = new URL('..', import.meta.url).pathname

interface Answer {
  status?: number
  headers?: http.IncomingHttpHeaders
  body?: string
  /** Set when no HTTP answer came (ECONNREFUSED, ECONNRESET, …). */
  error?: string
}

function post (url: string, token: string, payload: object, agent: http.Agent | false): Promise<Answer> {
  return new Promise((resolve) => {
    const body = JSON.stringify(payload)
    const request = http.request(`${url}/mcp`, {
      method: 'POST',
      agent,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
        'content-length': Buffer.byteLength(body)
      }
    }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: text }))
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
    })
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
    request.end(body)
  })
}

const toolCall = (name: string, args: object) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } })

async function freePort (): Promise<number> {
  const server = http.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

interface ServerProcess {
  url: string
  lines: string[]
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>
  /** Resolves with the first log entry matching, waiting up to `timeoutMs`. */
  logged (predicate: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  signal (name: NodeJS.Signals): void
}

async function startServer (t: Test, issuer: TestIssuer, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, ['--import', './test/support/preload-slow-tool.ts', 'server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: url,
      OAUTH_ISSUER: issuer.issuer,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'cloud-logging',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const lines: string[] = []
  const waiters = new Set<() => void>()
  let buffered = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    const complete = buffered.split('\n')
    buffered = complete.pop() ?? ''
    lines.push(...complete.filter((line) => line !== ''))
    for (const waiter of waiters) waiter()
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, at: performance.now() }))

  const logged = (predicate: (entry: Record<string, unknown>) => boolean, timeoutMs = 10_000) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const check = () => {
      const found = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find(predicate)
      if (found === undefined) return
      waiters.delete(check)
      clearTimeout(timer)
      resolve(found)
    }
    const timer = setTimeout(() => {
      waiters.delete(check)
      reject(new Error(`not logged within ${timeoutMs} ms; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`))
    }, timeoutMs)
    waiters.add(check)
    check()
  })

  await logged((entry) => typeof entry.message === 'string' && entry.message.startsWith('Server listening'))
  // Ready once the issuer's keys are loaded (onListen).
  for (let attempt = 0; ; attempt++) {
    const ready = await new Promise<number | undefined>((resolve) => {
      http.get(`${url}/readyz`, { agent: false }, (response) => { response.resume(); resolve(response.statusCode) }).on('error', () => resolve(undefined))
    })
    if (ready === 200) break
    if (attempt > 100) throw new Error('the server never became ready')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url, lines, exited, logged, signal: (name) => child.kill(name) }
}

const message = (text: string) => (entry: Record<string, unknown>) => typeof entry.message === 'string' && entry.message.includes(text)

test('SIGTERM during a stream of requests: in-flight requests get their full answers, later ones 503 or a refused connection, exit 0', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const server = await startServer(t, issuer, { SHUTDOWN_TIMEOUT_MS: '9000' })
  const token = issuer.mint(`${server.url}/mcp`)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  t.after(() => agent.destroy())

  // Keep-alive connections that are idle when the signal comes.
  for (const answer of await Promise.all([1, 2, 3].map((i) => post(server.url, token, toolCall('echo', { message: `warm ${i}` }), agent)))) {
    t.equal(answer.status, 200)
  }
  const IN_FLIGHT = 6
  const WAIT_MS = 1500
  const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) => post(server.url, token, toolCall('slow', { ms: WAIT_MS, label: `call ${i}` }), agent))
  for (let i = 0; i < IN_FLIGHT; i++) await server.logged((entry) => entry.message === 'slow tool started' && entry.label === `call ${i}`)

  const signalledAt = performance.now()
  server.signal('SIGTERM')
  await server.logged(message('shutting down'))
  const late = await Promise.all(Array.from({ length: 5 }, (_, i) => post(server.url, token, toolCall('echo', { message: `late ${i}` }), false)))

  const answers = await Promise.all(inFlight)
  for (const [i, answer] of answers.entries()) {
    t.equal(answer.status, 200, `in-flight call ${i} answered`)
    t.same(JSON.parse(answer.body ?? '{}').result?.structuredContent, { label: `call ${i}`, waitedMs: WAIT_MS }, `in-flight call ${i} got its full result`)
    t.equal(answer.headers?.connection, 'close', 'and was told the connection closes')
  }
  for (const answer of late) {
    t.ok(answer.status === 503 || answer.error === 'ECONNREFUSED', `a request after SIGTERM got 503 or a refused connection (got ${answer.status ?? answer.error})`)
  }

  const { code, at } = await server.exited
  t.equal(code, 0, 'exit code 0')
  t.ok(at - signalledAt < WAIT_MS + 3000, `exited once the in-flight requests were answered (${Math.round(at - signalledAt)} ms after SIGTERM), not after the keep-alive timeout`)
  await server.logged(message('shut down cleanly'), 0)
  const entries = server.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  t.ok(entries.every((entry) => typeof entry.severity === 'string' && typeof entry.message === 'string'), 'every line is Cloud Logging JSON')
  t.equal(entries.filter((entry) => entry.audit !== undefined).length, 3 + IN_FLIGHT, 'every served tool call was audited')
  t.same(server.lines.flatMap((line) => findSecrets(line, [token])), [], 'no token in the logs')
})

test('a drain that outlasts SHUTDOWN_TIMEOUT_MS is cut short: logged, exit 1', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const server = await startServer(t, issuer, { SHUTDOWN_TIMEOUT_MS: '700' })
  const token = issuer.mint(`${server.url}/mcp`)
  const hanging = post(server.url, token, toolCall('slow', { ms: 30_000, label: 'hang' }), false)
  await server.logged((entry) => entry.message === 'slow tool started')
  const signalledAt = performance.now()
  server.signal('SIGTERM')
  const { code, at } = await server.exited
  t.equal(code, 1)
  t.ok(at - signalledAt < 3000, `gave up after the deadline (${Math.round(at - signalledAt)} ms)`)
  const line = await server.logged(message('did not finish within 700 ms'), 0)
  t.equal(line.severity, 'ERROR')
  t.ok((await hanging).error !== undefined, 'the hanging request got no answer')
})

test('a second signal during the drain exits at once with status 1', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const server = await startServer(t, issuer)
  const hanging = post(server.url, issuer.mint(`${server.url}/mcp`), toolCall('slow', { ms: 30_000, label: 'hang' }), false)
  await server.logged((entry) => entry.message === 'slow tool started')
  server.signal('SIGTERM')
  await server.logged(message('shutting down'))
  server.signal('SIGINT')
  t.equal((await server.exited).code, 1)
  await server.logged(message('second signal'), 0)
  await hanging
})

test('in process: close() completes as soon as in-flight requests are answered, even on keep-alive connections', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app, url, logs } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer }, tools: [...defaultTools, slow] as ToolDefinition[], listen: true })
  const token = issuer.mint(`${url}/mcp`)
  const agent = new http.Agent({ keepAlive: true })
  t.after(() => agent.destroy())
  const answer = post(url, token, toolCall('slow', { ms: 300, label: 'in flight' }), agent)
  while (!logs.lines.some((line) => line.includes('slow tool started'))) await new Promise((resolve) => setTimeout(resolve, 10))
  const closing = performance.now()
  await app.close()
  const closedAfter = performance.now() - closing
  const { status, headers } = await answer
  t.equal(status, 200)
  t.equal(headers?.connection, 'close')
  // Fastify's keep-alive timeout is 72 s: without the drain, close() would wait for it.
  t.ok(closedAfter < 2000, `close() took ${Math.round(closedAfter)} ms`)
})
