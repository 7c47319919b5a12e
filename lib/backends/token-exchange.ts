/**
 * OAuth 2.0 Token Exchange (RFC 8693) for `token-exchange` backends: the caller's inbound
 * token (audience: this server) is traded at the issuer that issued it for a token whose
 * audience is the backend, authenticating as this server's own confidential client
 * (client_secret_basic, or private_key_jwt). The backend thus gets a token it can verify
 * with the IdP, naming the user, and the inbound token never leaves for anywhere but the
 * IdP that issued it.
 *
 * - Cached per caller and backend until shortly before the exchanged token expires,
 *   bounded (least recently used entries go first). "Caller" is the whole verified
 *   identity — issuer, subject, client and granted scopes — so a token with fewer scopes
 *   (another client, a narrower consent) never rides on an exchange made for a broader one.
 * - Concurrent calls for the same caller and backend share one exchange.
 * - Failures are BackendErrors with a message for the user; the IdP's details go to the log.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Caller } from '../caller.ts'
import type { BackendConfig } from '../config.ts'
import { IDP_FETCH_TIMEOUT_MS } from '../auth/fetch-json.ts'
import { BackendError } from './errors.ts'
import { signJwt, type SigningKey } from './jws.ts'

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** Exchanged tokens are used until this long before they expire (at most half their lifetime). */
export const EXPIRY_MARGIN_MS = 30_000
/** A token whose lifetime the IdP does not say is reused for this long at most. */
const UNKNOWN_LIFETIME_MS = 60_000
const DEFAULT_MAX_ENTRIES = 10_000
const MAX_RESPONSE_BYTES = 256 * 1024

/** This server's confidential client at an issuer. */
export type ClientCredentials =
  | { readonly clientId: string, readonly clientSecret: string }
  | { readonly clientId: string, readonly privateKey: SigningKey }

export interface ExchangeIssuer {
  readonly issuer: string
  /** The issuer's token endpoint (from its metadata) and the grant types it advertises, when it does. */
  readonly tokenEndpoint: () => Promise<{ url: string, grantTypes: readonly string[] | undefined }>
  /** This server's client there; undefined when none is configured for this issuer. */
  readonly client: ClientCredentials | undefined
}

export interface FormResponse {
  readonly status: number
  /** The parsed JSON body; undefined when the body is not JSON. */
  readonly body: unknown
}

/** POSTs a form; resolves with any HTTP answer, rejects only when there was none. */
export type FormPoster = (url: string, form: URLSearchParams, headers: Record<string, string>, signal: AbortSignal) => Promise<FormResponse>

export const postForm: FormPoster = async (url, form, headers, signal) => {
  const response = await fetch(url, {
    method: 'POST',
    redirect: 'error',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form,
    signal
  })
  const text = await response.text()
  if (text.length > MAX_RESPONSE_BYTES) return { status: response.status, body: undefined }
  try {
    return { status: response.status, body: JSON.parse(text) as unknown }
  } catch {
    return { status: response.status, body: undefined }
  }
}

export interface ExchangeRequest {
  readonly caller: Caller
  /** The inbound access token: sent to the issuer that issued it, and nowhere else. */
  readonly subjectToken: string
  readonly backend: BackendConfig
  readonly log: FastifyBaseLogger
  /** The tool call's signal: a caller that gives up stops waiting (the exchange goes on for the others). */
  readonly signal?: AbortSignal | undefined
  /** Ignore the cached token (the backend refused it). */
  readonly fresh?: boolean | undefined
}

export interface ExchangedToken {
  readonly accessToken: string
  /** Epoch milliseconds. */
  readonly expiresAt: number
  /** True when it came from the cache rather than a new exchange. */
  readonly cached: boolean
}

interface Entry {
  readonly accessToken: string
  readonly expiresAt: number
  /** When to stop using it: shortly before it expires. */
  readonly useUntil: number
}

export interface TokenExchangerOptions {
  /** The issuers tokens can be exchanged at, by issuer identifier. */
  readonly issuers: ReadonlyMap<string, ExchangeIssuer>
  readonly post?: FormPoster
  readonly maxEntries?: number
  readonly now?: () => number
}

