/**
 * The application as one Fastify plugin: configuration first, then third-party
 * plugins (plugins/external), our shared plugins (plugins/app), then the routes.
 * server.ts runs it in production; `fastify start` (npm run dev) and the tests load
 * it the same way.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import autoload from '@fastify/autoload'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import configPlugin from './plugins/app/config.ts'
import { loadConfig, type Config } from './lib/config.ts'
import type { ErrorExtras } from './lib/errors.ts'
import { loggerOptions, RequestLogController, requestChildLoggerFactory, type LogDestination } from './lib/logging/logger.ts'
import type { ToolDefinition } from './lib/tool.ts'

export interface AppOptions {
  /** Validated configuration; read from the environment when absent (fastify-cli). */
  config?: Config
  /** Replaces the tools of tools/index.ts (tests). */
  tools?: readonly ToolDefinition[]
}

/** Fastify server options for a configuration (server.ts, tests, and `fastify start -o`). */
export function serverOptions (config: Config, { logDestination }: { logDestination?: LogDestination } = {}): FastifyServerOptions {
  return {
    // Cloud Logging JSON (or pino's own for `npm run dev`), trace-bound request loggers, no secrets.
    logger: loggerOptions(config, logDestination),
    logController: new RequestLogController(),
    childLoggerFactory: requestChildLoggerFactory(config.GOOGLE_CLOUD_PROJECT),
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    // Request ids are ours to make; a client-sent id is never trusted into the logs.
    requestIdHeader: false
  }
}

/** fastify-cli reads this when started with -o. */
export const options = (() => {
  try {
    return serverOptions(loadConfig())
  } catch {
    // The config plugin reports the problem when the app starts.
    return {}
  }
})()

function rootErrorHandler (error: FastifyError & ErrorExtras, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
  if (status >= 500) request.log.error({ err: error }, 'request failed')
  if (error.headers !== undefined) reply.headers(error.headers)
  reply.code(status)
  if (error.oauthError !== undefined) return reply.send({ error: error.oauthError, error_description: error.message })
  const exposed = status < 500 || error.code?.startsWith('MCPGW_') === true
  return reply.send({ statusCode: status, code: error.code, error: exposed ? error.message : 'Internal Server Error', message: exposed ? error.message : 'Internal Server Error' })
}

// Two parameters: fastify-cli refuses a root plugin that declares fewer.
export default async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  await fastify.register(configPlugin, { config: opts.config })
  fastify.setErrorHandler(rootErrorHandler)
  // A folder with no plugin in it yet (only its README) is not emitted to dist/ by the build.
  const externalPlugins = join(import.meta.dirname, 'plugins/external')
  if (existsSync(externalPlugins)) await fastify.register(autoload, { dir: externalPlugins, options: { ...opts } })
  await fastify.register(autoload, { dir: join(import.meta.dirname, 'plugins/app'), ignorePattern: /^config\.[tj]s$/, options: { ...opts } })
  await fastify.register(autoload, { dir: join(import.meta.dirname, 'routes'), dirNameRoutePrefix: false, options: { ...opts } })
}
