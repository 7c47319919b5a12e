/**
 * What to change, per problem and per provider: the "Fix:" half of each doctor line.
 * Generic advice first, then what the detected provider needs. Where a console label
 * is uncertain the text says what to look for rather than inventing a menu path; the
 * guides in docs/ carry the step-by-step versions.
 */
import { CLIENT_REDIRECT_URIS, type Provider } from './providers.ts'

export interface AdviceContext {
  /** The configured issuer. */
  readonly issuer: string
  /** `${PUBLIC_URL}/mcp`: the resource identifier clients send for the usual connector URL. */
  readonly resource: string
  /** Every resource identifier of this server (the PRM `resource` values). */
  readonly resources: readonly string[]
  /** Every scope some tool requires. */
  readonly scopes: readonly string[]
}

const list = (values: readonly string[]) => values.join(' ')
const guide = (provider: Provider | undefined) => provider === undefined ? 'docs/troubleshooting.md' : provider.guide

/** Where each provider publishes its keys, for JWKS_URI advice. */
function knownJwksUri (provider: Provider | undefined, issuer: string): string | undefined {
  const base = issuer.replace(/\/$/, '')
  switch (provider?.id) {
    case 'auth0': return `${base}/.well-known/jwks.json`
    case 'okta': return `${base}${provider.variant === 'custom' ? '' : '/oauth2'}/v1/keys`
    case 'keycloak': return `${base}/protocol/openid-connect/certs`
    case 'google': return 'https://www.googleapis.com/oauth2/v3/certs'
    case 'cognito': return `${base}/.well-known/jwks.json`
    case 'entra': return base.replace(/\/v2\.0$/, '').replace(/^https:\/\/sts\.windows\.net\/([^/]+)$/, 'https://login.microsoftonline.com/$1') + '/discovery/v2.0/keys'
    default: return undefined
  }
}

/** What an issuer URL looks like at each provider, for "is OAUTH_ISSUER even right" advice. */
function issuerShape (provider: Provider | undefined): string {
  switch (provider?.id) {
    case 'auth0': return 'https://<tenant>.<region>.auth0.com/ (or your custom domain, with the trailing slash)'
    case 'okta': return 'https://<your-okta-domain>/oauth2/default (a custom authorization server)'
    case 'entra': return 'https://login.microsoftonline.com/<tenant-id>/v2.0'
    case 'keycloak': return 'https://<host>/realms/<realm> (https://<host>/auth/realms/<realm> before Keycloak 17)'
    case 'google': return 'https://accounts.google.com'
    case 'cognito': return 'https://cognito-idp.<region>.amazonaws.com/<user-pool-id>'
    default: return 'the "issuer" value of your IdP\'s /.well-known/openid-configuration'
  }
}

export function issuerMismatch (provider: Provider | undefined, ctx: AdviceContext, found: unknown): string {
  if (typeof found !== 'string' || found === '') {
    return `the document has no "issuer": point OAUTH_ISSUER at the IdP's issuer URL, ${issuerShape(provider)}.`
  }
  if (provider?.id === 'entra' && /\{tenantid\}/i.test(found)) {
    return 'the common/organizations/consumers endpoints publish a template issuer: use your tenant\'s own issuer, OAUTH_ISSUER=https://login.microsoftonline.com/<tenant-id>/v2.0.'
  }
  const slash = found.replace(/\/$/, '') === ctx.issuer.replace(/\/$/, '')
  return `set OAUTH_ISSUER=${found} (exactly as the IdP writes it${slash ? ': the trailing slash differs' : ''}; tokens carry this value in "iss").`
}

export function issuerUnreachable (provider: Provider | undefined, ctx: AdviceContext, sameOriginAsServer: boolean): string {
  if (sameOriginAsServer) {
    return 'this issuer is served by this server itself: start it (npm start) and run the doctor again, or check PUBLIC_URL.'
  }
  return `check that OAUTH_ISSUER is the issuer URL (${issuerShape(provider)}) and that this host can reach it (DNS, proxy, firewall).`
}

export function metadataIncomplete (provider: Provider | undefined, missing: readonly string[]): string {
  return `clients cannot log in without ${missing.join(', ')} in the metadata: check that OAUTH_ISSUER is the authorization server's issuer (${issuerShape(provider)}), not a login page or an API.`
}

