/**
 * The MCP SDK's own client against a real listening server: connect, list tools,
 * call both tools — as a 2025-era client and negotiating 2026-07-28, at /mcp and at
 * the bare origin.
 */
import { test } from 'tap'
import { Client, StreamableHTTPClientTransport, type ClientOptions } from '@modelcontextprotocol/client'
import { build } from '../helper.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

const eras: Array<{ name: string, expected: string, options: ClientOptions }> = [
  { name: '2025-era (initialize handshake)', expected: '2025-11-25', options: {} },
  { name: '2026-07-28 (server/discover, per-request envelope)', expected: '2026-07-28', options: { versionNegotiation: { mode: { pin: '2026-07-28' } } } }
]

test('the SDK client lists and calls tools', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { url } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer }, listen: true })

  for (const path of ['/mcp', '/']) {
    for (const era of eras) {
      await t.test(`${era.name} at ${path}`, async (t) => {
        const resource = path === '/' ? url : `${url}/mcp`
        const token = issuer.mint(resource, { sub: 'user-42', client_id: 'sdk-test' })
        const transport = new StreamableHTTPClientTransport(new URL(path, url), { requestInit: { headers: { authorization: `Bearer ${token}` } } })
        const client = new Client({ name: 'sdk-test', version: '1.0.0' }, era.options)
        await client.connect(transport)
        t.after(() => client.close())

        t.equal(client.getServerVersion()?.name, 'mcp-gateway')
        t.equal(client.getNegotiatedProtocolVersion(), era.expected, 'negotiated the expected revision')

        const { tools } = await client.listTools()
        t.same(tools.map((tool) => tool.name).sort(), ['echo', 'whoami'])
        const whoami = tools.find((tool) => tool.name === 'whoami')
        t.equal(whoami?.annotations?.readOnlyHint, true, 'annotations are published')
        t.equal(whoami?.inputSchema.type, 'object')
        t.ok((whoami?.outputSchema?.properties as Record<string, unknown> | undefined)?.permissions, 'the output schema is published')
        const echo = tools.find((tool) => tool.name === 'echo')
        t.same((echo?.inputSchema.properties as Record<string, { maxLength?: number }>).message?.maxLength, 10_000)
        t.same((echo as unknown as { _meta?: { securitySchemes?: unknown } })._meta?.securitySchemes, [{ type: 'oauth2', scopes: ['execute:tools'] }])

        const me = await client.callTool({ name: 'whoami', arguments: {} })
        t.notOk(me.isError)
        const structured = me.structuredContent as { sub: string, issuer: string, clientId: string, scopes: string[], audience: string[], permissions: Array<{ tool: string, allowed: boolean }> }
        t.equal(structured.sub, 'user-42')
        t.equal(structured.issuer, issuer.issuer)
        t.equal(structured.clientId, 'sdk-test')
        t.same(structured.audience, [resource])
        t.same(structured.scopes, ['execute:tools', 'read:profile'])
        t.same(structured.permissions.map((p) => [p.tool, p.allowed]), [['whoami', true], ['echo', true]])
        t.match((me.content as Array<{ text: string }>)[0]?.text, /You are user-42/)

        const echoed = await client.callTool({ name: 'echo', arguments: { message: 'hello there' } })
        t.same(echoed.structuredContent, { message: 'hello there' })
        t.same(echoed.content, [{ type: 'text', text: 'hello there' }])

        const invalid = await client.callTool({ name: 'echo', arguments: { message: '' } })
        t.equal(invalid.isError, true, 'invalid arguments are a tool error, not a protocol error')
        t.match((invalid.content as Array<{ text: string }>)[0]?.text, /message/)
      })
    }
  }
})
