/**
 * The RFC 7662 introspection endpoint, when one is configured for opaque tokens: it
 * answers, it accepts this server's client credentials, and it speaks RFC 7662 (a
 * made-up token comes back `{"active": false}`). Nothing real is introspected.
 */
import { randomUUID } from 'node:crypto'
import type { Config } from '../config.ts'
import { introspect, IntrospectionUnavailableError } from '../auth/introspection.ts'
import type { Provider } from './providers.ts'
import type { Check } from './report.ts'

export interface IntrospectionSettings {
  readonly url: string
  readonly clientId: string | undefined
  readonly clientSecret: string | undefined
}

/** The introspection settings of the primary issuer, when opaque tokens are configured. */
export function introspectionSettings (config: Config): IntrospectionSettings | undefined {
  if (config.OAUTH_INTROSPECTION_URL === undefined) return undefined
  return { url: config.OAUTH_INTROSPECTION_URL, clientId: config.OAUTH_CLIENT_ID, clientSecret: config.OAUTH_CLIENT_SECRET }
}

const SECTION = 'Introspection (opaque tokens)'

function credentialsFix (provider: Provider | undefined): string {
  switch (provider?.id) {
    case 'okta': return 'set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET to a confidential app integration of the same authorization server (client authentication "Client secret").'
    case 'keycloak': return 'set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET to a confidential client of the realm ("Client authentication" on), from its Credentials tab.'
    default: return 'set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET to a confidential client the IdP allows to introspect tokens.'
  }
}

export async function checkIntrospection (settings: IntrospectionSettings, provider: Provider | undefined, metadata: Record<string, unknown> | undefined): Promise<Check[]> {
  const checks: Check[] = []
  const add = (id: string, status: Check['status'], message: string, fix?: string) => checks.push({ id, section: SECTION, status, message, ...(fix !== undefined && { fix }) })
  const advertised = typeof metadata?.introspection_endpoint === 'string' ? metadata.introspection_endpoint : undefined
  if (advertised !== undefined && advertised !== settings.url) {
    add('introspection-endpoint', 'warn', `OAUTH_INTROSPECTION_URL is ${settings.url} but the issuer's metadata names ${advertised}.`, `set OAUTH_INTROSPECTION_URL=${advertised} unless you mean another endpoint.`)
  }
  if (settings.clientId === undefined || settings.clientSecret === undefined) {
    add('introspection', 'fail', `OAUTH_INTROSPECTION_URL is set but ${settings.clientId === undefined ? 'OAUTH_CLIENT_ID' : 'OAUTH_CLIENT_SECRET'} is not: the endpoint will refuse the server.`, credentialsFix(provider))
    return checks
  }

  // The server's own introspection client, so the check cannot drift from what the server does.
  let answer: Record<string, unknown>
  try {
    answer = await introspect({ url: settings.url, clientId: settings.clientId, clientSecret: settings.clientSecret }, `mcp-gateway-doctor-${randomUUID()}`)
  } catch (error) {
    if (!(error instanceof IntrospectionUnavailableError)) throw error
    const answered = error.status === undefined ? '' : `HTTP ${error.status}`
    if (error.failure === 'credentials') {
      add('introspection', 'fail', `The introspection endpoint refuses the client credentials (${answered}).`, credentialsFix(provider))
    } else if (error.failure === 'unreachable') {
      add('introspection', 'fail', `The introspection endpoint ${settings.url} cannot be reached: ${(error.cause as Error | undefined)?.cause ?? error.message}.`,
        advertised === undefined ? 'check OAUTH_INTROSPECTION_URL and that this host can reach it.' : `check that this host can reach it; the issuer names ${advertised}.`)
    } else {
      add('introspection', 'fail', `${settings.url} does not answer as an RFC 7662 introspection endpoint (${answered}${/not JSON/.test(error.message) ? ', not JSON' : ', no "active" member'}).`,
        provider?.id === 'google'
          ? 'Google has no RFC 7662 endpoint (its tokeninfo endpoint is a different protocol): see docs/google.md.'
          : `point OAUTH_INTROSPECTION_URL at the IdP's RFC 7662 endpoint${advertised === undefined ? '' : ` (its metadata names ${advertised})`}.`)
    }
    return checks
  }
  if (answer.active === false) {
    add('introspection', 'pass', `Introspection: ${settings.url} accepts the client credentials and answers as RFC 7662 describes`)
  } else {
    add('introspection', 'fail', 'The introspection endpoint says a made-up token is active: it would let any token in.', 'point OAUTH_INTROSPECTION_URL at the IdP\'s real RFC 7662 endpoint.')
  }
  return checks
}
