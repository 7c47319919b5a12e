/**
 * Which redirect URIs the development authorization server registers, and the OIDC
 * `application_type` that makes oidc-provider accept them.
 *
 * MCP clients in the wild redirect to `https://chatgpt.com/…`, `https://claude.ai/…`,
 * `http://localhost:6274/…` (MCP Inspector), `http://127.0.0.1:33418` (VS Code) and
 * `cursor://…` (Cursor). oidc-provider ties the accepted shapes to `application_type`:
 * `web` takes http(s) with any host, `native` takes loopback http, non-loopback https and
 * custom schemes. Clients rarely send the type that fits, so it is derived here from the
 * URIs themselves, after this server's own rule: http only on loopback.
 */

/** Hosts that never leave the machine (RFC 8252 §7.3); oidc-provider uses the same set. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])
/** Schemes a browser would run or read locally instead of handing to an app. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:', 'ws:', 'wss:', 'ftp:'])

export type ApplicationType = 'web' | 'native'

/** A redirect URI this server refuses; the message starts with `redirect_uris` so oidc-provider reports `invalid_redirect_uri`. */
export class RedirectUriPolicyError extends Error {
  constructor (message: string) {
    super(`redirect_uris ${message}`)
    this.name = 'RedirectUriPolicyError'
  }
}

function isLoopback (url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname)
}

/**
 * Checks every redirect URI and returns the application type to register. Throws a
 * RedirectUriPolicyError naming the first URI refused and what would be accepted instead.
 */
export function redirectUriApplicationType (redirectUris: readonly unknown[], declared: unknown): ApplicationType {
  let custom: string | undefined
  let httpsLoopback: string | undefined
  for (const value of redirectUris) {
    if (typeof value !== 'string') throw new RedirectUriPolicyError('must be strings')
    const url = URL.parse(value)
    if (url === null) throw new RedirectUriPolicyError(`must be absolute URIs: ${JSON.stringify(value)} is not`)
    if (url.hash !== '' || value.includes('#')) throw new RedirectUriPolicyError(`must not contain a fragment: ${value}`)
    if (url.protocol === 'http:') {
      if (!isLoopback(url)) {
        throw new RedirectUriPolicyError(`may use http only on localhost, 127.0.0.1 or [::1] (any port): ${value} must use https`)
      }
    } else if (url.protocol === 'https:') {
      if (isLoopback(url)) httpsLoopback ??= value
    } else if (FORBIDDEN_SCHEMES.has(url.protocol)) {
      throw new RedirectUriPolicyError(`must not use the ${url.protocol.slice(0, -1)} scheme: ${value}`)
    } else {
      custom ??= value
    }
  }
  // oidc-provider accepts custom schemes only for native clients, and https on loopback only for web clients.
  if (custom !== undefined && httpsLoopback !== undefined) {
    throw new RedirectUriPolicyError(`cannot mix a custom scheme (${custom}) with https on a loopback host (${httpsLoopback}): register them as two clients`)
  }
  if (custom !== undefined) return 'native'
  if (httpsLoopback !== undefined) return 'web'
  // Either type accepts what is left; keep the client's choice (native gets any-port loopback matching).
  return declared === 'native' ? 'native' : 'web'
}
