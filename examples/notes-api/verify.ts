/**
 * Who is calling the notes service. Two kinds of credentials are accepted, both JWTs whose
 * audience must be this service (a token for the MCP server, forwarded, is refused):
 *
 * - an access token from the trusted identity provider (what token exchange yields),
 *   verified with the IdP's keys (found through its metadata); the owner is its
 *   `iss` + `sub`;
 * - an assertion signed by the MCP server itself (signed-assertion mode), verified with
 *   the keys at `<gateway>/.well-known/jwks.json`, at most two minutes old; the owner is
 *   the user it names (`sub_id`: the user's issuer and subject), so a user's notes are
 *   the same whichever mode the gateway uses.
 *
 * jose's remote key sets cache the keys and refetch them when a token names an unknown
 * key id, which is how a key rotation at either signer reaches this service.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { Owner } from './store.ts'

const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA']

export interface Verified {
  readonly owner: Owner
  readonly scopes: ReadonlySet<string>
  /** Which kind of credential it was. */
  readonly via: 'identity-provider' | 'gateway-assertion'
  readonly claims: JWTPayload
}

/** A credential this service does not accept; the message says why (it goes back to the caller). */
export class CredentialRejected extends Error {}

export interface VerifierOptions {
  /** This service's audience: the `aud` every accepted credential carries. */
  readonly audience: string
  /** The identity provider whose access tokens are accepted (its `iss`), or undefined for none. */
  readonly trustedIssuer?: string | undefined
  /** The MCP server whose signed assertions are accepted (its PUBLIC_URL), or undefined for none. */
  readonly gatewayUrl?: string | undefined
  /** After fetching a key set, how long a token with an unknown key id waits before another fetch (jose's default: 30 s). */
  readonly keySetCooldownMs?: number | undefined
}

function scopesOf (claims: JWTPayload): Set<string> {
  const { scope, scp } = claims as { scope?: unknown, scp?: unknown }
  const words = typeof scope === 'string' ? scope.split(' ') : Array.isArray(scp) ? scp : typeof scp === 'string' ? scp.split(' ') : []
  return new Set(words.filter((word): word is string => typeof word === 'string' && word !== ''))
}

/** The IdP's jwks_uri from its RFC 8414 (or OpenID) metadata. */
async function discoverJwksUri (issuer: string): Promise<URL> {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  for (const candidate of [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}${path}/.well-known/openid-configuration`]) {
    const response = await fetch(candidate, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) })
    if (!response.ok) continue
    const metadata = await response.json() as { issuer?: unknown, jwks_uri?: unknown }
    if (metadata.issuer !== issuer) throw new Error(`${candidate} names issuer ${JSON.stringify(metadata.issuer)}, not ${issuer}`)
    if (typeof metadata.jwks_uri === 'string') return new URL(metadata.jwks_uri)
  }
  throw new Error(`no authorization server metadata with a jwks_uri for ${issuer}`)
}

export class TokenVerifier {
  readonly #options: VerifierOptions
  #issuerKeys: Promise<JWTVerifyGetKey> | undefined
  readonly #gatewayKeys: JWTVerifyGetKey | undefined

  constructor (options: VerifierOptions) {
    this.#options = options
    this.#gatewayKeys = options.gatewayUrl === undefined ? undefined : createRemoteJWKSet(new URL('/.well-known/jwks.json', options.gatewayUrl), this.#keySetOptions())
  }

  #keySetOptions (): { cooldownDuration?: number } {
    return this.#options.keySetCooldownMs === undefined ? {} : { cooldownDuration: this.#options.keySetCooldownMs }
  }

  /** Found on first use (the IdP may start after this service) and again after a failure. */
  #keysOfIssuer (issuer: string): Promise<JWTVerifyGetKey> {
    this.#issuerKeys ??= discoverJwksUri(issuer).then((uri) => createRemoteJWKSet(uri, this.#keySetOptions()), (error: unknown) => {
      this.#issuerKeys = undefined
      throw error
    })
    return this.#issuerKeys
  }

  async verify (token: string): Promise<Verified> {
    let unverified: JWTPayload
    try {
      unverified = decodeJwt(token)
    } catch {
      throw new CredentialRejected('the credential is not a JWT')
    }
    const { audience, trustedIssuer, gatewayUrl } = this.#options
    try {
      if (trustedIssuer !== undefined && unverified.iss === trustedIssuer) {
        const { payload } = await jwtVerify(token, await this.#keysOfIssuer(trustedIssuer), { issuer: trustedIssuer, audience, algorithms: ALGORITHMS, requiredClaims: ['sub', 'exp'] })
        return { owner: { issuer: trustedIssuer, subject: payload.sub as string }, scopes: scopesOf(payload), via: 'identity-provider', claims: payload }
      }
      if (gatewayUrl !== undefined && this.#gatewayKeys !== undefined && unverified.iss === gatewayUrl) {
        const { payload } = await jwtVerify(token, this.#gatewayKeys, { issuer: gatewayUrl, audience, algorithms: ALGORITHMS, requiredClaims: ['sub', 'exp', 'iat', 'jti'], maxTokenAge: '2 minutes' })
        const user = payload.sub_id as { format?: unknown, iss?: unknown, sub?: unknown } | undefined
        if (user?.format !== 'iss_sub' || typeof user.iss !== 'string' || user.sub !== payload.sub) {
          throw new CredentialRejected('the assertion does not name its user as sub_id { format: "iss_sub", iss, sub }')
        }
        return { owner: { issuer: user.iss, subject: payload.sub as string }, scopes: scopesOf(payload), via: 'gateway-assertion', claims: payload }
      }
    } catch (error) {
      if (error instanceof CredentialRejected) throw error
      const code = (error as { code?: string }).code
      if (typeof code === 'string' && code.startsWith('ERR_J')) throw new CredentialRejected(`the credential was rejected: ${(error as Error).message}`)
      throw error
    }
    throw new CredentialRejected(`credentials issued by ${JSON.stringify(unverified.iss)} are not accepted here`)
  }
}
