/**
 * @fastify/rate-limit, registered once at the root so that its onRoute hook sees every
 * route. Its global limit is the per-address budget (RATE_LIMIT_IP_MAX) of every route that
 * does not configure its own: discovery documents, preflights, 405s. The MCP endpoint turns
 * it off and counts per caller instead (routes/mcp), and `fastify.authenticate` charges
 * requests without a token to this same per-address budget and rejected tokens to their own.
 *
 * Counters live in Redis when REDIS_URL is set (shared by all instances), else in memory.
 */
import fp from 'fastify-plugin'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsync } from 'fastify'
import { addressKey, budgetSpent, PER_ADDRESS_SCOPE } from '../../lib/rate-limit/budget.ts'
import { SharedRateLimitStore } from '../../lib/rate-limit/shared-store.ts'

const rateLimit: FastifyPluginAsync = async (fastify) => {
  const { config, redis } = fastify
  const windowMs = config.RATE_LIMIT_WINDOW_S * 1000
  const perAddress = { max: config.RATE_LIMIT_IP_MAX, windowMs, scope: PER_ADDRESS_SCOPE }

  await fastify.register(fastifyRateLimit, {
    global: config.RATE_LIMIT_IP_MAX > 0,
    max: config.RATE_LIMIT_IP_MAX,
    timeWindow: windowMs,
    keyGenerator: (request) => `address:${addressKey(request)}`,
    // RateLimit-Limit/-Remaining/-Reset (draft-ietf-httpapi-ratelimit-headers) rather than X-RateLimit-*.
    enableDraftSpec: true,
    // A store error lets the request through (open) or refuses it with the store's 503 (closed).
    skipOnError: config.RATE_LIMIT_FAIL === 'open',
    cache: 10_000,
    ...(redis !== null && { store: SharedRateLimitStore.on(redis, 'rate-limit:') }),
    errorResponseBuilder: (_request, context) => {
      return budgetSpent(perAddress, Math.max(1, Math.ceil(context.ttl / 1000)))
    }
  })
}

export default fp(rateLimit, { name: 'rate-limit', dependencies: ['config', 'redis'] })
