/**
 * Discovery documents (no auth here): Protected Resource Metadata (RFC 9728) for each
 * MCP path, mirrors of the issuer's own authorization-server metadata for 2025-03-26
 * clients that look for it at this origin, and, when this server signs assertions for
 * backends, the public keys backends verify them with (`/.well-known/jwks.json`).
 * Readable cross-origin, since browser-based clients (MCP Inspector) fetch them from
 * another origin.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import createError from '@fastify/error'
import { refusal } from '../../lib/errors.ts'
import { resourceIdentifier } from '../../lib/auth/challenges.ts'
import type { MetadataKind } from '../../lib/auth/issuer-metadata.ts'
import { MCP_ENDPOINT_PATHS } from '../../lib/resource.ts'

const MetadataNotServedError = refusal('MCPGW_METADATA_NOT_SERVED', 'The authorization server %s does not publish %s', 404)
const MetadataUnavailableError = createError('MCPGW_METADATA_UNAVAILABLE', 'The authorization server metadata could not be fetched: %s', 502)

function allowAnyOrigin (reply: FastifyReply): FastifyReply {
  return reply.headers({
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, OPTIONS',
    // Browser clients send MCP-Protocol-Version on discovery requests.
    'access-control-allow-headers': 'mcp-protocol-version, content-type, authorization',
    'access-control-max-age': '86400'
  })
}

const wellKnownRoutes: FastifyPluginAsync = async (fastify) => {
  const { config, issuers, tools, backends } = fastify

  const documents: Array<[string, () => Promise<unknown>]> = []
  for (const path of MCP_ENDPOINT_PATHS) {
    const suffix = path === '/' ? '' : path
    const prm = {
      resource: resourceIdentifier(config.PUBLIC_URL, path),
      authorization_servers: issuers.map((trusted) => trusted.issuer),
      scopes_supported: tools.scopes,
      bearer_methods_supported: ['header'],
      resource_name: config.RESOURCE_NAME
    }
    documents.push([`/.well-known/oauth-protected-resource${suffix}`, async () => prm])
  }
  for (const kind of ['oauth-authorization-server', 'openid-configuration'] satisfies MetadataKind[]) {
    documents.push([`/.well-known/${kind}`, async () => {
      // Mirrors the first trusted issuer: the one PRM lists first.
      const [primary] = issuers
      if (primary === undefined) throw new MetadataNotServedError('(none configured)', kind)
      let found
      try {
        found = await primary.mirror(kind)
      } catch (error) {
        throw new MetadataUnavailableError((error as Error).message)
      }
      if (found === undefined) throw new MetadataNotServedError(primary.issuer, kind)
      return found.metadata
    }])
  }

  const { signer } = backends
  if (signer !== undefined) {
    // Every key of the set, the signing one first: a verifier that meets an unknown kid refetches.
    const jwks = { keys: signer.jwks.keys.map((key) => ({ ...key })) }
    documents.push(['/.well-known/jwks.json', async () => jwks])
  }

  for (const [url, document] of documents) {
    fastify.get(url, async (_request, reply) => {
      allowAnyOrigin(reply).header('cache-control', 'public, max-age=300')
      return document()
    })
    fastify.options(url, async (_request, reply) => allowAnyOrigin(reply).code(204).send())
  }
}

export default wellKnownRoutes
