/** A hand-made ToolContext for calling tool handlers directly. */
import pino from 'pino'
import { loadConfig } from '../../lib/config.ts'
import type { Caller } from '../../lib/caller.ts'
import type { ToolContext } from '../../lib/tool.ts'
import { tools } from '../../tools/index.ts'

export function testCaller (overrides: Partial<Caller> = {}): Caller {
  return {
    sub: 'alice',
    issuer: 'https://idp.example/',
    audience: ['https://mcp.example/mcp'],
    clientId: 'client-1',
    scopes: new Set(['read:profile']),
    expiresAt: Math.floor(Date.now() / 1000) + 300,
    claims: {},
    ...overrides
  }
}

export function testContext (overrides: Partial<ToolContext> = {}): ToolContext {
  return {
    caller: testCaller(),
    log: pino({ level: 'silent' }),
    config: loadConfig({ NODE_ENV: 'test', OAUTH_ISSUER: 'https://idp.example/' }),
    signal: new AbortController().signal,
    tools: tools.map(({ name, title, requiredScopes }) => ({ name, title, requiredScopes })),
    reportProgress: async () => {},
    ...overrides
  }
}
