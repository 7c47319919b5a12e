/**
 * Opaque access tokens (RFC 7662): a token that is not a JWT is sent to the issuer's
 * introspection endpoint, authenticating as this server's confidential client. The
 * answer is held to the same rules as a JWT's claims — active, issuer, audience, expiry,
 * subject — by the caller of `introspect`.
 *
 * An IdP that cannot be asked is not a verdict on the token: such failures are
 * IntrospectionUnavailableError (503), never a 401.
 */
import { IDP_FETCH_TIMEOUT_MS } from './fetch-json.ts'

export interface IntrospectionEndpoint {
  readonly url: string
  readonly clientId: string
  readonly clientSecret: string
}

/** Why an introspection endpoint could not give an answer. */
export type IntrospectionFailure = 'unreachable' | 'credentials' | 'protocol'

export class IntrospectionUnavailableError extends Error {
  readonly failure: IntrospectionFailure
  /** The HTTP status, when the endpoint answered at all. */
  readonly status: number | undefined
  constructor (url: string, failure: IntrospectionFailure, reason: string, status?: number, options?: ErrorOptions) {
    super(`the token introspection endpoint ${url} ${reason}`, options)
    this.name = 'IntrospectionUnavailableError'
    this.failure = failure
    this.status = status
  }
}

/** RFC 6749 §2.3.1: client credentials are form-encoded before Basic encoding. */
function basicAuthorization ({ clientId, clientSecret }: IntrospectionEndpoint): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`
}

/** The introspection response for `token` (`{ active: false }` for anything the IdP does not vouch for). */
export async function introspect (endpoint: IntrospectionEndpoint, token: string): Promise<Record<string, unknown>> {
  let response: Response
  try {
    response = await fetch(endpoint.url, {
      method: 'POST',
      redirect: 'error',
      headers: { authorization: basicAuthorization(endpoint), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      signal: AbortSignal.timeout(IDP_FETCH_TIMEOUT_MS)
    })
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `did not answer within ${IDP_FETCH_TIMEOUT_MS} ms` : 'is unreachable'
    throw new IntrospectionUnavailableError(endpoint.url, 'unreachable', reason, undefined, { cause: error })
  }
  const { status } = response
  if (status === 401 || status === 403) {
    throw new IntrospectionUnavailableError(endpoint.url, 'credentials', `refused this server's client credentials (HTTP ${status}): check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET`, status)
  }
  let body: unknown
  try {
    body = JSON.parse(await response.text())
  } catch {
    throw new IntrospectionUnavailableError(endpoint.url, 'protocol', `answered HTTP ${status}, not JSON`, status)
  }
  if (typeof body !== 'object' || body === null || typeof (body as { active?: unknown }).active !== 'boolean') {
    throw new IntrospectionUnavailableError(endpoint.url, 'protocol', `answered HTTP ${status} without an "active" member`, status)
  }
  if (!response.ok) throw new IntrospectionUnavailableError(endpoint.url, 'protocol', `answered HTTP ${status}`, status)
  return body as Record<string, unknown>
}

/** Whether a token is (shaped like) a JWS; anything else is opaque. */
export function looksLikeJwt (token: string): boolean {
  const [header, , , extra] = token.split('.')
  if (header === undefined || extra !== undefined || token.split('.').length !== 3) return false
  try {
    const decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown
    return typeof decoded === 'object' && decoded !== null && 'alg' in decoded
  } catch {
    return false
  }
}
