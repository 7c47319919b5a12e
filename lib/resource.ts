/**
 * This server as an OAuth protected resource: where MCP is served and which
 * resource identifiers (token audiences) that makes it.
 */
import { resourceIdentifier } from './auth/challenges.ts'

/** The MCP endpoint is served at /mcp and at the bare origin: people paste either as the connector URL. */
export const MCP_ENDPOINT_PATHS = ['/mcp', '/'] as const

/** Each path's canonical resource identifier; clients send it as the RFC 8707 `resource`, IdPs put it in `aud`. */
export function resourceIdentifiers (publicUrl: string): string[] {
  return MCP_ENDPOINT_PATHS.map((path) => resourceIdentifier(publicUrl, path))
}

/**
 * Audiences a token may carry to be accepted here: the resource identifiers, with and
 * without a trailing slash (some IdPs add or strip one), plus configured extras.
 */
export function acceptedAudiences (publicUrl: string, extra: readonly string[]): string[] {
  const resources = resourceIdentifiers(publicUrl)
  return [...new Set([...resources, ...resources.map((resource) => `${resource}/`), ...extra])]
}