export function noJwksUri (provider: Provider | undefined, ctx: AdviceContext): string {
  const known = knownJwksUri(provider, ctx.issuer)
  return `set JWKS_URI to the issuer's key set URL${known === undefined ? '' : `, for ${provider?.name} ${known}`}.`
}

export function jwksUnreachable (provider: Provider | undefined, ctx: AdviceContext, uri: string | undefined): string {
  const known = knownJwksUri(provider, ctx.issuer)
  return `make ${uri ?? 'the key set URL'} reachable from this host (proxy, firewall), or set JWKS_URI to where the IdP really publishes its keys${known !== undefined && known !== uri ? ` (for ${provider?.name}: ${known})` : ''}.`
}

export function jwksNoKeys (provider: Provider | undefined): string {
  switch (provider?.id) {
    case 'auth0': return 'in Auth0, open your API\'s settings and choose RS256 as the signing algorithm (HS256 tokens are signed with a secret this server does not have).'
    case 'keycloak': return 'in the realm\'s keys settings, make sure an active RS256 (or ES256) signing key provider exists.'
    default: return 'configure the IdP to sign access tokens with an asymmetric key (RS256, ES256, EdDSA) published in its JWKS; HS256 (shared secret) tokens cannot be verified here.'
  }
}

export function pkceNotAdvertised (provider: Provider | undefined): string {
  if (provider?.id === 'entra') {
    return 'nothing to change in Entra ID: it supports S256 but does not say so, and has no setting for it. Clients that follow MCP 2025-11-25 to the letter refuse such an IdP; the MCP TypeScript SDK client and most current clients proceed.'
  }
  return 'enable PKCE with S256 in the IdP so that its metadata lists code_challenge_methods_supported: ["S256"] (MCP 2025-11-25 tells clients to refuse an IdP that does not advertise it; the MCP TypeScript SDK client still proceeds).'
}

export function pkceWithoutS256 (methods: readonly unknown[]): string {
  return `the IdP advertises ${methods.length > 0 ? methods.map(String).join(', ') : 'no method'} but MCP clients only use S256, and refuse an IdP that does not list it: enable S256 PKCE in the IdP.`
}

const REDIRECTS = `redirect URIs ${CLIENT_REDIRECT_URIS.claude} (Claude) and ${CLIENT_REDIRECT_URIS.chatgpt}`
const ENTER_CLIENT = 'then enter its client ID (and secret) in the client\'s advanced OAuth settings when you add the connector'

/** Pre-registration, provider-neutral. */
function preRegisterSteps (): string {
  return `pre-register one OAuth client per MCP client (authorization code + PKCE) with ${REDIRECTS}, ${ENTER_CLIENT} (see docs/troubleshooting.md).`
}

/** How to let ChatGPT and Claude in when the IdP has neither open registration nor Client ID Metadata Documents. */
export function preRegister (provider: Provider | undefined): string {
  switch (provider?.id) {
    case 'entra': return `Entra ID has no open registration: create an app registration per client (platform "Web", ${REDIRECTS}), grant it your API's scopes, ${ENTER_CLIENT} (see ${guide(provider)}).`
    case 'google': return `Google has no open registration: create an OAuth client ID of type "Web application" in the Google Cloud console with ${REDIRECTS}, ${ENTER_CLIENT} (see ${guide(provider)}).`
    case 'cognito': return `Cognito has no open registration: create an app client with ${REDIRECTS} as callback URLs and the authorization code grant, ${ENTER_CLIENT} (see ${guide(provider)}).`
    case 'auth0': return `enable Dynamic Client Registration (tenant Settings → Advanced) and promote your login connections to domain level, or create an application per client with ${REDIRECTS}, ${ENTER_CLIENT}.`
    default: return `enable open Dynamic Client Registration or Client ID Metadata Documents in the IdP, or ${preRegisterSteps()}`
  }
}

/** Settings to verify by hand when the IdP lists a registration endpoint (what it lists does not prove anonymous registration works). */
export function registrationCaveat (provider: Provider | undefined): string | undefined {
  switch (provider?.id) {
    case 'auth0': return 'Auth0 lists this endpoint even while registration is off: enable Dynamic Client Registration (tenant Settings → Advanced) and promote the connections users log in with to domain level (dynamically registered apps are third-party apps).'
    case 'keycloak': return 'Keycloak refuses anonymous registration unless the client registration policies allow it: look for the anonymous "Trusted Hosts" policy and add the clients\' hosts (or pre-register the clients).'
    default: return undefined
  }
}

