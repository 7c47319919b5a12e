/**
 * One authorization server this resource server trusts: its metadata (discovered
 * once, cached) and its signing keys. The well-known plugin mirrors the metadata
 * for 2025-03-26 clients; the auth plugin verifies tokens with the keys.
 */
import { discoverMetadata, fetchMetadata, metadataUrls, type DiscoveredMetadata, type MetadataKind } from './issuer-metadata.ts'
import { fetchJson, type JsonFetcher } from './fetch-json.ts'
import { JwksKeyStore, REFETCH_INTERVAL_MS, type JwksState } from './jwks-key-store.ts'
import type { IntrospectionEndpoint } from './introspection.ts'

const MIRROR_TTL_MS = 60 * 60_000

interface Cached<T> { value: T, at: number }

export interface TrustedIssuerOptions {
  readonly issuer: string
  /** Accepted `aud` values for tokens of this issuer. */
  readonly audiences: readonly string[]
  /** Skips metadata discovery for keys (JWKS_URI). */
  readonly jwksUri?: string | undefined
  /** Where opaque tokens of this issuer are introspected, and as which client. */
  readonly introspection?: IntrospectionEndpoint | undefined
  /**
   * How the issuer's documents are read; the network by default. The embedded development
   * authorization server is read in-process, so the same checks apply without this server
   * calling itself through PUBLIC_URL (which may be a tunnel).
   */
  readonly fetch?: JsonFetcher | undefined
}

export interface IssuerState extends JwksState {
  issuer: string
  metadataUrl: string | undefined
}

export class TrustedIssuer {
  readonly issuer: string
  readonly audiences: readonly string[]
  readonly keys: JwksKeyStore
  readonly introspection: IntrospectionEndpoint | undefined
  #discovered: Promise<DiscoveredMetadata> | undefined
  #discoveredUrl: string | undefined
  #discoveryFailedAt = 0
  readonly #mirrors = new Map<MetadataKind, Cached<DiscoveredMetadata | undefined>>()
  readonly #fetch: JsonFetcher

  constructor ({ issuer, audiences, jwksUri, introspection, fetch = fetchJson }: TrustedIssuerOptions) {
    this.issuer = issuer
    this.audiences = audiences
    this.introspection = introspection
    this.#fetch = fetch
    this.keys = new JwksKeyStore(issuer, async () => {
      if (jwksUri !== undefined) return jwksUri
      const { metadata, url } = await this.metadata()
      if (typeof metadata.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri: set JWKS_URI to the issuer's key set URL`)
      return metadata.jwks_uri
    }, fetch)
  }

  /** The issuer's metadata (RFC 8414, else OIDC), fetched once; a failure is retried after REFETCH_INTERVAL_MS. */
  metadata (): Promise<DiscoveredMetadata> {
    if (this.#discovered === undefined || (this.#discoveryFailedAt !== 0 && Date.now() - this.#discoveryFailedAt >= REFETCH_INTERVAL_MS)) {
      this.#discoveryFailedAt = 0
      this.#discovered = discoverMetadata(this.issuer, this.#fetch).then((found) => {
        this.#discoveredUrl = found.url
        return found
      }, (error: unknown) => {
        this.#discoveryFailedAt = Date.now()
        throw error
      })
    }
    return this.#discovered
  }

  /**
   * One of the issuer's own metadata documents, for mirroring at this server's origin.
   * Never invented: undefined when the issuer does not serve that kind; a stale copy when it is unreachable.
   */
  async mirror (kind: MetadataKind): Promise<DiscoveredMetadata | undefined> {
    const cached = this.#mirrors.get(kind)
    if (cached !== undefined && Date.now() - cached.at < MIRROR_TTL_MS) return cached.value
    try {
      let found: DiscoveredMetadata | undefined
      for (const candidate of metadataUrls(this.issuer).filter((c) => c.kind === kind)) {
        found = await fetchMetadata(this.issuer, kind, candidate.url, this.#fetch)
        if (found !== undefined) break
      }
      this.#mirrors.set(kind, { value: found, at: Date.now() })
      return found
    } catch (error) {
      if (cached !== undefined) return cached.value
      throw error
    }
  }

  state (): IssuerState {
    return { issuer: this.issuer, metadataUrl: this.#discoveredUrl, ...this.keys.state() }
  }
}
