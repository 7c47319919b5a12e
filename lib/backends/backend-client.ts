/**
 * What a tool handler gets from `ctx.backend(name)`: HTTP to one configured backend,
 * as the caller, without ever seeing a token. The client
 * - resolves paths under the backend's base URL (never anywhere else: the credentials
 *   it adds are for that backend only);
 * - adds the Authorization header (an exchanged token or a signed assertion), and
 *   refuses a request that carries the caller's inbound token anywhere (headers, URL,
 *   body) before it is sent;
 * - gives each attempt `timeoutMs`, retries idempotent requests (GET, HEAD, OPTIONS,
 *   PUT, DELETE) on connection failures, timeouts and 502/503/504 up to `retries` times
 *   with backoff, never retries the others, and stops at once when the tool call is
 *   cancelled;
 * - when the backend answers 401 to a cached exchanged token, exchanges again once and
 *   resends (the request was refused unread, so resending is safe for any method).
 */
import type { FastifyBaseLogger } from 'fastify'
import type { BackendConfig } from '../config.ts'
import { BackendError, InboundTokenLeakError } from './errors.ts'

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_RETRIES = 2
/** Largest answer the json helper reads. */
export const MAX_JSON_BYTES = 5 * 1024 * 1024
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
const RETRY_STATUSES = new Set([502, 503, 504])
const METHOD = /^[A-Z]{1,16}$/
const MAX_RETRY_AFTER_MS = 5_000

export type BackendQuery = Readonly<Record<string, string | number | boolean | undefined>>

export interface BackendRequestInit {
  /** GET by default. */
  readonly method?: string
  /** Request headers; `Authorization` is the client's to set. */
  readonly headers?: Readonly<Record<string, string>>
  /** Replayable bodies only, so that a retry can resend them. */
  readonly body?: string | Uint8Array | ArrayBuffer | URLSearchParams
  /** Added to the URL's query string (undefined values are left out). */
  readonly query?: BackendQuery
  /** Gives up earlier than the tool call does. */
  readonly signal?: AbortSignal
}

export interface BackendJsonInit extends Omit<BackendRequestInit, 'body'> {
  /** Sent as JSON. */
  readonly body?: unknown
}

export interface BackendClient {
  /** The backend's name in BACKENDS. */
  readonly name: string
  /** A request to `path` (relative to the backend's base URL); resolves with whatever status the backend answers. */
  fetch (path: string, init?: BackendRequestInit): Promise<Response>
  /**
   * JSON in and out: resolves with the parsed body of a 2xx answer (undefined when empty);
   * any other status becomes a BackendError whose message the user can read.
   */
  json<T = unknown> (path: string, init?: BackendJsonInit): Promise<T>
}

/** How the client authenticates its requests; implemented by the request's BackendSession. */
export interface BackendCredentials {
  /**
   * The Authorization header for the next attempt. `fresh` after the backend refused the
   * previous one; `renewable` says whether asking again with `fresh` can help.
   */
  authorization (fresh: boolean, signal: AbortSignal): Promise<{ value: string, renewable: boolean }>
  /** Throws InboundTokenLeakError when `text` contains the caller's inbound token. */
  guard (where: string, text: string): void
}

export interface HttpBackendClientOptions {
  readonly backend: BackendConfig
  readonly credentials: BackendCredentials
  /** The tool call's signal. */
  readonly signal: AbortSignal
  readonly log: FastifyBaseLogger
  readonly fetch?: typeof fetch
}

function abortableSleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** What a fetch failure was, in words a user understands. */
function networkReason (error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause
  switch (cause?.code) {
    case 'ECONNREFUSED': return 'connection refused'
    case 'ECONNRESET': case 'UND_ERR_SOCKET': return 'the connection was dropped'
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'its host name does not resolve'
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'its network is unreachable'
    default: return 'the connection failed'
  }
}

function backendMessage (text: string): string | undefined {
  try {
    const body = JSON.parse(text) as Record<string, unknown>
    for (const field of ['message', 'error_description', 'error', 'detail', 'title']) {
      const value = body[field]
      if (typeof value === 'string' && value.trim() !== '') return value.trim().slice(0, 300)
    }
  } catch {}
  return undefined
}