/** Okta's registration endpoint needs an access token: MCP clients register anonymously, so it does not help them. */
export function oktaRegistration (): string {
  return `Okta's registration endpoint only accepts authenticated requests (an access token with okta.clients.register), not the anonymous registration MCP clients attempt: ${preRegisterSteps()}`
}

export function scopesMissing (provider: Provider | undefined, missing: readonly string[]): string {
  const names = list(missing)
  switch (provider?.id) {
    case 'auth0': return `Auth0 lists only OpenID Connect scopes here, so this is expected: define ${names} as permissions of your API (the API's Permissions tab), and enable RBAC with "Add Permissions in the Access Token" if users get them through roles.`
    case 'entra': return `Entra ID lists only OpenID Connect scopes here, so this is expected: add ${names} as scopes under "Expose an API" in the API's app registration.`
    case 'okta': return `add ${names} to the custom authorization server's scopes, and tick "Include in public metadata" (or ignore this if they exist but are unpublished); allow them in an access policy rule.`
    case 'keycloak': return `create client scopes named ${names} (type OpenID Connect) and assign them to the clients as default or optional client scopes; dynamically registered clients only get the scopes the "Allowed Client Scopes" registration policy permits.`
    case 'google': return 'Google only issues scopes of Google APIs; it cannot issue scopes for your tools (see docs/google.md).'
    case 'cognito': return `Cognito names custom scopes <resource-server-identifier>/<scope> and lists only standard scopes here: define a resource server with scopes for ${names}, and name the tool scopes the way they appear in tokens.`
    default: return `define the scopes ${names} in the IdP (clients ask for them, and tokens must carry them for the tools to be usable).`
  }
}

/** Things to verify by hand for each provider (printed under the provider line). */
export function providerNotes (provider: Provider, ctx: AdviceContext): string[] {
  const resource = ctx.resource
  switch (provider.id) {
    case 'auth0': return [
      `API: an Auth0 API whose identifier is ${resource} (OAUTH_AUDIENCE may list another identifier you already use).`,
      'Audience: enable the "Resource Parameter Compatibility Profile" (tenant Settings → Advanced), or make that API the tenant\'s Default Audience; otherwise tokens come without your audience (encrypted, or for /userinfo).',
      `Scopes: ${list(ctx.scopes)} as the API's permissions; "Enable RBAC" + "Add Permissions in the Access Token" when roles grant them.`
    ]
    case 'okta': return [
      `Audience: the custom authorization server's Audience set to ${resource} (or add it to OAUTH_AUDIENCE).`,
      `Scopes: ${list(ctx.scopes)} defined on that authorization server and allowed by an access policy rule.`
    ]
    case 'entra': return [
      'Manifest: "accessTokenAcceptedVersion": 2 (v2 tokens carry the API\'s client ID in aud and the v2.0 issuer).',
      'OAUTH_AUDIENCE: the Application (client) ID of the app registration that exposes the API.',
      `Scopes: ${list(ctx.scopes)} under "Expose an API"; clients must be pre-registered (no open registration).`
    ]
    case 'keycloak': return [
      `Audience: an "Audience" protocol mapper with Included Custom Audience ${resource}, in a client scope every MCP client gets by default (Keycloak does not put the requested resource in aud by itself).`,
      `Scopes: client scopes ${list(ctx.scopes)}; registration: the anonymous client registration policies (Trusted Hosts, Allowed Client Scopes).`
    ]
    case 'google': return [
      'Google access tokens are opaque and meant for Google APIs; they cannot name this server as their audience.'
    ]
    case 'cognito': return [
      `Audience: Cognito access tokens carry no aud unless the client sends a resource indicator (managed login, Essentials or Plus plan); the resource must be ${resource}.`,
      'Scopes: custom scopes look like <resource-server-identifier>/<scope>; no open registration (pre-register app clients).'
    ]
  }
}

/** Why a token was refused, sorted into the problems the doctor can advise on. */
export type TokenProblem =
  | 'jwe' | 'opaque' | 'malformed' | 'algorithm' | 'issuer' | 'key' | 'signature'
  | 'expired' | 'not-yet-valid' | 'clock' | 'audience' | 'subject' | 'too-large' | 'unavailable' | 'other'

