/** A hand-made ToolContext for calling tool handlers directly. */
import pino from 'pino'
import { loadConfig } from '../../lib/config.ts'
import type { Caller } from '../../lib/caller.ts'
import { HttpBackendClient, type BackendClient } from '../../lib/backends/backend-client.ts'
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

/** Answers the requests a tool sends to one backend, as the backend would. */
export type FakeBackendHandler = (request: Request) => Response | Promise<Response>

/**
 * `ctx.backend` for hand-made contexts: each named backend is answered by a handler, through
 * the real client (paths under `https://<name>.test`, the JSON helper, its error messages),
 * with a fixed `Authorization: Bearer test-token` and no retries.
 */
export function fakeBackends (handlers: Record<string, FakeBackendHandler>, signal: AbortSignal = new AbortController().signal): (name: string) => BackendClient {
  return (name) => {
    const handler = handlers[name]
    if (handler === undefined) throw new Error(`this test context has no backend ${name}`)
    return new HttpBackendClient({
      backend: { name, baseUrl: `https://${name}.test`, audience: `https://${name}.test`, mode: 'signed-assertion', retries: 0 },
      credentials: { authorization: async () => ({ value: 'Bearer test-token', renewable: false }), guard: () => {} },
      signal,
      log: pino({ level: 'silent' }),
      fetch: async (input, init) => handler(new Request(input, init))
    })
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
    backend: (name) => { throw new Error(`this test context has no backend ${name}: pass backend: fakeBackends({ ${name}: (request) => … })`) },
    ...overrides
  }
}
