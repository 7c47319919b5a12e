/**
 * Process lifecycle: the first SIGTERM or SIGINT closes the app (stop accepting
 * connections, finish in-flight requests, run the onClose hooks that close Redis and
 * other resources) and exits 0. If that has not finished within the deadline, or a
 * second signal arrives, the process exits 1 with a log line saying why.
 */
import type { FastifyInstance } from 'fastify'

export interface ShutdownOptions {
  /** How long in-flight requests get (SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number
  /** Replaced in tests. */
  exit?: (code: number) => void
}

export function closeOnSignals (fastify: FastifyInstance, { timeoutMs, exit = (code) => process.exit(code) }: ShutdownOptions): void {
  let shuttingDown = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      fastify.log.error({ signal }, 'second signal during shutdown: exiting without waiting for in-flight requests')
      return exit(1)
    }
    shuttingDown = true
    const started = performance.now()
    fastify.log.info({ signal, timeoutMs }, 'shutting down: no new connections, finishing in-flight requests')
    setTimeout(() => {
      fastify.log.error({ signal, timeoutMs }, `shutdown did not finish within ${timeoutMs} ms (a request or an onClose hook is hanging): exiting`)
      exit(1)
    }, timeoutMs).unref()
    fastify.close().then(() => {
      fastify.log.info({ durationMs: Math.round(performance.now() - started) }, 'shut down cleanly')
      exit(0)
    }, (error: unknown) => {
      fastify.log.error({ err: error }, 'error while shutting down')
      exit(1)
    })
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}
