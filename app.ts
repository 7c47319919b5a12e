/**
 * The application as one Fastify plugin: configuration and readiness first, then
 * third-party plugins (plugins/external), our shared plugins (plugins/app), then the routes.
 * server.ts runs it in production; `fastify start` (npm run dev) and the tests load
 * it the same way.
 */
import type { Server } from 'node:http'
import { join } from 'node:path'
import autoload from '@fastify/autoload'
import type { FastifyError, FastifyHttpOptions, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import configPlugin from './plugins/app/config.ts'
import healthPlugin from './plugins/app/health.ts'
import { loadConfig, trustProxySetting, type Config } from './lib/config.ts'
import { applyErrorHeaders, type ErrorExtras } from './lib/errors.ts'
import { loggerOptions, RequestLogController, requestChildLoggerFactory, type LogDestination } from './lib/logging/logger.ts'
import type { ToolDefinition } from './lib/tool.ts'

export interface AppOptions {
  /** Validated configuration; read from the environment when absent (fastify-cli). */
  config?: Config
  /** Replaces the tools of tools/index.ts (tests). */
  tools?: readonly ToolDefinition[]
}

/** Fastify server options for a configuration (server.ts, tests, and `fastify start -o`). */
export function serverOptions (config: Config, { logDestination }: { logDestination?: LogDestination } = {}): FastifyHttpOptions<Server> {
  return {
    // Cloud Logging JSON (or pino's own for `npm run dev`), trace-bound request loggers, no secrets.
    logger: loggerOptions(config, logDestination),
    logController: new RequestLogController(),
    childLoggerFactory: requestChildLoggerFactory(config.GOOGLE_CLOUD_PROJECT),
    // Forms, metadata and tokens are small; the MCP route allows 1 MiB for tool arguments.
    bodyLimit: 128 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    // Request ids are ours to make; a client-sent id is never trusted into the logs.
    requestIdHeader: false,
    // Client addresses (rate limits, logs) come from X-Forwarded-For only through the proxies
    // TRUST_PROXY names. Nothing reads X-Forwarded-Host/-Proto: URLs are built from PUBLIC_URL.
    trustProxy: trustProxySetting(config.TRUST_PROXY),
    // Idle keep-alive connections outlive the load balancer's (Google's front ends keep
    // backend connections up to 600 s): if the server closed first, the balancer could send
    // a request down a connection being closed and answer 502.
    keepAliveTimeout: 620_000,
    // The whole request (headers and a body up to 1 MiB) must arrive within 30 s, headers
    // within 10 s: slow-drip clients cannot hold sockets. Node measures both per request,
    // from its first byte, so they neither cut idle keep-alive connections nor long tool
    // calls (the response may take as long as the tool needs; SSE streams send keep-alives).
    requestTimeout: 30_000,
    // No socket inactivity timeout: a tool may compute for minutes without sending a byte.
    connectionTimeout: 0,
    http: {
      headersTimeout: 10_000,
      // 16 KiB of headers: room for an 8 KiB access token (lib/auth) and the usual rest.
      maxHeaderSize: 16 * 1024
    }
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
  const level = error.logLevel ?? (status >= 500 ? 'error' : undefined)
  if (level !== undefined) request.log[level]({ err: error }, 'request failed')
  if (error.headers !== undefined) applyErrorHeaders(reply, error.headers)
  reply.code(status)
  if (error.oauthError !== undefined) return reply.send({ error: error.oauthError, error_description: error.message })
  const exposed = status < 500 || error.code?.startsWith('MCPGW_') === true
  return reply.send({ statusCode: status, code: error.code, error: exposed ? error.message : 'Internal Server Error', message: exposed ? error.message : 'Internal Server Error' })
}

// Two parameters: fastify-cli refuses a root plugin that declares fewer.
export default async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  await fastify.register(configPlugin, { config: opts.config })
  // Readiness before the autoloaded plugins: those of both folders report their dependencies to it.
  await fastify.register(healthPlugin)
  fastify.setErrorHandler(rootErrorHandler)
  await fastify.register(autoload, { dir: join(import.meta.dirname, 'plugins/external'), options: { ...opts } })
  await fastify.register(autoload, { dir: join(import.meta.dirname, 'plugins/app'), ignorePattern: /^(config|health)\.[tj]s$/, options: { ...opts } })
  await fastify.register(autoload, { dir: join(import.meta.dirname, 'routes'), dirNameRoutePrefix: false, options: { ...opts } })
}
