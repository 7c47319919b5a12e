/**
 * The development authorization server started on its own, on another port: an
 * external identity provider (real oidc-provider: DCR, PKCE, resource indicators, JWT
 * access tokens) for tests that configure OAUTH_ISSUER like production does.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import authorizationServer from '../../lib/dev-auth/authorization-server.ts'
import { ToolRegistry } from '../../lib/tool-registry.ts'
import type { ToolDefinition } from '../../lib/tool.ts'
import { tools as defaultTools } from '../../tools/index.ts'
import { freePort } from '../helper.ts'

export interface StartedAuthorizationServer {
  issuer: string
  app: FastifyInstance
}

export interface AuthorizationServerSetup {
  /** Resource identifiers it issues tokens for (the MCP server's, e.g. `http://127.0.0.1:1234/mcp`). */
  resources: readonly string[]
  tools?: readonly ToolDefinition[]
  port?: number
}

export async function startAuthorizationServer (t: Test, { resources, tools = defaultTools, port }: AuthorizationServerSetup): Promise<StartedAuthorizationServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mcpgw-idp-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const listenOn = port ?? await freePort()
  const issuer = `http://127.0.0.1:${listenOn}/oauth`
  const app = Fastify({ logger: { level: process.env.TEST_LOG_LEVEL ?? 'silent' } })
  await app.register(authorizationServer, {
    issuer,
    resources,
    tools: new ToolRegistry(tools).summaries,
    dataDir,
    accessTokenTtlSeconds: 600,
    resourceName: 'MCP Gateway'
  })
  t.after(() => app.close())
  await app.listen({ port: listenOn, host: '127.0.0.1' })
  return { issuer, app }
}
