/**
 * Authorization-server metadata discovery: RFC 8414 first, then OpenID Connect
 * Discovery, in the order MCP clients probe them. The document must name exactly
 * the configured issuer (RFC 8414 §3.3), or nothing it says is trusted.
 */
import { fetchJson, FetchJsonError, type JsonFetcher } from './fetch-json.ts'

export type MetadataKind = 'oauth-authorization-server' | 'openid-configuration'

export interface AuthorizationServerMetadata {
  issuer: string
  jwks_uri?: string
  [field: string]: unknown
}

export interface DiscoveredMetadata {
  readonly kind: MetadataKind
  readonly url: string
  readonly metadata: AuthorizationServerMetadata
}

/** Well-known URLs for an issuer: path insertion (RFC 8414 §3.1) and OIDC's path appending. */
export function metadataUrls (issuer: string): Array<{ kind: MetadataKind, url: string }> {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const candidates: Array<{ kind: MetadataKind, url: string }> = [
    { kind: 'oauth-authorization-server', url: `${url.origin}/.well-known/oauth-authorization-server${path}` },
    { kind: 'openid-configuration', url: `${url.origin}/.well-known/openid-configuration${path}` },
    { kind: 'openid-configuration', url: `${url.origin}${path}/.well-known/openid-configuration` }
  ]
  return candidates.filter((candidate, index) => candidates.findIndex((c) => c.url === candidate.url) === index)
}

export class IssuerMismatchError extends Error {
  constructor (url: string, found: unknown, expected: string) {
    super(`${url} names issuer ${JSON.stringify(found)}, not ${JSON.stringify(expected)}: set OAUTH_ISSUER to exactly the issuer your IdP puts in tokens (trailing slash included)`)
    this.name = 'IssuerMismatchError'
  }
}

/** Fetches one metadata document; undefined when the IdP does not serve it (404). */
export async function fetchMetadata (issuer: string, kind: MetadataKind, url: string, fetcher: JsonFetcher = fetchJson): Promise<DiscoveredMetadata | undefined> {
  let document: unknown
  try {
    document = await fetcher(url)
  } catch (error) {
    if (error instanceof FetchJsonError && (error.status === 404 || error.status === 400 || error.status === 405)) return undefined
    throw error
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new FetchJsonError(url, 'the metadata is not a JSON object')
  }
  const metadata = document as AuthorizationServerMetadata
  if (metadata.issuer !== issuer) throw new IssuerMismatchError(url, metadata.issuer, issuer)
  return { kind, url, metadata }
}

/** The first metadata document the issuer serves, in MCP client probing order. */
export async function discoverMetadata (issuer: string, fetcher: JsonFetcher = fetchJson): Promise<DiscoveredMetadata> {
  const tried: string[] = []
  for (const { kind, url } of metadataUrls(issuer)) {
    const found = await fetchMetadata(issuer, kind, url, fetcher)
    if (found !== undefined) return found
    tried.push(url)
  }
  throw new Error(`no authorization server metadata for ${issuer} (tried ${tried.join(', ')})`)
}
