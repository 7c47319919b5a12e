/**
 * Which identity provider an issuer is, recognised from the shapes of its issuer and
 * endpoint URLs. Host names catch the hosted services; path shapes catch the same
 * products behind custom domains (and make detection testable on loopback).
 */

export type ProviderId = 'auth0' | 'okta' | 'entra' | 'keycloak' | 'google' | 'cognito'

export interface Provider {
  readonly id: ProviderId
  readonly name: string
  /** Entra ID: `v1` or `v2` token endpoint family; Okta: `org` or `custom` authorization server. */
  readonly variant?: string | undefined
  /** The setup guide in docs/. */
  readonly guide: string
}

const GUIDES: Record<ProviderId, string> = {
  auth0: 'docs/auth0.md',
  okta: 'docs/okta.md',
  entra: 'docs/entra-id.md',
  keycloak: 'docs/keycloak.md',
  google: 'docs/google.md',
  cognito: 'docs/cognito.md'
}

const NAMES: Record<ProviderId, string> = {
  auth0: 'Auth0',
  okta: 'Okta',
  entra: 'Microsoft Entra ID',
  keycloak: 'Keycloak',
  google: 'Google',
  cognito: 'AWS Cognito'
}

const ENTRA_HOSTS = /^(login\.microsoftonline\.(com|us)|login\.partner\.microsoftonline\.cn|login\.chinacloudapi\.cn|sts\.windows\.net|sts\.chinacloudapi\.cn)$|\.ciamlogin\.com$|\.b2clogin\.com$/
const OKTA_HOSTS = /\.(okta|oktapreview|okta-emea|okta-gov)\.com$/
const COGNITO_ISSUER_HOST = /^cognito-idp\.[a-z0-9-]+\.amazonaws\.com$/

function parts (value: unknown): { host: string, path: string } {
  if (typeof value !== 'string') return { host: '', path: '' }
  try {
    const url = new URL(value)
    return { host: url.hostname.toLowerCase(), path: url.pathname }
  } catch {
    return { host: '', path: '' }
  }
}

function provider (id: ProviderId, variant?: string): Provider {
  return { id, name: NAMES[id], variant, guide: GUIDES[id] }
}

/** The provider behind an issuer, from its URL and (when fetched) its metadata; undefined when not recognised. */
export function detectProvider (issuer: string, metadata: Record<string, unknown> = {}): Provider | undefined {
  const iss = parts(issuer)
  const authorize = parts(metadata.authorization_endpoint)
  const jwks = parts(metadata.jwks_uri)
  const registration = parts(metadata.registration_endpoint)
  const token = parts(metadata.token_endpoint)

  if (iss.host === 'accounts.google.com') return provider('google')
  if (COGNITO_ISSUER_HOST.test(iss.host) || authorize.host.endsWith('.amazoncognito.com')) return provider('cognito')
  if (ENTRA_HOSTS.test(iss.host) || /\/oauth2\/v2\.0\/authorize$/.test(authorize.path) || /\/discovery\/(v2\.0\/)?keys$/.test(jwks.path)) {
    return provider('entra', /\/v2\.0\/?$/.test(iss.path) ? 'v2' : 'v1')
  }
  if (OKTA_HOSTS.test(iss.host) || /^\/oauth2\/([^/]+\/)?v1\/authorize$/.test(authorize.path)) {
    return provider('okta', /^\/oauth2\/[^/]+\/?$/.test(iss.path) ? 'custom' : 'org')
  }
  if (/\/realms\/[^/]+\/?$/.test(iss.path) || authorize.path.includes('/protocol/openid-connect/auth')) return provider('keycloak')
  if (iss.host.endsWith('.auth0.com') || typeof metadata.mfa_challenge_endpoint === 'string' ||
    (registration.path === '/oidc/register' && token.path === '/oauth/token')) return provider('auth0')
  return undefined
}

/** Redirect URIs to pre-register for the common clients, as they use them today (ChatGPT shows its exact one per app). */
export const CLIENT_REDIRECT_URIS = {
  claude: 'https://claude.ai/api/mcp/auth_callback',
  chatgpt: 'https://chatgpt.com/connector/oauth/<id> (ChatGPT shows the exact URL when you add the app; older apps use https://chatgpt.com/connector_platform_oauth_redirect)',
  inspector: 'http://localhost:6274/oauth/callback'
} as const
