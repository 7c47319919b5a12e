/**
 * @fastify/under-pressure: load shedding. While the event loop is saturated (mean delay or
 * utilisation over the last one-second sample above OVERLOAD_*), requests are refused at
 * once with 503 and Retry-After instead of queueing without bound behind the ones already
 * late; the autoscaler adds instances meanwhile. The episode is logged at most every ten
 * seconds, the refusals themselves at debug level.
 *
 * /healthz is exempt (config.pressureHandler): an overloaded instance is busy, not dead, and
 * failing its liveness probe would get it restarted with its in-flight requests.
 */
import fastifyUnderPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OverloadedError } from '../../lib/errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/under-pressure's per-route handler; one that returns nothing lets the request through. */
    pressureHandler?: (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => unknown
  }
}

/** Long enough for a new instance to start taking traffic, short enough for an interactive client. */
const RETRY_AFTER_S = 5
const REPORT_EVERY_MS = 10_000

export const autoConfig = (fastify: FastifyInstance): FastifyUnderPressureOptions => {
  const { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: maxEventLoopDelay, OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: maxEventLoopUtilization } = fastify.config
  let reported = 0
  return {
    maxEventLoopDelay,
    maxEventLoopUtilization,
    // Per sample, not averaged since start-up (the plugin's default), which would hide a current overload.
    eventLoopUtilizationMode: 'interval',
    retryAfter: RETRY_AFTER_S,
    pressureHandler: async (request, _reply, type, value) => {
      if (Date.now() - reported > REPORT_EVERY_MS) {
        reported = Date.now()
        request.log.warn({ type, value, maxEventLoopDelay, maxEventLoopUtilization }, 'overloaded: refusing requests with 503 until the event loop recovers')
      }
      throw Object.assign(new OverloadedError(), { headers: { 'retry-after': String(RETRY_AFTER_S) }, logLevel: 'debug' as const })
    }
  }
}

export default fastifyUnderPressure
