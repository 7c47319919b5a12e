import type { FastifyPluginAsync } from 'fastify'

/** Liveness and readiness probes (Cloud Run: liveness on /healthz, startup on /readyz). */
const healthRoutes: FastifyPluginAsync = async (fastify) => {
  // Alive: the event loop answers. No dependency is consulted, so a slow IdP never restarts instances;
  // nor is it shed under load (a busy instance is not a dead one) or rate limited (probes come often).
  fastify.get('/healthz', { logLevel: 'warn', config: { rateLimit: false, pressureHandler: () => undefined } }, async () => ({ status: 'ok' }))

  fastify.get('/readyz', { logLevel: 'warn', config: { rateLimit: false } }, async (_request, reply) => {
    const { ready, checks } = await fastify.readiness.report()
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })
}

export default healthRoutes
