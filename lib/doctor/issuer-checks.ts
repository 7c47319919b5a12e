/**
 * Checks of one trusted issuer, as MCP clients and this server will meet it: its
 * metadata (found the way clients probe for it), the exact issuer, the signing keys
 * (loaded by the server's own key store), PKCE, client registration, the tool scopes,
 * and what the detected provider needs on top.
 */
import { fetchJson, FetchJsonError } from '../auth/fetch-json.ts'
import { metadataUrls, type MetadataKind } from '../auth/issuer-metadata.ts'
import { JwksKeyStore } from '../auth/jwks-key-store.ts'
import type { TrustedIssuer } from '../auth/trusted-issuer.ts'
import * as advice from './advice.ts'
import { detectProvider, type Provider } from './providers.ts'
import type { Check, CheckStatus } from './report.ts'

export interface FoundMetadata {
  readonly kind: MetadataKind
  readonly url: string
  readonly document: Record<string, unknown>
}

export interface MetadataProbe {
  readonly found: FoundMetadata | undefined
  /** URLs that answered 404 (or 400/405) before the document was found. */
  readonly notServed: readonly string[]
  /** Why discovery stopped without a document (unreachable, server error, not JSON). */
  readonly error: string | undefined
}

/**
 * The first metadata document in MCP client probing order, as lib/auth/issuer-metadata.ts
 * finds it, but kept even when it names another issuer, so that every other problem
 * of the document is reported in the same run.
 */
export async function probeMetadata (issuer: string): Promise<MetadataProbe> {
  const notServed: string[] = []
  for (const { kind, url } of metadataUrls(issuer)) {
    let document: unknown
    try {
      document = await fetchJson(url)
    } catch (error) {
      if (error instanceof FetchJsonError && (error.status === 404 || error.status === 400 || error.status === 405)) {
        notServed.push(url)
        continue
      }
      return { found: undefined, notServed, error: (error as Error).message }
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) {
      return { found: undefined, notServed, error: `${url}: the metadata is not a JSON object` }
    }
    return { found: { kind, url, document: document as Record<string, unknown> }, notServed, error: undefined }
  }
  return { found: undefined, notServed, error: undefined }
}

export interface IssuerCheckOptions {
  /** This server's origin: an issuer on it is served by this server (the embedded development server). */
  readonly publicUrl: string
  readonly resources: readonly string[]
  readonly scopes: readonly string[]
  /** True when opaque tokens can be introspected: JWT keys are then not the only way in. */
  readonly introspection: boolean
}

export interface IssuerReport {
  readonly checks: Check[]
  readonly provider: Provider | undefined
  readonly metadata: FoundMetadata | undefined
}