/** Sorts the server's own refusal text (lib/auth/token-diagnosis.ts, plugins/app/auth.ts) into a problem. */
export function tokenProblem (status: number, reason: string): TokenProblem {
  if (status === 503) return 'unavailable'
  const rules: Array<[RegExp, TokenProblem]> = [
    [/encrypted \(a JWE\)/, 'jwe'],
    [/not a JWT/, 'opaque'],
    [/larger than/, 'too-large'],
    [/not base64url|malformed|not signed/, 'malformed'],
    [/issued by .*trusts/, 'issuer'],
    [/signed with .*accepted algorithms|algorithm/, 'algorithm'],
    [/signing key .* is not in the JWKS|has no kid/, 'key'],
    [/signature/, 'signature'],
    [/expired/, 'expired'],
    [/not valid before/, 'not-yet-valid'],
    [/issued in the future/, 'clock'],
    [/audience|no aud claim/, 'audience'],
    [/\bsub\b/, 'subject']
  ]
  return rules.find(([pattern]) => pattern.test(reason))?.[1] ?? 'other'
}

const ENTRA_GRAPH_AUDIENCES = new Set(['00000003-0000-0000-c000-000000000000', 'https://graph.microsoft.com'])
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function audienceFix (provider: Provider | undefined, ctx: AdviceContext, audiences: readonly string[]): string {
  const [first] = audiences
  const resource = ctx.resource
  switch (provider?.id) {
    case 'auth0':
      if (audiences.length === 0 || audiences.every((aud) => aud.endsWith('/userinfo'))) {
        return `Auth0 ignored the resource the client asked for: create an API with identifier ${resource} and enable the "Resource Parameter Compatibility Profile" (tenant Settings → Advanced) or make the API the tenant's Default Audience.`
      }
      return `the token is for the Auth0 API ${first}: give the API the identifier ${resource}, or add ${first} to OAUTH_AUDIENCE if that API is this server.`
    case 'entra':
      if (audiences.some((aud) => ENTRA_GRAPH_AUDIENCES.has(aud))) {
        return 'the token is for Microsoft Graph: Entra ID read the bare scope names as Graph permissions; clients must ask for api://<your-api-client-id>/<scope> (see docs/entra-id.md).'
      }
      if (first !== undefined && GUID.test(first)) return `Entra ID v2 puts the API's client ID in aud: set OAUTH_AUDIENCE=${first} (after checking it is your API's Application (client) ID).`
      if (first?.startsWith('api://') === true) return `this is a v1 token (aud ${first}): set "accessTokenAcceptedVersion": 2 in the API's manifest, then OAUTH_AUDIENCE=<its Application (client) ID>.`
      return 'set OAUTH_AUDIENCE to the Application (client) ID of the app registration that exposes the API (v2 tokens carry it in aud).'
    case 'keycloak':
      return `Keycloak does not put the requested resource in aud: add an "Audience" mapper with Included Custom Audience ${resource} to a default client scope of the MCP clients.`
    case 'okta':
      if (first === 'api://default') return `set the Audience of the "default" authorization server to ${resource}, or add api://default to OAUTH_AUDIENCE if that server is dedicated to this MCP server.`
      if (provider.variant === 'org') return 'tokens of the Okta org authorization server are for Okta\'s own APIs: use a custom authorization server (OAUTH_ISSUER=https://<your-okta-domain>/oauth2/default).'
      return `set the custom authorization server's Audience to ${resource}${first === undefined ? '' : `, or add ${first} to OAUTH_AUDIENCE`}.`
    case 'cognito':
      return `Cognito access tokens carry no aud unless the client sends resource=${resource} and your user pool supports resource indicators (managed login, Essentials or Plus plan).`
    default:
      return `make the IdP issue tokens whose aud is ${resource} (the resource clients request)${first === undefined ? '' : `, or add ${first} to OAUTH_AUDIENCE if that audience means this server`}.`
  }
}

export interface TokenAdviceInput {
  readonly problem: TokenProblem
  readonly claims: Record<string, unknown> | undefined
  readonly audiences: readonly string[]
  /** Issuers this server trusts. */
  readonly trustedIssuers: readonly string[]
}

