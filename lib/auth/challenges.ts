/**
 * OAuth 2.0 Bearer challenges (RFC 6750 §3, RFC 9728 §5.1) and the errors that carry them.
 * Each error renders as its HTTP status, a `WWW-Authenticate` header and the body
 * `{ error, error_description }`; the description never contains the token.
 */
import { refusal, type ErrorExtras } from '../errors.ts'

/** The Protected Resource Metadata URL for a resource path: `/mcp` → `/.well-known/oauth-protected-resource/mcp`. */
export function resourceMetadataUrl (publicUrl: string, resourcePath: string): string {
  const suffix = resourcePath === '/' || resourcePath === '' ? '' : resourcePath.replace(/\/$/, '')
  return `${publicUrl}/.well-known/oauth-protected-resource${suffix}`
}

/** The canonical resource identifier for a path: the PRM `resource` and an accepted token audience. */
export function resourceIdentifier (publicUrl: string, resourcePath: string): string {
  const suffix = resourcePath === '/' || resourcePath === '' ? '' : resourcePath.replace(/\/$/, '')
  return `${publicUrl}${suffix}`
}

/** RFC 6750 error_description: printable ASCII without `"` and `\`. */
function descriptionValue (text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7E]/g, ' ')
}

export interface BearerChallenge {
  resourceMetadata: string
  scopes?: readonly string[] | undefined
  error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | undefined
  errorDescription?: string | undefined
}

export function bearerChallenge ({ resourceMetadata, scopes, error, errorDescription }: BearerChallenge): string {
  const params = [`resource_metadata="${resourceMetadata}"`]
  if (scopes !== undefined && scopes.length > 0) params.push(`scope="${scopes.join(' ')}"`)
  if (error !== undefined) params.push(`error="${error}"`)
  if (errorDescription !== undefined) params.push(`error_description="${descriptionValue(errorDescription)}"`)
  return `Bearer ${params.join(', ')}`
}

const MissingTokenErrorBase = refusal('MCPGW_TOKEN_MISSING', 'This MCP server needs an OAuth access token: send it as "Authorization: Bearer <token>" (clients discover how to get one from the resource_metadata URL in WWW-Authenticate)', 401)
const InvalidTokenErrorBase = refusal('MCPGW_TOKEN_INVALID', 'The access token was rejected: %s', 401)
const TokenNotInHeaderErrorBase = refusal('MCPGW_TOKEN_NOT_IN_HEADER', 'Access tokens are only accepted in the Authorization header, never in the query string or the body', 400)
const InsufficientScopeErrorBase = refusal('MCPGW_INSUFFICIENT_SCOPE', '%s', 403)
const AuthUnavailableErrorBase = refusal('MCPGW_AUTH_UNAVAILABLE', 'Tokens cannot be verified right now: %s', 503)

/** Extra headers browsers must be allowed to read on every challenge. */
const exposeChallenge = { 'access-control-expose-headers': 'WWW-Authenticate' }

function withChallenge<E extends Error> (error: E, oauthError: string, challenge: string, extraHeaders: Record<string, string> = {}): E & ErrorExtras {
  return Object.assign(error, { oauthError, headers: { 'www-authenticate': challenge, ...exposeChallenge, ...extraHeaders } })
}

export function missingTokenError (resourceMetadata: string, scopes: readonly string[]): Error & ErrorExtras {
  // No `error` parameter: the client simply has not authenticated yet (RFC 6750 §3.1).
  return withChallenge(new MissingTokenErrorBase(), 'unauthorized', bearerChallenge({ resourceMetadata, scopes }))
}

export function invalidTokenError (reason: string, resourceMetadata: string, scopes: readonly string[]): Error & ErrorExtras {
  const error = new InvalidTokenErrorBase(reason)
  return withChallenge(error, 'invalid_token', bearerChallenge({ resourceMetadata, scopes, error: 'invalid_token', errorDescription: error.message }))
}

export function tokenNotInHeaderError (resourceMetadata: string, scopes: readonly string[]): Error & ErrorExtras {
  const error = new TokenNotInHeaderErrorBase()
  return withChallenge(error, 'invalid_request', bearerChallenge({ resourceMetadata, scopes, error: 'invalid_request', errorDescription: error.message }))
}

export function insufficientScopeError (description: string, resourceMetadata: string, scopes: readonly string[]): Error & ErrorExtras {
  const error = new InsufficientScopeErrorBase(description)
  return withChallenge(error, 'insufficient_scope', insufficientScopeChallenge(description, resourceMetadata, scopes))
}

export function insufficientScopeChallenge (description: string, resourceMetadata: string, scopes: readonly string[]): string {
  return bearerChallenge({ resourceMetadata, scopes, error: 'insufficient_scope', errorDescription: description })
}

export function authUnavailableError (reason: string): Error & ErrorExtras {
  return Object.assign(new AuthUnavailableErrorBase(reason), { headers: { 'retry-after': '30' } })
}