export class HttpBackendClient implements BackendClient {
  readonly name: string
  readonly #backend: BackendConfig
  readonly #base: URL
  readonly #credentials: BackendCredentials
  readonly #signal: AbortSignal
  readonly #log: FastifyBaseLogger
  readonly #fetch: typeof fetch

  constructor ({ backend, credentials, signal, log, fetch: fetcher = fetch }: HttpBackendClientOptions) {
    this.name = backend.name
    this.#backend = backend
    this.#base = new URL(backend.baseUrl)
    this.#credentials = credentials
    this.#signal = signal
    this.#log = log
    this.#fetch = fetcher
  }

  /** `path` under the base URL; anything that would leave it is a programming error. */
  #url (path: string, query: BackendQuery | undefined): URL {
    if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('//') || path.includes('\\')) {
      throw new Error(`backend ${this.name}: ${JSON.stringify(path)} is not a path; give a path relative to the backend's base URL`)
    }
    const basePath = this.#base.pathname.replace(/\/+$/, '')
    const url = new URL(`${basePath}/${path.replace(/^\/+/, '')}`, this.#base.origin)
    if (url.origin !== this.#base.origin || !(url.pathname === basePath || url.pathname.startsWith(`${basePath}/`))) {
      throw new Error(`backend ${this.name}: ${JSON.stringify(path)} leads outside its base URL`)
    }
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.append(name, String(value))
    }
    return url
  }

  async fetch (path: string, init: BackendRequestInit = {}): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase()
    if (!METHOD.test(method)) throw new Error(`backend ${this.name}: ${JSON.stringify(init.method)} is not an HTTP method`)
    const url = this.#url(path, init.query)
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(init.headers ?? {})) {
      const lower = name.toLowerCase()
      if (lower === 'authorization') throw new Error(`backend ${this.name}: the Authorization header is the backend client's to set`)
      headers[lower] = value
    }
    let body: string | Uint8Array<ArrayBuffer> | undefined
    if (init.body instanceof URLSearchParams) {
      body = init.body.toString()
      headers['content-type'] ??= 'application/x-www-form-urlencoded'
    } else if (init.body instanceof ArrayBuffer) {
      body = new Uint8Array(init.body)
    } else if (init.body instanceof Uint8Array) {
      // A copy: what is sent (and resent) cannot change under the client.
      body = new Uint8Array(init.body)
    } else {
      body = init.body
    }
    if (body !== undefined && (method === 'GET' || method === 'HEAD')) throw new Error(`backend ${this.name}: a ${method} request has no body`)

    // The caller's own token never leaves, whatever the tool put where.
    const credentials = this.#credentials
    credentials.guard('URL', url.href)
    for (const [name, value] of Object.entries(headers)) credentials.guard(`${name} header`, value)
    if (body !== undefined) credentials.guard('body', typeof body === 'string' ? body : Buffer.from(body).toString('latin1'))

    const callSignal = init.signal === undefined ? this.#signal : AbortSignal.any([this.#signal, init.signal])
    const timeoutMs = this.#backend.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const retries = IDEMPOTENT.has(method) ? this.#backend.retries ?? DEFAULT_RETRIES : 0
    const where = { backend: this.name, method, path: url.pathname }
    let fresh = false
    let renewed = false
    for (let attempt = 0; ; attempt++) {
      const authorization = await credentials.authorization(fresh, callSignal)
      credentials.guard('Authorization header', authorization.value)
      const timeout = AbortSignal.timeout(timeoutMs)
      const startedAt = performance.now()
      let failure: BackendError
      try {
        const response = await this.#fetch(url, {
          method,
          headers: { ...headers, authorization: authorization.value },
          ...(body !== undefined && { body }),
          // A redirect could carry the credentials elsewhere: it is the tool's to look at.
          redirect: 'manual',
          signal: AbortSignal.any([callSignal, timeout])
        })
        this.#log.debug({ ...where, status: response.status, attempt, ms: Math.round(performance.now() - startedAt) }, 'backend answered')
        if (response.status === 401 && authorization.renewable && !renewed) {
          // A cached token the backend no longer takes (revoked, keys rotated): exchange again, once.
          await response.body?.cancel()
          renewed = true
          fresh = true
          attempt--
          continue
        }
        fresh = false
        if (!RETRY_STATUSES.has(response.status) || attempt >= retries) return response
        await response.body?.cancel()
        const retryAfter = Number(response.headers.get('retry-after'))
        this.#log.info({ ...where, status: response.status, attempt }, 'backend answered a temporary failure; retrying')
        await abortableSleep(retryAfter > 0 && retryAfter * 1000 <= MAX_RETRY_AFTER_MS ? retryAfter * 1000 : this.#backoff(attempt), callSignal)
        continue
      } catch (error) {
        if (callSignal.aborted) throw callSignal.reason
        if (error instanceof BackendError || error instanceof InboundTokenLeakError) throw error
        failure = timeout.aborted
          ? new BackendError(this.name, 'MCPGW_BACKEND_TIMEOUT', `The ${this.name} backend did not answer within ${timeoutMs / 1000} s${attempt > 0 ? ` (${attempt + 1} attempts)` : ''}. Try again later.`, { cause: error })
          : new BackendError(this.name, 'MCPGW_BACKEND_UNREACHABLE', `The ${this.name} backend could not be reached (${networkReason(error)})${attempt > 0 ? ` after ${attempt + 1} attempts` : ''}. Try again later.`, { cause: error })
      }
      if (attempt >= retries) {
        this.#log.warn({ ...where, attempt, code: failure.code, err: failure.cause }, `backend request failed: ${failure.message}`)
        throw failure
      }
      this.#log.info({ ...where, attempt, code: failure.code }, 'backend request failed; retrying')
      await abortableSleep(this.#backoff(attempt), callSignal)
    }
  }

  /** 250 ms, 500 ms, 1 s…, with jitter so that many callers do not retry in step. */
  #backoff (attempt: number): number {
    return Math.min(2_000, 250 * 2 ** attempt) + Math.floor(Math.random() * 100)
  }

  async json<T = unknown> (path: string, init: BackendJsonInit = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value
    if (init.body !== undefined) headers['content-type'] ??= 'application/json'
    const { body, ...rest } = init
    const response = await this.fetch(path, { ...rest, headers, ...(body !== undefined && { body: JSON.stringify(body) }) })
    const text = await this.#readText(response)
    if (!response.ok) throw this.#statusError(response.status, text)
    if (text.trim() === '') return undefined as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new BackendError(this.name, 'MCPGW_BACKEND_BAD_RESPONSE', `The ${this.name} backend answered something that is not JSON.`, { status: response.status })
    }
  }

  async #readText (response: Response): Promise<string> {
    const declared = Number(response.headers.get('content-length'))
    if (declared > MAX_JSON_BYTES) {
      await response.body?.cancel()
      throw new BackendError(this.name, 'MCPGW_BACKEND_BAD_RESPONSE', `The ${this.name} backend's answer is larger than ${MAX_JSON_BYTES / 1024 / 1024} MiB.`, { status: response.status })
    }
    const chunks: Uint8Array[] = []
    let size = 0
    try {
      for await (const chunk of response.body ?? []) {
        size += chunk.byteLength
        if (size > MAX_JSON_BYTES) {
          await response.body?.cancel()
          throw new BackendError(this.name, 'MCPGW_BACKEND_BAD_RESPONSE', `The ${this.name} backend's answer is larger than ${MAX_JSON_BYTES / 1024 / 1024} MiB.`, { status: response.status })
        }
        chunks.push(chunk)
      }
    } catch (error) {
      if (error instanceof BackendError) throw error
      if (this.#signal.aborted) throw this.#signal.reason
      if ((error as Error).name === 'TimeoutError') {
        throw new BackendError(this.name, 'MCPGW_BACKEND_TIMEOUT', `The ${this.name} backend did not finish its answer within ${(this.#backend.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s. Try again later.`, { cause: error })
      }
      throw new BackendError(this.name, 'MCPGW_BACKEND_UNREACHABLE', `The ${this.name} backend's answer was cut off. Try again later.`, { cause: error })
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  #statusError (status: number, text: string): BackendError {
    const said = status < 500 ? backendMessage(text) : undefined
    const explained = status === 401 || status === 403
      ? `The ${this.name} backend refused access for you (HTTP ${status}${said === undefined ? '' : `: ${said}`}).`
      : status >= 500
        ? `The ${this.name} backend failed (HTTP ${status}). Try again later.`
        : `The ${this.name} backend refused the request (HTTP ${status}${said === undefined ? '' : `: ${said}`}).`
    return new BackendError(this.name, 'MCPGW_BACKEND_HTTP_ERROR', explained, { status })
  }
}
