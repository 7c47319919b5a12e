/**
 * The Redis connection (ioredis) when REDIS_URL is set: `fastify.redis`, null otherwise.
 * Rate-limit counters live there so that every instance sees the same ones. Start-up does
 * not depend on it (a bounded wait, then the service runs per RATE_LIMIT_FAIL); /readyz
 * reports its state.
 */
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { RedisConnection } from '../../lib/redis-connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared Redis connection; null when REDIS_URL is unset (single instance, in-memory counters). */
    redis: RedisConnection | null
  }
}

const redis: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  if (config.REDIS_URL === undefined) {
    fastify.decorate('redis', null)
    return
  }
  // Loaded only when used: ioredis alone adds about 26 MB to the resident size of a process.
  const { RedisConnection } = await import('../../lib/redis-connection.ts')
  const connection = new RedisConnection({
    url: config.REDIS_URL,
    keyPrefix: config.REDIS_KEY_PREFIX,
    log: fastify.log,
    whileDown: config.RATE_LIMIT_FAIL === 'open'
      ? 'rate limits are NOT enforced until it is back (RATE_LIMIT_FAIL=open)'
      : 'rate-limited requests are refused with 503 until it is back (RATE_LIMIT_FAIL=closed)'
  })
  fastify.decorate('redis', connection)
  fastify.addHook('onClose', () => connection.close())

  // With RATE_LIMIT_FAIL=open the service works without Redis, so an outage is reported but does not make the instance unready.
  fastify.readiness.add('redis', async () => {
    const report = await connection.check()
    return { ...report, ready: report.ready || config.RATE_LIMIT_FAIL === 'open', failMode: config.RATE_LIMIT_FAIL }
  })

  await connection.started()
}

export default fp(redis, { name: 'redis', dependencies: ['config', 'health'] })
