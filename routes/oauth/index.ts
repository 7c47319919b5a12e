/**
 * Mounts the embedded development authorization server at PUBLIC_URL/oauth when no
 * identity provider is configured (OAUTH_ISSUER unset, never in production; see
 * lib/config.ts). With OAUTH_ISSUER set this plugin adds nothing.
 */
import { resolve } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyPluginAsync } from 'fastify'
import { usesEmbeddedIssuer } from '../../lib/config.ts'
import { acceptedAudiences } from '../../lib/resource.ts'
import authorizationServer from '../../lib/dev-auth/authorization-server.ts'
import { devGatewayClient } from '../../lib/dev-auth/gateway-client.ts'
import { startupGuide } from '../../lib/dev-auth/startup-guide.ts'

const oauthRoutes: FastifyPluginAsync = async (fastify) => {
  const { config, tools } = fastify
  if (!usesEmbeddedIssuer(config)) return
  const exchangeable = (config.BACKENDS ?? []).filter((backend) => backend.mode === 'token-exchange')

  await fastify.register(authorizationServer, {
    issuer: config.OAUTH_ISSUER,
    // This server's resource identifiers (with and without a trailing slash); `/mcp` is the default.
    resources: acceptedAudiences(config.PUBLIC_URL, []),
    tools: tools.summaries,
    dataDir: resolve(config.DEV_AUTH_DATA_DIR),
    accessTokenTtlSeconds: config.DEV_AUTH_TOKEN_TTL_S,
    resourceName: config.RESOURCE_NAME,
    // The same client the backends plugin exchanges tokens as.
    tokenExchange: exchangeable.length === 0
      ? undefined
      : { client: await devGatewayClient(config), backends: exchangeable.map(({ audience, resource, scopes = [] }) => ({ audience, resource, scopes })) }
  })

  fastify.addHook('onListen', async () => {
    const address = fastify.server.address() as AddressInfo | null
    for (const { level, message } of startupGuide({ publicUrl: config.PUBLIC_URL, issuer: config.OAUTH_ISSUER, port: address?.port ?? config.PORT })) {
      fastify.log[level](message)
    }
  })
}

export default oauthRoutes
