/**
 * Builds the app the way production does (same plugins, same server options), on
 * a configuration made from `env` overrides, and closes it after the test.
 *
 * Every app logs at trace level into memory (`logs`), and the test fails if any line
 * carries a token or an Authorization value (test/support/log-capture.ts).
 * TEST_LOG_LEVEL=info (or any level) also prints the lines, at that level.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import app, { serverOptions } from '../app.ts'
import { loadConfig, type Config } from '../lib/config.ts'
import type { ToolDefinition } from '../lib/tool.ts'
import { LogCapture } from './support/log-capture.ts'

export interface BuildOptions {
  /** Environment variables, as strings, over a quiet test baseline. */
  env?: Record<string, string | undefined>
  tools?: readonly ToolDefinition[]
  /** Listen on an ephemeral loopback port (PUBLIC_URL then points at it). */
  listen?: boolean
  /** With `listen`: this port instead of a fresh one (restarting an app where it was). */
  port?: number
}

export interface BuiltApp {
  app: FastifyInstance
  config: Config
  /** http://127.0.0.1:<port> when listening. */
  url: string
  /** Every log line the app wrote. */
  logs: LogCapture
}

export async function build (t: Test, { env = {}, tools, listen = false, port: fixedPort }: BuildOptions = {}): Promise<BuiltApp> {
  const baseEnv: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'trace',
    PORT: '0',
    // Tests run the app in the test's own process, beside key generation and browsers that stall
    // the event loop; load shedding would answer 503 at random. test/plugins/under-pressure.test.ts turns it on.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  }
  if (baseEnv.DEV_AUTH_DATA_DIR === undefined) {
    // Without OAUTH_ISSUER the embedded authorization server keeps keys and clients on disk: never in the repository.
    const dataDir = mkdtempSync(join(tmpdir(), 'mcpgw-dev-auth-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    baseEnv.DEV_AUTH_DATA_DIR = dataDir
  }
  let config = loadConfig(baseEnv)
  let url = ''
  if (listen) {
    // PUBLIC_URL must name the real port: reserve one first, then build on it.
    const port = fixedPort ?? await freePort()
    url = `http://127.0.0.1:${port}`
    config = loadConfig({ PUBLIC_URL: url, ...baseEnv, PORT: String(port) })
  }
  const logs = new LogCapture({ echo: process.env.TEST_LOG_LEVEL !== undefined })
  const fastify = Fastify(serverOptions(config, { logDestination: logs }))
  await fastify.register(app, { config, ...(tools !== undefined && { tools }) })
  t.after(async () => {
    await fastify.close()
    const leaks = logs.leaks()
    if (leaks.length > 0) throw new Error(`log lines carry credentials (they must be redacted):\n${leaks.join('\n')}`)
  })
  if (listen) await fastify.listen({ port: config.PORT, host: '127.0.0.1' })
  else await fastify.ready()
  return { app: fastify, config, url, logs }
}

/** A loopback port nothing listens on right now. */
export async function freePort (): Promise<number> {
  const probe = Fastify()
  await probe.listen({ port: 0, host: '127.0.0.1' })
  const { port } = probe.server.address() as { port: number }
  await probe.close()
  return port
}
