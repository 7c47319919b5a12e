import type { FastifyPluginAsync } from 'fastify'

/** Liveness and readiness probes (Cloud Run: liveness on /healthz, startup on /readyz). */
const healthRoutes: FastifyPluginAsync = async (fastify) => {
  // Alive: the event loop answers. No dependency is consulted, so a slow IdP never restarts instances.
  // Probes are not rate limited: they come often, from the platform's addresses.
  fastify.get('/healthz', { logLevel: 'warn', config: { rateLimit: false } }, async () => ({ status: 'ok' }))

  fastify.get('/readyz', { logLevel: 'warn', config: { rateLimit: false } }, async (_request, reply) => {
    const { ready, checks } = await fastify.readiness.report()
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })
}

export default healthRoutes
