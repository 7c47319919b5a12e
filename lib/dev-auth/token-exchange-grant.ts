/**
 * OAuth 2.0 Token Exchange (RFC 8693) at the development authorization server, so that
 * `token-exchange` backends work with `npm start` and no IdP. The policy is what a real
 * IdP would be configured with:
 *
 * - only this MCP server's own client (provisioned by the development server, see
 *   gateway-client.ts) may exchange, authenticating as a confidential client;
 * - the subject token must be an access token this server issued for the MCP server
 *   (signature, issuer, audience, expiry), so a token for anything else cannot be traded;
 * - the target (`audience`, or `resource`) must be a configured backend;
 * - the new token carries the requested scopes (by default all of the backend's) that the
 *   backend knows AND the user granted in the subject token: an exchange never widens
 *   what the person consented to. Nothing left → `invalid_scope`;
 * - it is a JWT access token (RFC 9068) for the backend: `sub` = the user, `client_id` =
 *   this MCP server's client, `act` = { sub: that client } (RFC 8693 §4.1: who acts for
 *   the user), and it expires with the subject token at the latest.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import type { KoaContextWithOIDC } from 'oidc-provider'
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../backends/token-exchange.ts'
import { SIGNING_ALGORITHM, type DevAuthKeys } from './keys.ts'
import type { OidcProviderModule, Provider } from './provider.ts'

/** The `gty` of exchanged tokens, which `extraTokenClaims` recognises them by. */
export const TOKEN_EXCHANGE_GTY = 'token_exchange'

export interface ExchangeableBackend {
  /** What the exchange names the backend by (`audience`), and the `aud` of its tokens. */
  readonly audience: string
  /** Also accepted as the RFC 8707 `resource` of the exchange. */
  readonly resource?: string | undefined
  /** The scopes the backend knows. */
  readonly scopes: readonly string[]
}

export interface TokenExchangePolicy {
  readonly issuer: string
  /** Audiences of the tokens that may be exchanged: the MCP server's resource identifiers. */
  readonly subjectAudiences: readonly string[]
  readonly backends: readonly ExchangeableBackend[]
  /** The one client allowed to exchange. */
  readonly clientId: string
  /** The development server's signing keys, which signed every token it issued. */
  readonly keys: DevAuthKeys
  readonly accessTokenTtlSeconds: number
}

const PARAMETERS = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope']

function words (value: unknown): string[] {
  return typeof value === 'string' ? value.split(' ').filter((word) => word !== '') : []
}

export function registerTokenExchange (provider: Provider, oidc: OidcProviderModule, policy: TokenExchangePolicy): void {
  const { errors } = oidc
  const publicKeys = new Map<string, KeyObject>(policy.keys.signing.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]))
  const subjectAudiences = new Set(policy.subjectAudiences)
  const targets = policy.backends.map((backend) => backend.audience).join(', ')

  /** The claims of a subject token this server issued for the MCP server; InvalidGrant otherwise. */
  function subjectClaims (token: string): Record<string, unknown> {
    // oidc-provider's InvalidGrant keeps its reason out of the response; a developer wants to read it.
    const refuse = (why: string): never => { throw new errors.CustomOIDCProviderError('invalid_grant', `subject_token ${why}`) }
    const [header = '', payload = '', signature = '', ...rest] = token.split('.')
    if (rest.length > 0 || signature === '') refuse('is not a JWT access token issued by this server')
    let parsed: { header: Record<string, unknown>, claims: Record<string, unknown> } | undefined
    try {
      parsed = {
        header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
        claims: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
      }
    } catch {}
    if (parsed === undefined) return refuse('is not a JWT')
    const key = typeof parsed.header.kid === 'string' ? publicKeys.get(parsed.header.kid) : undefined
    if (parsed.header.alg !== SIGNING_ALGORITHM || key === undefined) return refuse('was not signed by this authorization server')
    if (!verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))) refuse('has an invalid signature')
    const { claims } = parsed
    if (claims.iss !== policy.issuer) refuse(`was issued by ${JSON.stringify(claims.iss)}, not by ${policy.issuer}`)
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : []
    if (!audiences.some((aud) => subjectAudiences.has(aud as string))) refuse(`is for ${audiences.join(', ') || '(no audience)'}, not for the MCP server that exchanges it`)
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) refuse('has expired')
    if (typeof claims.sub !== 'string' || claims.sub === '') refuse('names no subject')
    return claims
  }

  async function tokenExchange (ctx: KoaContextWithOIDC): Promise<void> {
    const { client, params } = ctx.oidc
    if (client === undefined || client.clientId !== policy.clientId) {
      throw new errors.UnauthorizedClient('only the MCP server\'s own client may exchange tokens at this development authorization server')
    }
    const parameters = params as Record<string, unknown>
    if (typeof parameters.subject_token !== 'string' || parameters.subject_token === '') throw new errors.InvalidRequest('missing required parameter \'subject_token\'')
    if (parameters.subject_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`)
    if (parameters.requested_token_type !== undefined && parameters.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}, the only type issued here`)
    }
    if (parameters.actor_token !== undefined) throw new errors.InvalidRequest('actor tokens are not supported: the client is the actor')

    const claims = subjectClaims(parameters.subject_token)

    const audience = typeof parameters.audience === 'string' ? parameters.audience : undefined
    const resource = typeof parameters.resource === 'string' ? parameters.resource : undefined
    if (audience === undefined && resource === undefined) throw new errors.InvalidTarget(`name the backend as the audience (one of ${targets})`)
    const backend = policy.backends.find((candidate) =>
      (audience === undefined || candidate.audience === audience) &&
      (resource === undefined || candidate.resource === resource || (candidate.resource === undefined && candidate.audience === resource)))
    if (backend === undefined) {
      throw new errors.InvalidTarget(`this development authorization server exchanges tokens only for ${targets}; ${audience ?? resource} is not one of them`)
    }

    const requested = parameters.scope === undefined ? [...backend.scopes] : words(parameters.scope)
    const unknown = requested.filter((scope) => !backend.scopes.includes(scope))
    if (unknown.length > 0) throw new errors.InvalidScope(`${unknown.join(' ')} is not a scope of ${backend.audience}`, unknown.join(' '))
    const held = new Set(words(claims.scope))
    const granted = requested.filter((scope) => held.has(scope))
    if (requested.length > 0 && granted.length === 0) {
      throw new errors.InvalidScope(`the user did not grant ${requested.join(' ')} to the client, so it cannot be exchanged for ${backend.audience}`, requested.join(' '))
    }

    // Never outlives the token it was exchanged for.
    const ttl = Math.max(1, Math.min(policy.accessTokenTtlSeconds, (claims.exp as number) - Math.floor(Date.now() / 1000)))
    // No grantId: the exchange stands on the subject token, not on a grant of this client.
    const token = new provider.AccessToken({
      accountId: claims.sub as string,
      client,
      gty: TOKEN_EXCHANGE_GTY,
      ...(granted.length > 0 && { scope: granted.join(' ') }),
      expiresIn: ttl
    } as unknown as ConstructorParameters<Provider['AccessToken']>[0])
    token.resourceServer = new provider.ResourceServer(backend.audience, {
      audience: backend.audience,
      scope: backend.scopes.join(' '),
      accessTokenTTL: ttl,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALGORITHM } }
    })
    ctx.oidc.entity('AccessToken', token)
    const value = await token.save()
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: token.expiration,
      ...(token.scope !== undefined && { scope: token.scope })
    }
  }

  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, tokenExchange, PARAMETERS)
}
