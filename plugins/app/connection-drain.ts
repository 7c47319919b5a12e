/**
 * Connection draining for a graceful shutdown. On `fastify.close()` Fastify stops
 * accepting connections, closes idle keep-alive ones and answers requests that still
 * arrive on open connections with 503. What it leaves open are the connections of
 * in-flight requests: once their response is out they sit idle until the keep-alive
 * timeout (72 s by default), far past Cloud Run's 10 s. So while draining, responses say
 * `Connection: close`, and connections that went idle anyway (their headers left before
 * the drain began) are closed as they appear; close() then completes as soon as the
 * last in-flight request is answered.
 */
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'

const REAP_INTERVAL_MS = 100

const connectionDrain: FastifyPluginAsync = async (fastify) => {
  let draining = false
  let reaper: NodeJS.Timeout | undefined

  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close')
    done(null, payload)
  })

  fastify.addHook('preClose', (done) => {
    draining = true
    reaper = setInterval(() => fastify.server.closeIdleConnections(), REAP_INTERVAL_MS).unref()
    done()
  })

  fastify.addHook('onClose', (_instance, done) => {
    clearInterval(reaper)
    done()
  })
}

export default fp(connectionDrain, { name: 'connection-drain' })