const KIND_NAMES: Record<MetadataKind, string> = {
  'oauth-authorization-server': 'RFC 8414 authorization server metadata',
  'openid-configuration': 'OpenID Connect discovery'
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface KeysOutcome { ok: boolean, keys: number, uri: string | undefined, error: unknown }

async function loadKeys (store: JwksKeyStore): Promise<KeysOutcome> {
  try {
    await store.refresh()
    const state = store.state()
    return { ok: true, keys: state.keys, uri: state.jwksUri, error: undefined }
  } catch (error) {
    return { ok: false, keys: 0, uri: store.state().jwksUri, error }
  }
}

export async function checkIssuer (trusted: TrustedIssuer, options: IssuerCheckOptions): Promise<IssuerReport> {
  const { issuer } = trusted
  const probe = await probeMetadata(issuer)
  const document = probe.found?.document ?? {}
  const provider = detectProvider(issuer, document)
  const section = `Issuer ${issuer}${provider === undefined ? '' : ` (${provider.name})`}`
  const ctx: advice.AdviceContext = { issuer, resource: options.resources[0] ?? options.publicUrl, resources: options.resources, scopes: options.scopes }
  const checks: Check[] = []
  const add = (id: string, status: CheckStatus, message: string, fix?: string, details?: string[]) => {
    checks.push({ id, section, status, message, ...(fix !== undefined && { fix }), ...(details !== undefined && details.length > 0 && { details }) })
  }

  // Metadata: what clients read first.
  const found = probe.found
  if (found === undefined) {
    const sameOrigin = new URL(issuer).origin === options.publicUrl
    const message = probe.error !== undefined
      ? `The issuer's metadata cannot be fetched: ${probe.error}`
      : `The issuer publishes no metadata (HTTP 404 at ${probe.notServed.join(', ')})`
    add('issuer-metadata', 'fail', message, advice.issuerUnreachable(provider, ctx, sameOrigin))
  } else {
    add('issuer-metadata', 'pass', `Metadata: ${found.url} (${KIND_NAMES[found.kind]})`)
    if (document.issuer === issuer) {
      add('issuer-match', 'pass', 'Its "issuer" is exactly the configured issuer')
    } else {
      add('issuer-match', 'fail', `${found.url} names the issuer ${JSON.stringify(document.issuer)}, not the configured ${JSON.stringify(issuer)}: every token would be refused.`, advice.issuerMismatch(provider, ctx, document.issuer))
    }
    const missing = ['authorization_endpoint', 'token_endpoint'].filter((field) => typeof document[field] !== 'string')
    const responseTypes = document.response_types_supported
    if (!Array.isArray(responseTypes) || !responseTypes.includes('code')) missing.push('response_types_supported with "code"')
    if (missing.length > 0) add('issuer-endpoints', 'fail', `The metadata lacks ${missing.join(', ')}.`, advice.metadataIncomplete(provider, missing))
  }

  // Signing keys, through the server's own key store (JWKS_URI, else the metadata's jwks_uri).
  let keys = await loadKeys(trusted.keys)
  let fromDocument = false
  if (!keys.ok && keys.uri === undefined && typeof document.jwks_uri === 'string') {
    // The server could not even resolve the key set (metadata unusable): still check the one the document names.
    keys = await loadKeys(new JwksKeyStore(issuer, async () => document.jwks_uri as string))
    fromDocument = true
  }
  const keysFailStatus: CheckStatus = options.introspection ? 'warn' : 'fail'
  const opaqueNote = options.introspection ? ' JWT access tokens cannot be verified (opaque ones still go through introspection).' : ' No token can be verified.'
  if (keys.ok) {
    add('jwks', 'pass', `Signing keys: ${keys.keys} usable key${keys.keys === 1 ? '' : 's'} at ${keys.uri}${fromDocument ? ' (the jwks_uri of the document found)' : ''}`)
  } else if (keys.uri === undefined) {
    if (found === undefined) {
      add('jwks', 'skip', 'Signing keys: not checked (no metadata to find them from, and JWKS_URI is not set)')
    } else if (typeof document.jwks_uri !== 'string') {
      add('jwks', keysFailStatus, `The metadata has no jwks_uri, so the signing keys cannot be found.${opaqueNote}`, advice.noJwksUri(provider, ctx))
    } else {
      add('jwks', keysFailStatus, `Signing keys: ${(keys.error as Error).message}.${opaqueNote}`, advice.jwksUnreachable(provider, ctx, document.jwks_uri))
    }
  } else if (keys.error instanceof FetchJsonError) {
    add('jwks', keysFailStatus, `The key set cannot be fetched: ${keys.error.message}.${opaqueNote}`, advice.jwksUnreachable(provider, ctx, keys.uri))
  } else {
    add('jwks', keysFailStatus, `The key set holds no usable signing key: ${(keys.error as Error).message}.${opaqueNote}`, advice.jwksNoKeys(provider))
  }

  if (found === undefined) {
    add('issuer-capabilities', 'skip', 'PKCE, client registration and scopes: not checked until the metadata can be read')
  } else {
    // PKCE.
    const methods = document.code_challenge_methods_supported
    if (Array.isArray(methods) && methods.includes('S256')) {
      add('pkce', 'pass', 'PKCE: S256 is advertised')
    } else if (Array.isArray(methods)) {
      add('pkce', 'fail', `PKCE: the metadata lists ${methods.length > 0 ? methods.map(String).join(', ') : 'no method'}, not S256.`, advice.pkceWithoutS256(methods))
    } else {
      add('pkce', 'warn', 'PKCE: the metadata does not advertise code_challenge_methods_supported.', advice.pkceNotAdvertised(provider))
    }

    // Client registration: Client ID Metadata Documents, else Dynamic Client Registration, else pre-registration.
    const cimd = document.client_id_metadata_document_supported === true
    const registration = typeof document.registration_endpoint === 'string' ? document.registration_endpoint : undefined
    if (cimd) {
      add('registration', 'pass', `Client registration: Client ID Metadata Documents are supported${registration === undefined ? '' : `, and Dynamic Client Registration at ${registration}`}`)
    } else if (registration !== undefined && provider?.id === 'okta') {
      add('registration', 'warn', `Client registration: ${registration} is not open to MCP clients.`, advice.oktaRegistration())
    } else if (registration !== undefined) {
      const caveat = advice.registrationCaveat(provider)
      add('registration', 'pass', `Client registration: Dynamic Client Registration at ${registration}`, undefined, caveat === undefined ? undefined : [`Check: ${caveat}`])
    } else {
      add('registration', 'warn', 'Client registration: neither a registration_endpoint nor Client ID Metadata Document support, so clients cannot register themselves.', advice.preRegister(provider))
    }

    // Tool scopes, when the IdP publishes what it knows.
    const supported = document.scopes_supported
    if (!Array.isArray(supported)) {
      add('scopes', 'skip', `Scopes: the IdP does not publish scopes_supported; make sure it knows ${options.scopes.join(' ')}`)
    } else {
      const missing = options.scopes.filter((scope) => !supported.includes(scope))
      // These providers never list API scopes there: a missing one proves nothing.
      const expectedOmission = provider !== undefined && ['auth0', 'entra', 'okta', 'cognito'].includes(provider.id)
      if (missing.length === 0) add('scopes', 'pass', `Scopes: ${options.scopes.join(' ')} are all in scopes_supported`)
      else add('scopes', expectedOmission ? 'warn' : 'fail', `Scopes: ${missing.join(' ')} ${missing.length > 1 ? 'are' : 'is'} not in the IdP's scopes_supported.`, advice.scopesMissing(provider, missing))
    }
  }

  checks.push(...providerChecks(provider, trusted, ctx, options, section))
  return { checks, provider, metadata: found }
}

/** What the detected provider needs beyond the generic checks. */
function providerChecks (provider: Provider | undefined, trusted: TrustedIssuer, ctx: advice.AdviceContext, options: IssuerCheckOptions, section: string): Check[] {
  if (provider === undefined) {
    return [{ id: 'provider', section, status: 'skip', message: 'Provider: not recognised; the advice is generic (see docs/troubleshooting.md)' }]
  }
  const checks: Check[] = [{
    id: 'provider',
    section,
    status: 'pass',
    message: `Provider: ${provider.name}${provider.variant === undefined ? '' : ` (${provider.variant})`}, recognised from its URLs; guide: ${provider.guide}`,
    details: advice.providerNotes(provider, ctx).map((note) => `Check: ${note}`)
  }]
  const add = (id: string, status: CheckStatus, message: string, fix: string) => checks.push({ id, section, status, message, fix })
  const extraAudiences = trusted.audiences.filter((aud) => !ctx.resources.some((resource) => aud === resource || aud === `${resource}/`))

  if (provider.id === 'okta' && provider.variant === 'org') {
    add('okta-org-server', 'fail', 'This is the Okta org authorization server: its access tokens are meant for Okta\'s own APIs and cannot carry this server as audience.',
      'create or use a custom authorization server (Security → API → Authorization Servers) and set OAUTH_ISSUER=https://<your-okta-domain>/oauth2/default (or /oauth2/<server-id>).')
  }
  if (provider.id === 'entra') {
    if (provider.variant === 'v2' && !extraAudiences.some((aud) => GUID.test(aud))) {
      add('entra-audience', 'fail', 'Entra ID v2 tokens carry the API\'s Application (client) ID in aud, and OAUTH_AUDIENCE names none: every token would be refused.',
        'set OAUTH_AUDIENCE=<Application (client) ID of the app registration that exposes the API>.')
    }
    if (provider.variant === 'v1') {
      add('entra-v1', 'warn', 'This is the Entra ID v1 issuer (sts.windows.net): v1 tokens carry the Application ID URI in aud and differ from what the v2 endpoints issue.',
        'set "accessTokenAcceptedVersion": 2 in the API\'s app manifest and OAUTH_ISSUER=https://login.microsoftonline.com/<tenant-id>/v2.0, then OAUTH_AUDIENCE=<the API\'s client ID>.')
    }
    add('entra-scopes', 'warn', 'Entra ID reads bare scope names (as this server challenges with) as Microsoft Graph permissions, and rejects a resource parameter that does not match the requested scopes.',
      'clients must request api://<your-api-client-id>/<scope>: pre-register them with those scopes where the client allows it, or put a broker IdP in front (see docs/entra-id.md).')
  }
  if (provider.id === 'google' && !options.introspection) {
    add('google-opaque', 'fail', 'Google issues opaque access tokens meant for Google APIs: this server cannot verify them as JWTs.',
      'use Google as a login option of an IdP that issues JWT access tokens for this server (Auth0, Okta, Keycloak, Entra ID, Cognito), or an RFC 7662 introspection endpoint (see docs/google.md).')
  }
  if (provider.id === 'cognito') {
    add('cognito-audience', 'warn', 'Cognito access tokens carry no aud claim unless the client sends a resource indicator, and this server requires an audience.',
      `use managed login on the Essentials or Plus plan so that resource=${ctx.resource} becomes aud (see docs/cognito.md).`)
  }
  return checks
}
