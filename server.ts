/**
 * Production entry point: validate the configuration (exit 1 with one line naming the
 * bad variable), build the app, listen, and close cleanly on SIGTERM/SIGINT.
 */
import Fastify from 'fastify'
import app, { serverOptions } from './app.ts'
import { ConfigError, loadConfig, type Config } from './lib/config.ts'

let config: Config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`mcp-gateway: configuration error: ${error.message}`)
  process.exit(1)
}

const fastify = Fastify(serverOptions(config))
await fastify.register(app, { config })

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    fastify.log.info({ signal }, 'shutting down')
    fastify.close().then(() => process.exit(0), (error: unknown) => {
      fastify.log.error({ err: error }, 'error while shutting down')
      process.exit(1)
    })
  })
}

try {
  await fastify.listen({ port: config.PORT, host: config.HOST })
} catch (error) {
  fastify.log.fatal({ err: error }, 'could not start')
  process.exit(1)
}
