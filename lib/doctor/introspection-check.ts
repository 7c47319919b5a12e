/**
 * The RFC 7662 introspection endpoint, when one is configured for opaque tokens: it
 * answers, it accepts this server's client credentials, and it speaks RFC 7662 (a
 * made-up token comes back `{"active": false}`). Nothing real is introspected.
 */
import { randomUUID } from 'node:crypto'
import type { Config } from '../config.ts'
import { IDP_FETCH_TIMEOUT_MS } from '../auth/fetch-json.ts'
import type { Provider } from './providers.ts'
import type { Check } from './report.ts'

export interface IntrospectionSettings {
  readonly url: string
  readonly clientId: string | undefined
  readonly clientSecret: string | undefined
}

type IntrospectionConfig = Config & Partial<Record<'OAUTH_INTROSPECTION_URL' | 'OAUTH_CLIENT_ID' | 'OAUTH_CLIENT_SECRET', unknown>>

const text = (value: unknown) => typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined

/**
 * Introspection settings, read by name: they arrive with opaque-token support, and a
 * configuration without them (or a version of the schema that does not know them)
 * simply has none.
 */
export function introspectionSettings (config: Config): IntrospectionSettings | undefined {
  const settings = config as IntrospectionConfig
  const url = text(settings.OAUTH_INTROSPECTION_URL)
  if (url === undefined) return undefined
  return { url, clientId: text(settings.OAUTH_CLIENT_ID), clientSecret: text(settings.OAUTH_CLIENT_SECRET) }
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

  // RFC 6749 §2.3.1: form-encode both halves before joining them for Basic authentication.
  const basic = Buffer.from(`${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`).toString('base64')
  let response: Response
  try {
    response = await fetch(settings.url, {
      method: 'POST',
      redirect: 'error',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ token: `mcp-gateway-doctor-${randomUUID()}`, token_type_hint: 'access_token' }),
      signal: AbortSignal.timeout(IDP_FETCH_TIMEOUT_MS)
    })
  } catch (error) {
    add('introspection', 'fail', `The introspection endpoint ${settings.url} cannot be reached: ${(error as Error).cause ?? (error as Error).message}.`,
      advertised === undefined ? 'check OAUTH_INTROSPECTION_URL and that this host can reach it.' : `check that this host can reach it; the issuer names ${advertised}.`)
    return checks
  }
  const body = await response.text()
  let answer: unknown
  try {
    answer = JSON.parse(body)
  } catch {
    answer = undefined
  }
  if (response.status === 401 || response.status === 403) {
    add('introspection', 'fail', `The introspection endpoint refuses the client credentials (HTTP ${response.status}).`, credentialsFix(provider))
  } else if (response.ok && typeof answer === 'object' && answer !== null && (answer as { active?: unknown }).active === false) {
    add('introspection', 'pass', `Introspection: ${settings.url} accepts the client credentials and answers as RFC 7662 describes`)
  } else if (response.ok && typeof answer === 'object' && answer !== null && (answer as { active?: unknown }).active === true) {
    add('introspection', 'fail', `The introspection endpoint says a made-up token is active: it would let any token in.`, 'point OAUTH_INTROSPECTION_URL at the IdP\'s real RFC 7662 endpoint.')
  } else {
    add('introspection', 'fail', `${settings.url} does not answer as an RFC 7662 introspection endpoint (HTTP ${response.status}${answer === undefined ? ', not JSON' : ', no "active" member'}).`,
      provider?.id === 'google'
        ? 'Google has no RFC 7662 endpoint (its tokeninfo endpoint is a different protocol): see docs/google.md.'
        : `point OAUTH_INTROSPECTION_URL at the IdP's RFC 7662 endpoint${advertised === undefined ? '' : ` (its metadata names ${advertised})`}.`)
  }
  return checks
}
