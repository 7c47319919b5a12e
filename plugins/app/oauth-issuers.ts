import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { listOf, usesEmbeddedIssuer } from '../../lib/config.ts'
import { acceptedAudiences } from '../../lib/resource.ts'
import { fetchJson, FetchJsonError, type JsonFetcher } from '../../lib/auth/fetch-json.ts'
import { TrustedIssuer } from '../../lib/auth/trusted-issuer.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The authorization servers whose tokens this server accepts. */
    issuers: readonly TrustedIssuer[]
  }
}

/**
 * Reads documents this server publishes itself through `fastify.inject`: the embedded
 * development authorization server is verified like any issuer, without this process
 * calling itself through PUBLIC_URL (which may be a tunnel, or not answer yet).
 */
function inProcessFetcher (fastify: FastifyInstance, publicUrl: string): JsonFetcher {
  return async (url) => {
    const target = new URL(url)
    if (target.origin !== publicUrl) return fetchJson(url)
    const response = await fastify.inject({ method: 'GET', url: target.pathname + target.search, headers: { accept: 'application/json' } })
    if (response.statusCode !== 200) throw new FetchJsonError(url, `HTTP ${response.statusCode}`, response.statusCode)
    try {
      return response.json()
    } catch {
      throw new FetchJsonError(url, 'the answer is not JSON', response.statusCode)
    }
  }
}

const oauthIssuers: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  const primary = new TrustedIssuer({
    issuer: config.OAUTH_ISSUER,
    audiences: acceptedAudiences(config.PUBLIC_URL, listOf(config.OAUTH_AUDIENCE)),
    jwksUri: config.JWKS_URI,
    introspection: config.OAUTH_INTROSPECTION_URL === undefined
      ? undefined
      : { url: config.OAUTH_INTROSPECTION_URL, clientId: config.OAUTH_CLIENT_ID ?? '', clientSecret: config.OAUTH_CLIENT_SECRET ?? '' },
    ...(usesEmbeddedIssuer(config) && { fetch: inProcessFetcher(fastify, config.PUBLIC_URL) })
  })
  const extras = (config.OAUTH_EXTRA_ISSUERS ?? []).map((extra) => new TrustedIssuer({
    issuer: extra.issuer,
    audiences: acceptedAudiences(config.PUBLIC_URL, extra.audience ?? []),
    jwksUri: extra.jwksUri,
    introspection: extra.introspectionUrl === undefined
      ? undefined
      : { url: extra.introspectionUrl, clientId: extra.clientId ?? '', clientSecret: extra.clientSecret ?? '' }
  }))
  // The primary first: PRM lists them in this order and the metadata mirrors are the primary's.
  fastify.decorate('issuers', [primary, ...extras])

  fastify.readiness.add('jwks', () => {
    const states = fastify.issuers.map((trusted) => trusted.state())
    return { ready: states.every((state) => state.ready), issuers: states }
  })

  // Warm the keys once the server listens; until they load, /readyz says not ready and
  // verification fetches them on demand.
  fastify.addHook('onListen', async () => {
    for (const trusted of fastify.issuers) {
      trusted.keys.refresh().catch((error: Error) => {
        fastify.log.error({ issuer: trusted.issuer, err: error }, 'could not load the signing keys of a trusted issuer; tokens cannot be verified until it answers')
      })
    }
  })
}

export default fp(oauthIssuers, { name: 'oauth-issuers', dependencies: ['config', 'health'] })
