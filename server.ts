/**
 * Production entry point: validate the configuration (exit 1 with one line naming the
 * bad variable), build the app, listen, and drain cleanly on SIGTERM/SIGINT (lib/shutdown.ts).
 */
import Fastify from 'fastify'
import app, { serverOptions } from './app.ts'
import { loadConfigOrExit } from './lib/config.ts'
import { closeOnSignals } from './lib/shutdown.ts'

const config = loadConfigOrExit()

const fastify = Fastify(serverOptions(config))
await fastify.register(app, { config })

closeOnSignals(fastify, { timeoutMs: config.SHUTDOWN_TIMEOUT_MS })

try {
  await fastify.listen({ port: config.PORT, host: config.HOST })
} catch (error) {
  fastify.log.fatal({ err: error }, 'could not start')
  process.exit(1)
}
