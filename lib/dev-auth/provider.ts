/**
 * The oidc-provider configuration of the development authorization server: what MCP
 * clients need and nothing else.
 *
 * - Discovery (RFC 8414 and OIDC), open Dynamic Client Registration, Client ID Metadata
 *   Documents, authorization code with PKCE (S256, always required), refresh tokens
 *   rotated on every use.
 * - Resource indicators (RFC 8707): tokens are JWTs whose `aud` is the requested
 *   resource, which must be one of this MCP server's resource identifiers; a request
 *   without `resource` gets the first one, and one without `scope` gets every tool scope.
 * - Every authorization starts a new sign-in session: the person types a name (any name)
 *   and picks the scopes to grant, every time. Signing in as someone else is typing
 *   another name, and a client asking again for a scope declined before (step-up) gets
 *   the consent page again.
 */
import type { Adapter, ClientMetadata, Configuration, default as ProviderType } from 'oidc-provider'
import type { ClientCredentials } from '../backends/token-exchange.ts'
import { TOKEN_EXCHANGE_GRANT } from '../backends/token-exchange.ts'
import type { DevAuthKeys } from './keys.ts'
import { SIGNING_ALGORITHM } from './keys.ts'
import { redirectUriApplicationType, RedirectUriPolicyError } from './redirect-uri-policy.ts'
import { registerTokenExchange, TOKEN_EXCHANGE_GTY, type ExchangeableBackend } from './token-exchange-grant.ts'

export type OidcProviderModule = typeof import('oidc-provider')
export type Provider = ProviderType

/** Scopes every client may ask for besides the tool scopes. */
export const OIDC_SCOPES = ['openid', 'offline_access'] as const

/**
 * oidc-provider is a devDependency: production images do not carry it, and it is only
 * imported when the embedded server is about to run.
 */
export async function loadOidcProvider (importer: () => Promise<OidcProviderModule> = () => import('oidc-provider')): Promise<OidcProviderModule> {
  // On import, oidc-provider warns about any Node release not flagged LTS, which includes
  // the Node 26 this project pins; that one line would only alarm people on `npm start`.
  const warn = console.warn
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return
    warn.apply(console, args)
  }
  try {
    return await importer()
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException
    if (code === 'ERR_MODULE_NOT_FOUND' && message.includes('oidc-provider')) {
      throw new Error('The embedded development authorization server needs the oidc-provider package, a devDependency that is not installed here: ' +
        'run `npm install` with dev dependencies, or set OAUTH_ISSUER to your identity provider', { cause: error })
    }
    throw error
  } finally {
    console.warn = warn
  }
}

export interface DevProviderOptions {
  /** The issuer, e.g. `http://localhost:3000/oauth`; its path is where the provider is mounted. */
  readonly issuer: string
  /** Resource indicators a client may request; each becomes the `aud` of its tokens. The first is the default. */
  readonly resources: readonly string[]
  /** The tool scopes (from the tool registry), in the order to show them. */
  readonly scopes: readonly string[]
  readonly keys: DevAuthKeys
  readonly adapter: (model: string) => Adapter
  readonly accessTokenTtlSeconds: number
  /** Renders oidc-provider's own error pages. */
  readonly renderError: NonNullable<Configuration['renderError']>
  /** How Client ID Metadata Documents are fetched; the global fetch by default (tests stub it). */
  readonly fetch?: Configuration['fetch']
  /** Token exchange (RFC 8693) for these backends, by this one client (the MCP server's own). */
  readonly tokenExchange?: DevTokenExchange | undefined
}

export interface DevTokenExchange {
  readonly client: ClientCredentials
  readonly backends: readonly ExchangeableBackend[]
}

/** The MCP server's own client, allowed the token-exchange grant and nothing else. */
function exchangeClient (client: ClientCredentials): ClientMetadata {
  const authentication = 'clientSecret' in client
    ? { client_secret: client.clientSecret, token_endpoint_auth_method: 'client_secret_basic' as const }
    : { token_endpoint_auth_method: 'private_key_jwt' as const, token_endpoint_auth_signing_alg: client.privateKey.alg, jwks: { keys: [{ ...client.privateKey.publicJwk }] } }
  return {
    client_id: client.clientId,
    client_name: 'MCP Gateway (token exchange)',
    grant_types: [TOKEN_EXCHANGE_GRANT],
    response_types: [],
    redirect_uris: [],
    ...authentication
  }
}

const DAY = 24 * 60 * 60

/** The path the provider is mounted at: the issuer's path without a trailing slash (`/oauth`). */
export function mountPathOf (issuer: string): string {
  return new URL(issuer).pathname.replace(/\/$/, '')
}