/** The fix for a refused token. */
export function tokenFix (provider: Provider | undefined, ctx: AdviceContext, { problem, claims, audiences, trustedIssuers }: TokenAdviceInput): string {
  const iss = typeof claims?.iss === 'string' ? claims.iss : undefined
  switch (problem) {
    case 'jwe':
      if (provider?.id === 'auth0') return `Auth0 encrypts tokens issued without an API audience: create an API with identifier ${ctx.resource} and enable the "Resource Parameter Compatibility Profile" (tenant Settings → Advanced) or make it the tenant's Default Audience.`
      return `the IdP issued an encrypted token because no API audience was requested: configure an API/resource ${ctx.resource} in the IdP so that it issues signed JWT access tokens for it.`
    case 'opaque':
      if (provider?.id === 'google') return 'Google access tokens are opaque and only Google can read them: see docs/google.md (use Google as a login option of an IdP that issues JWTs for this server, or an RFC 7662 introspection endpoint).'
      if (provider?.id === 'auth0') return `Auth0 issues opaque tokens when no API audience is requested: create an API with identifier ${ctx.resource} and enable the "Resource Parameter Compatibility Profile" or make it the Default Audience.`
      return 'the IdP issued an opaque (non-JWT) token: configure it to issue JWT access tokens for this API, or set OAUTH_INTROSPECTION_URL, OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET so the server can introspect it (RFC 7662).'
    case 'issuer':
      if (provider?.id === 'entra' && iss?.startsWith('https://sts.windows.net/') === true) {
        return 'this is a v1 token: set "accessTokenAcceptedVersion": 2 in the API\'s app manifest so Entra ID issues v2 tokens with the v2.0 issuer.'
      }
      return `the token comes from ${iss ?? 'an unknown issuer'} but this server trusts ${trustedIssuers.join(', ')}: get the token from that issuer${iss === undefined ? '' : `, or set OAUTH_ISSUER=${iss} if that is your IdP`} (exactly, trailing slash included).`
    case 'audience': return audienceFix(provider, ctx, audiences)
    case 'expired': return 'none needed for the configuration: get a fresh token (clients refresh expired tokens by themselves). If fresh tokens are refused too, check this host\'s clock.'
    case 'not-yet-valid':
    case 'clock': return 'check this host\'s clock (NTP) against the IdP\'s; CLOCK_TOLERANCE_S allows some skew.'
    case 'key': return `the token was signed with a key ${iss ?? 'the issuer'} does not publish: it comes from another tenant or environment, or was made by hand. Get a token from ${trustedIssuers.join(', ')}.`
    case 'signature': return 'the token was altered, or signed by another issuer\'s key: get a fresh token from the IdP.'
    case 'algorithm': return 'configure the IdP to sign access tokens with an asymmetric algorithm (RS256, ES256, PS256, EdDSA).'
    case 'subject': return 'the IdP must put the user in "sub": tokens from a client credentials grant have no user, and this server serves users.'
    case 'malformed': return 'pass the access token itself (the value after "Bearer "), not an ID token, a refresh token or a truncated copy.'
    case 'too-large': return 'the token is larger than this server accepts: remove large claims (groups, roles) from the access token in the IdP.'
    case 'unavailable': return 'the server cannot fetch the issuer\'s signing keys: fix the issuer checks above.'
    case 'other': return `see ${guide(provider)}.`
  }
}

export function toolScopeFix (provider: Provider | undefined, missing: readonly string[]): string {
  const names = list(missing)
  const reconnect = 'then reconnect so the client asks for it again'
  switch (provider?.id) {
    case 'auth0': return `add ${names} as a permission of your Auth0 API and grant it (RBAC role or client grant, with "Add Permissions in the Access Token"), ${reconnect}.`
    case 'okta': return `add ${names} to the authorization server's scopes and allow it in the access policy rule, ${reconnect}.`
    case 'entra': return `add ${names} under "Expose an API" and grant it to the client app (API permissions, with consent), ${reconnect}.`
    case 'keycloak': return `assign the client scope ${names} to the client (default, or optional and requested), ${reconnect}.`
    case 'cognito': return `allow ${names} in the app client's custom scopes (named <resource-server>/<scope>), ${reconnect}.`
    default: return `grant ${names} to this client and user in the IdP, ${reconnect}.`
  }
}