function basicAuthorization (clientId: string, clientSecret: string): string {
  // RFC 6749 §2.3.1: form-encoded before Basic encoding.
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`
}

function expiryOfJwt (token: string): number | undefined {
  const [, payload, , extra] = token.split('.')
  if (payload === undefined || extra !== undefined) return undefined
  try {
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

/** Rejects with the signal's reason as soon as it aborts. */
function untilAborted<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

export class TokenExchanger {
  readonly #issuers: ReadonlyMap<string, ExchangeIssuer>
  readonly #post: FormPoster
  readonly #maxEntries: number
  readonly #now: () => number
  /** Insertion order is recency order: a hit is moved to the end. */
  readonly #cache = new Map<string, Entry>()
  readonly #inFlight = new Map<string, Promise<Entry>>()
  /** How many exchanges were sent to an IdP (for tests and operators). */
  exchanges = 0

  constructor ({ issuers, post = postForm, maxEntries = DEFAULT_MAX_ENTRIES, now = Date.now }: TokenExchangerOptions) {
    this.#issuers = issuers
    this.#post = post
    this.#maxEntries = maxEntries
    this.#now = now
  }

  get size (): number {
    return this.#cache.size
  }

  static keyOf (caller: Caller, backend: Pick<BackendConfig, 'name'>): string {
    return JSON.stringify([backend.name, caller.issuer, caller.sub, caller.clientId ?? null, [...caller.scopes].sort()])
  }

  /** A token for `backend` on behalf of the caller: cached, or shared with an exchange in flight, or new. */
  async token (request: ExchangeRequest): Promise<ExchangedToken> {
    const key = TokenExchanger.keyOf(request.caller, request.backend)
    if (request.fresh === true) {
      this.#cache.delete(key)
    } else {
      const hit = this.#cache.get(key)
      if (hit !== undefined && hit.useUntil > this.#now()) {
        this.#cache.delete(key)
        this.#cache.set(key, hit)
        return { accessToken: hit.accessToken, expiresAt: hit.expiresAt, cached: true }
      }
      if (hit !== undefined) this.#cache.delete(key)
    }
    let flight = this.#inFlight.get(key)
    if (flight === undefined) {
      flight = this.#exchange(request).then((entry) => {
        if (entry.useUntil > this.#now()) this.#remember(key, entry)
        return entry
      }).finally(() => this.#inFlight.delete(key))
      this.#inFlight.set(key, flight)
    }
    const entry = await untilAborted(flight, request.signal)
    return { accessToken: entry.accessToken, expiresAt: entry.expiresAt, cached: false }
  }

  /** Drops the cached token of a caller for a backend. */
  forget (caller: Caller, backend: Pick<BackendConfig, 'name'>): void {
    this.#cache.delete(TokenExchanger.keyOf(caller, backend))
  }

  clear (): void {
    this.#cache.clear()
  }

  #remember (key: string, entry: Entry): void {
    this.#cache.delete(key)
    this.#cache.set(key, entry)
    if (this.#cache.size <= this.#maxEntries) return
    const now = this.#now()
    for (const [candidate, cached] of this.#cache) {
      if (cached.useUntil <= now) this.#cache.delete(candidate)
    }
    for (const oldest of this.#cache.keys()) {
      if (this.#cache.size <= this.#maxEntries) break
      this.#cache.delete(oldest)
    }
  }

  async #exchange ({ caller, subjectToken, backend, log }: ExchangeRequest): Promise<Entry> {
    const name = backend.name
    const unavailable = (reason: string, detail: Record<string, unknown>, cause?: unknown): BackendError => {
      log.error({ backend: name, issuer: caller.issuer, ...detail, err: cause }, `token exchange for the backend ${name} failed: ${reason}`)
      return new BackendError(name, 'MCPGW_BACKEND_ACCESS_UNAVAILABLE',
        `Access to the ${name} backend could not be arranged for you right now: ${reason}. Try again later; if it keeps failing, the operator can find the details in the server log.`, { cause })
    }

    const issuer = this.#issuers.get(caller.issuer)
    if (issuer === undefined || issuer.client === undefined) {
      throw unavailable(`this server has no client at your identity provider (${caller.issuer}) to exchange tokens with`, {})
    }
    let endpoint: { url: string, grantTypes: readonly string[] | undefined }
    try {
      endpoint = await issuer.tokenEndpoint()
    } catch (error) {
      throw unavailable('the identity provider\'s metadata could not be read', {}, error)
    }

    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      audience: backend.audience
    })
    if (backend.resource !== undefined) form.set('resource', backend.resource)
    if (backend.scopes !== undefined && backend.scopes.length > 0) form.set('scope', backend.scopes.join(' '))
    const headers: Record<string, string> = {}
    const client = issuer.client
    if ('clientSecret' in client) {
      headers.authorization = basicAuthorization(client.clientId, client.clientSecret)
    } else {
      const iat = Math.floor(this.#now() / 1000)
      form.set('client_id', client.clientId)
      form.set('client_assertion_type', JWT_BEARER_ASSERTION)
      form.set('client_assertion', signJwt(client.privateKey, { iss: client.clientId, sub: client.clientId, aud: endpoint.url, iat, exp: iat + 60, jti: randomUUID() }))
    }

    this.exchanges++
    const startedAt = this.#now()
    let answer: FormResponse
    try {
      answer = await this.#post(endpoint.url, form, headers, AbortSignal.timeout(IDP_FETCH_TIMEOUT_MS))
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError'
      throw unavailable(timedOut ? `the identity provider did not answer within ${IDP_FETCH_TIMEOUT_MS / 1000} s` : 'the identity provider could not be reached', { tokenEndpoint: endpoint.url }, error)
    }

    const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as Record<string, unknown>
    if (answer.status !== 200) {
      const error = typeof body.error === 'string' ? body.error : undefined
      const description = typeof body.error_description === 'string' ? body.error_description.slice(0, 300) : undefined
      const said = `${error ?? `HTTP ${answer.status}`}${description === undefined ? '' : `: ${description}`}`
      const detail = { tokenEndpoint: endpoint.url, status: answer.status, error, description }
      if (answer.status === 401 || error === 'invalid_client' || error === 'unauthorized_client') {
        throw unavailable(`the identity provider refused this server's client credentials (${said})`, detail)
      }
      if (error === 'unsupported_grant_type') {
        const advertised = endpoint.grantTypes === undefined ? '' : endpoint.grantTypes.includes(TOKEN_EXCHANGE_GRANT) ? '' : ' (its metadata does not list the token-exchange grant)'
        throw unavailable(`the identity provider does not support token exchange${advertised}`, detail)
      }
      if (answer.status >= 500 || error === undefined) throw unavailable(`the identity provider answered ${said}`, detail)
      // invalid_grant, invalid_scope, invalid_target, invalid_request, access_denied: a verdict about this user and backend.
      log.warn({ backend: name, issuer: caller.issuer, ...detail }, `the identity provider refused to exchange a token for the backend ${name}`)
      throw new BackendError(name, 'MCPGW_BACKEND_ACCESS_REFUSED', `Your identity provider would not let this server call the ${name} backend on your behalf (${said}).`)
    }

    const accessToken = body.access_token
    if (typeof accessToken !== 'string' || accessToken === '') throw unavailable('the identity provider answered without an access_token', { tokenEndpoint: endpoint.url })
    if (accessToken === subjectToken) throw unavailable('the identity provider returned the very token it was given, which is not for this backend', { tokenEndpoint: endpoint.url })
    const issuedType = body.issued_token_type
    if (issuedType !== undefined && issuedType !== ACCESS_TOKEN_TYPE && issuedType !== JWT_TOKEN_TYPE) {
      throw unavailable(`the identity provider issued a ${String(issuedType)}, not an access token`, { tokenEndpoint: endpoint.url })
    }
    const tokenType = typeof body.token_type === 'string' ? body.token_type.toLowerCase() : 'bearer'
    if (tokenType !== 'bearer' && tokenType !== 'n_a') {
      throw unavailable(`the identity provider issued a ${String(body.token_type)} token; this server sends Bearer tokens only`, { tokenEndpoint: endpoint.url })
    }

    const expiresAt = typeof body.expires_in === 'number' && body.expires_in > 0
      ? startedAt + body.expires_in * 1000
      : expiryOfJwt(accessToken) ?? startedAt + UNKNOWN_LIFETIME_MS
    const lifetime = expiresAt - startedAt
    log.debug({ backend: name, expiresInS: Math.round(lifetime / 1000) }, 'exchanged the caller\'s token for one for a backend')
    return { accessToken, expiresAt, useUntil: expiresAt - Math.min(EXPIRY_MARGIN_MS, lifetime / 2) }
  }
}
