/**
 * This server as clients see it: an HTTPS origin, the resource identifiers clients will
 * send (and IdPs must put in `aud`), and, when a server already answers at PUBLIC_URL,
 * whether it publishes the same Protected Resource Metadata.
 */
import type { Config } from '../config.ts'
import { listOf } from '../config.ts'
import { fetchJson } from '../auth/fetch-json.ts'
import { resourceMetadataUrl } from '../auth/challenges.ts'
import { MCP_ENDPOINT_PATHS, resourceIdentifiers } from '../resource.ts'
import type { Check } from './report.ts'

const SECTION = 'Server'
/** A running server is optional: do not wait long for one. */
const PRM_PROBE_TIMEOUT_MS = 3_000

function isLoopback (hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127\./.test(hostname)
}

export function checkPublicUrl (config: Config): Check {
  const url = new URL(config.PUBLIC_URL)
  if (url.protocol === 'https:') return { id: 'public-url', section: SECTION, status: 'pass', message: `PUBLIC_URL ${config.PUBLIC_URL} is HTTPS` }
  if (isLoopback(url.hostname)) {
    return {
      id: 'public-url',
      section: SECTION,
      status: 'warn',
      message: `PUBLIC_URL ${config.PUBLIC_URL} is plain HTTP on this machine: fine for MCP Inspector and local clients, but ChatGPT and Claude cannot reach it.`,
      fix: 'for hosted clients, deploy behind HTTPS (or an HTTPS tunnel) and set PUBLIC_URL=https://<that host>.'
    }
  }
  return {
    id: 'public-url',
    section: SECTION,
    status: 'fail',
    message: `PUBLIC_URL ${config.PUBLIC_URL} is plain HTTP: ChatGPT refuses it, and OAuth 2.1 requires HTTPS outside localhost.`,
    fix: `serve the MCP endpoint over HTTPS (a TLS-terminating proxy is fine) and set PUBLIC_URL=https://${url.host}.`
  }
}

export function checkResources (config: Config): Check {
  const resources = resourceIdentifiers(config.PUBLIC_URL)
  const extra = listOf(config.OAUTH_AUDIENCE)
  return {
    id: 'resources',
    section: SECTION,
    status: 'pass',
    message: 'Clients send the resource of the URL the user pastes (RFC 8707), and tokens must carry it in aud:',
    details: [
      ...MCP_ENDPOINT_PATHS.map((path, index) => `connector URL ${config.PUBLIC_URL}${path === '/' ? '' : path} → resource=${resources[index]}`),
      extra.length > 0 ? `also accepted in aud (OAUTH_AUDIENCE): ${extra.join(', ')}` : 'no other audience is accepted (OAUTH_AUDIENCE is empty)'
    ]
  }
}

/** Compares the metadata a running server publishes at PUBLIC_URL with what this configuration would publish. */
export async function checkPublishedMetadata (config: Config, issuers: readonly string[]): Promise<Check> {
  const url = resourceMetadataUrl(config.PUBLIC_URL, '/mcp')
  const [expected] = resourceIdentifiers(config.PUBLIC_URL)
  let document: unknown
  try {
    document = await fetchJson(url, { signal: AbortSignal.timeout(PRM_PROBE_TIMEOUT_MS) })
  } catch (error) {
    const status = (error as { status?: number }).status
    if (status === undefined) {
      return { id: 'published-metadata', section: SECTION, status: 'skip', message: `No server answers at ${config.PUBLIC_URL} from here (not running yet, or not reachable from this host): its published metadata is not compared` }
    }
    return {
      id: 'published-metadata',
      section: SECTION,
      status: 'warn',
      message: `${url} answers HTTP ${status}: clients will not find this server's Protected Resource Metadata there.`,
      fix: 'check PUBLIC_URL and that the proxy in front forwards /.well-known/ to this server.'
    }
  }
  const prm = (typeof document === 'object' && document !== null ? document : {}) as { resource?: unknown, authorization_servers?: unknown }
  const servers = Array.isArray(prm.authorization_servers) ? prm.authorization_servers : []
  if (prm.resource !== expected) {
    return {
      id: 'published-metadata',
      section: SECTION,
      status: 'warn',
      message: `The server at ${config.PUBLIC_URL} publishes resource ${JSON.stringify(prm.resource)}, not ${expected}: it runs with another PUBLIC_URL, or something else answers there.`,
      fix: `run the server with PUBLIC_URL=${config.PUBLIC_URL} (the origin users paste), and make the proxy pass /.well-known/ through unchanged.`
    }
  }
  if (servers.length !== issuers.length || issuers.some((issuer) => !servers.includes(issuer))) {
    return {
      id: 'published-metadata',
      section: SECTION,
      status: 'warn',
      message: `The server at ${config.PUBLIC_URL} names the authorization servers ${servers.map(String).join(', ') || '(none)'}, not ${issuers.join(', ')}: it runs with another configuration.`,
      fix: 'restart it with this configuration (or run the doctor with the configuration it runs with).'
    }
  }
  return { id: 'published-metadata', section: SECTION, status: 'pass', message: `The server running at ${config.PUBLIC_URL} publishes this same metadata at ${url}` }
}

export async function checkServer (config: Config, issuers: readonly string[]): Promise<Check[]> {
  return [checkPublicUrl(config), checkResources(config), await checkPublishedMetadata(config, issuers)]
}
