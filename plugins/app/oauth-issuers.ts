import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { listOf } from '../../lib/config.ts'
import { acceptedAudiences } from '../../lib/resource.ts'
import { TrustedIssuer } from '../../lib/auth/trusted-issuer.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The authorization servers whose tokens this server accepts. */
    issuers: readonly TrustedIssuer[]
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
      : { url: config.OAUTH_INTROSPECTION_URL, clientId: config.OAUTH_CLIENT_ID ?? '', clientSecret: config.OAUTH_CLIENT_SECRET ?? '' }
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

  // Warm the keys once the server listens (an embedded issuer is only reachable then);
  // until they load, /readyz says not ready and verification fetches them on demand.
  fastify.addHook('onListen', async () => {
    for (const trusted of fastify.issuers) {
      trusted.keys.refresh().catch((error: Error) => {
        fastify.log.error({ issuer: trusted.issuer, err: error }, 'could not load the signing keys of a trusted issuer; tokens cannot be verified until it answers')
      })
    }
  })
}

export default fp(oauthIssuers, { name: 'oauth-issuers', dependencies: ['config', 'health'] })