export function createDevProvider (oidc: OidcProviderModule, options: DevProviderOptions): Provider {
  const { Provider, errors } = oidc
  const { issuer, resources, scopes, keys, adapter, accessTokenTtlSeconds, renderError, fetch, tokenExchange } = options
  const mountPath = mountPathOf(issuer)
  const [defaultResource] = resources
  if (defaultResource === undefined) throw new Error('the development authorization server needs at least one resource identifier')
  const acceptedResources = new Set(resources)
  const toolScopes = [...scopes]

  const configuration: Configuration = {
    adapter,
    jwks: { keys: keys.signing.map((jwk) => ({ ...jwk })) },
    cookies: {
      keys: [...keys.cookieKeys],
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' }
    },
    scopes: [...OIDC_SCOPES, ...toolScopes],
    claims: { openid: ['sub'] },
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    ...(tokenExchange !== undefined && { clients: [exchangeClient(tokenExchange.client)] }),
    // Exchanged tokens name the MCP server as the party acting for the user (RFC 8693 §4.1).
    extraTokenClaims: (_ctx, token) => 'gty' in token && token.gty === TOKEN_EXCHANGE_GTY ? { act: { sub: token.clientId } } : undefined,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // The resource server takes Bearer tokens only: no DPoP-bound ones.
      dPoP: { enabled: false },
      // Authorization requests arrive as plain redirects (where the default scope is applied).
      pushedAuthorizationRequests: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? defaultResource,
        // The token request may omit `resource`: the one granted at authorization applies.
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (!acceptedResources.has(resourceIndicator)) {
            throw new errors.InvalidTarget(`this development authorization server only issues tokens for ${resources.join(', ')}; ${resourceIndicator} is not one of them`)
          }
          return {
            scope: toolScopes.join(' '),
            audience: resourceIndicator,
            accessTokenTTL: accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: SIGNING_ALGORITHM } }
          }
        }
      }
    },
    extraClientMetadata: {
      // RFC 7591 fields MCP clients send (kept instead of stripped); their validator is the
      // one hook oidc-provider runs before its own checks, so it applies the redirect URI policy.
      properties: ['software_id', 'software_version'],
      validator (_ctx, key, _value, metadata) {
        if (key !== 'software_id' || !Array.isArray(metadata.redirect_uris)) return
        try {
          metadata.application_type = redirectUriApplicationType(metadata.redirect_uris, metadata.application_type)
        } catch (error) {
          if (error instanceof RedirectUriPolicyError) throw new errors.InvalidClientMetadata(error.message)
          throw error
        }
      }
    },
    interactions: {
      url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}`
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    // Refresh tokens for clients registered for them, unless the person unticked offline_access.
    issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token') &&
      !(ctx.oidc.entities.Grant?.getRejectedOIDCScope().split(' ').includes('offline_access') ?? false),
    rotateRefreshToken: () => true,
    expiresWithSession: () => false,
    clientBasedCORS: (_ctx, origin, client) => client.clientAuthMethod === 'none' && client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) === true,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtlSeconds,
      AuthorizationCode: 60,
      IdToken: 60 * 60,
      Interaction: 60 * 60,
      // A session lasts one authorization (see below).
      Session: 60 * 60,
      Grant: 14 * DAY,
      RefreshToken: 14 * DAY
    },
    renderError,
    ...(fetch !== undefined && { fetch })
  }

  const provider = new Provider(issuer, configuration)
  if (tokenExchange !== undefined) {
    registerTokenExchange(provider, oidc, {
      issuer,
      subjectAudiences: resources,
      backends: tokenExchange.backends,
      clientId: tokenExchange.client.clientId,
      keys,
      accessTokenTtlSeconds
    })
  }
  const sessionCookie = provider.cookieName('session')
  const sessionCookies = new Set([sessionCookie, `${sessionCookie}.sig`])
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      // A new session for every authorization request: the login and consent pages always
      // show, and a different name is simply another user. (A remembered session would
      // make a different name go through oidc-provider's sign-out confirmation, a page
      // that needs JavaScript or an extra click, and would skip consent for scopes
      // declined before, so step-up could never widen the grant.) The old session is
      // ignored here and dropped from the browser, so the rest of the flow does not see it.
      const cookie = ctx.get('cookie')
      if (cookie !== '') {
        const kept = cookie.split(';').filter((pair) => !sessionCookies.has(pair.split('=')[0]?.trim() ?? ''))
        if (kept.length !== cookie.split(';').length) {
          ctx.req.headers.cookie = kept.join(';')
          ctx.cookies.set(sessionCookie, null, { signed: true })
        }
      }
      // No scope asked for: every tool scope.
      if (ctx.query.scope === undefined || ctx.query.scope === '') ctx.query = { ...ctx.query, scope: toolScopes.join(' ') }
    }
    await next()
  })
  return provider
}
