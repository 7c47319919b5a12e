/**
 * Per-tool scopes, driven by the one tool→scope map: the 403 step-up challenge, the
 * tool-result challenge ChatGPT understands, tools/list filtering and securitySchemes.
 */
import { test, type Test } from 'tap'
import { build } from '../helper.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

async function setup (t: Test, env: Record<string, string> = {}) {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app, config } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, ...env } })
  const rpc = async (scope: string, method: string, params: unknown = {}) => {
    const response = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${issuer.mint(`${config.PUBLIC_URL}/mcp`, { scope })}` },
      payload: JSON.stringify({ jsonrpc: '2.0', id: 9, method, params })
    })
    return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body) }
  }
  return { rpc }
}

test('SCOPE_CHALLENGE=http: a call without the scope gets a 403 step-up challenge', async (t) => {
  const { rpc } = await setup(t)
  const response = await rpc('read:profile openid', 'tools/call', { name: 'echo', arguments: { message: 'hi' } })
  t.equal(response.status, 403)
  t.equal(
    response.headers['www-authenticate'],
    'Bearer resource_metadata="http://localhost:0/.well-known/oauth-protected-resource/mcp", scope="read:profile openid execute:tools", error="insufficient_scope", error_description="The echo tool needs the scope execute:tools, which this access token was not granted"',
    'the challenge keeps the scopes held and adds the ones required'
  )
  t.match(response.headers['access-control-expose-headers'], /WWW-Authenticate/)
  t.same(response.body, { error: 'insufficient_scope', error_description: 'The echo tool needs the scope execute:tools, which this access token was not granted' })

  const allowed = await rpc('read:profile openid', 'tools/call', { name: 'whoami', arguments: {} })
  t.equal(allowed.status, 200, 'the tool the scopes do allow still works')
  t.equal(allowed.body.result.structuredContent.permissions[1].allowed, false)
  t.same(allowed.body.result.structuredContent.permissions[1].missingScopes, ['execute:tools'])
})

test('SCOPE_CHALLENGE=tool-result: the same case is an isError result carrying the challenge', async (t) => {
  const { rpc } = await setup(t, { SCOPE_CHALLENGE: 'tool-result' })
  const response = await rpc('read:profile', 'tools/call', { name: 'echo', arguments: { message: 'hi' } })
  t.equal(response.status, 200)
  t.notOk(response.headers['www-authenticate'], 'no HTTP challenge')
  const { result } = response.body
  t.equal(result.isError, true)
  t.match(result.content[0].text, /needs the scope execute:tools.*Reconnect the app/)
  t.same(result._meta['mcp/www_authenticate'], [
    'Bearer resource_metadata="http://localhost:0/.well-known/oauth-protected-resource/mcp", scope="read:profile execute:tools", error="insufficient_scope", error_description="The echo tool needs the scope execute:tools, which this access token was not granted"'
  ])
  t.notOk(result.structuredContent, 'the tool did not run')
})

test('tools/list shows what the scopes unlock; TOOLS_LIST=all shows everything', async (t) => {
  const { rpc } = await setup(t)
  const names = async (scope: string) => (await rpc(scope, 'tools/list')).body.result.tools.map((tool: { name: string }) => tool.name)
  t.same(await names('read:profile'), ['whoami'])
  t.same(await names('execute:tools'), ['echo'])
  t.same(await names('read:profile execute:tools'), ['whoami', 'echo'])
  t.same(await names('openid'), [])

  const all = await setup(t, { TOOLS_LIST: 'all' })
  const listed = (await all.rpc('openid', 'tools/list')).body.result.tools
  t.same(listed.map((tool: { name: string }) => tool.name), ['whoami', 'echo'])
  t.same(listed.map((tool: { securitySchemes: unknown }) => tool.securitySchemes), [[{ type: 'oauth2', scopes: ['read:profile'] }], [{ type: 'oauth2', scopes: ['execute:tools'] }]])
  t.same(listed.map((tool: { _meta: { securitySchemes: unknown } }) => tool._meta.securitySchemes), [[{ type: 'oauth2', scopes: ['read:profile'] }], [{ type: 'oauth2', scopes: ['execute:tools'] }]])
})

test('scopes are read from scope, scp and permissions', async (t) => {
  const { rpc } = await setup(t)
  // The minted token's scope claim is replaced; scp (Okta/Entra) and permissions (Auth0 RBAC) add to it.
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app, config } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer } })
  const whoami = async (claims: Record<string, unknown>) => {
    const response = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${issuer.mint(`${config.PUBLIC_URL}/mcp`, claims)}` },
      payload: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
    })
    return JSON.parse(response.body).result?.structuredContent?.scopes
  }
  t.same(await whoami({ scope: undefined, scp: ['read:profile', 'openid'] }), ['openid', 'read:profile'])
  t.same(await whoami({ scope: undefined, scp: 'read:profile email' }), ['email', 'read:profile'])
  t.same(await whoami({ scope: 'openid', permissions: ['read:profile', 'execute:tools'] }), ['execute:tools', 'openid', 'read:profile'])
  t.equal((await rpc('openid', 'ping')).status, 200, 'methods other than tools/call need no tool scope')
})
