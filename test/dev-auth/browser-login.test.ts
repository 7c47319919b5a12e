/**
 * Zero-config start, end to end: the app with no OAuth configuration, the MCP SDK's own
 * client discovering, registering and sending its user to the embedded development
 * authorization server, and headless Chromium answering the login and consent pages.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import { build, freePort } from '../helper.ts'
import type { BrowserContext } from 'playwright-core'
import { launchBrowser, signIn, type SignInOptions } from '../support/browser.ts'
import { callTool, CallbackServer, MemoryOAuthProvider } from '../support/oauth-client.ts'

function dataDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-dev-auth-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function callbackServer (t: Test): Promise<CallbackServer> {
  const server = await new CallbackServer().start()
  t.after(() => server.stop())
  return server
}

function newClient (serverUrl: string, provider: MemoryOAuthProvider): { client: Client, transport: StreamableHTTPClientTransport } {
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider })
  return { client: new Client({ name: 'mcp-gateway-e2e', version: '1.0.0' }), transport }
}

/**
 * The whole first connection: no token → 401 → discovery → registration → the browser
 * signs in → the code comes back to the loopback redirect → the client redeems it and
 * connects. Returns the connected client.
 */
async function connectThroughBrowser (t: Test, browser: BrowserContext, serverUrl: string, provider: MemoryOAuthProvider, callback: CallbackServer, person: Omit<SignInOptions, 'callbackUrl'>) {
  const first = newClient(serverUrl, provider)
  await t.rejects(first.client.connect(first.transport), UnauthorizedError, 'without a token the client is sent to log in')
  const authorizationUrl = await provider.nextAuthorizationUrl()
  const report = await signIn(browser, authorizationUrl, { ...person, callbackUrl: callback.url })
  const redirect = await callback.next()
  await first.transport.finishAuth(redirect)
  const connected = newClient(serverUrl, provider)
  await connected.client.connect(connected.transport)
  t.after(() => connected.client.close())
  return { ...connected, authorizationUrl, redirect, report }
}

test('a client with no token logs in through the browser pages, then whoami and echo work', async (t) => {
  const { url } = await build(t, { listen: true, env: { DEV_AUTH_DATA_DIR: dataDir(t) } })
  const callback = await callbackServer(t)
  const provider = new MemoryOAuthProvider(callback.url)

  const { client, authorizationUrl, redirect, report } = await connectThroughBrowser(t, await launchBrowser(t), `${url}/mcp`, provider, callback, { username: 'alice', screenshots: 'dev-auth' })

  t.equal(provider.registrations, 1, 'the client registered once (DCR)')
  t.match(provider.clientInfo?.client_id, /\S/, 'and got a client_id')
  t.equal(`${authorizationUrl.origin}${authorizationUrl.pathname}`, `${url}/oauth/auth`, 'it was sent to the embedded authorization endpoint')
  t.equal(authorizationUrl.searchParams.get('resource'), `${url}/mcp`, 'asking for this server as the resource')
  t.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256', 'with PKCE S256')
  t.same(authorizationUrl.searchParams.get('scope')?.split(' ').sort(), ['execute:tools', 'offline_access', 'read:profile'])
  t.equal(redirect.get('iss'), `${url}/oauth`, 'the redirect names the issuer (RFC 9207)')
  t.same(report.consentScopes, [
    { scope: 'read:profile', checked: true },
    { scope: 'execute:tools', checked: true },
    { scope: 'offline_access', checked: true }
  ], 'the consent page lists every requested scope, ticked')
  t.same(report.consoleErrors, [], 'the browser reported no error (no CSP violation)')
  t.same(report.failedRequests, [], 'and every request of the pages succeeded')
  t.match(provider.storedTokens, { token_type: /^bearer$/i, refresh_token: /\S/ }, 'a refresh token came with offline_access')

  const me = await callTool(client, 'whoami')
  t.equal(me.sub, 'alice', 'sub is the name typed on the login page')
  t.same(me.scopes, ['execute:tools', 'read:profile'], 'the token carries the granted tool scopes')
  t.equal(me.issuer, `${url}/oauth`)
  t.same(me.audience, [`${url}/mcp`], 'aud is the requested resource')
  t.equal(me.clientId, provider.clientInfo?.client_id, 'the token names the registered client')
  t.same(await callTool(client, 'echo', { message: 'hello from alice' }), { message: 'hello from alice' })
})

test('the bare base URL works as the connector URL; another name in the same browser is another user', async (t) => {
  const { url } = await build(t, { listen: true, env: { DEV_AUTH_DATA_DIR: dataDir(t) } })
  const callback = await callbackServer(t)
  const browser = await launchBrowser(t)
  const provider = new MemoryOAuthProvider(callback.url)

  const { client, authorizationUrl } = await connectThroughBrowser(t, browser, url, provider, callback, { username: 'bob' })

  t.equal(authorizationUrl.searchParams.get('resource'), url, 'the resource is the bare origin, as its metadata says')
  const me = await callTool(client, 'whoami')
  t.equal(me.sub, 'bob')
  t.same(me.audience, [url])
  t.same(await callTool(client, 'echo', { message: 'at the root' }), { message: 'at the root' })

  const second = await connectThroughBrowser(t, browser, url, new MemoryOAuthProvider(callback.url), callback, { username: 'zoe' })
  t.equal(second.report.prefilledName, 'bob', 'the login page offered the last name used')
  t.equal((await callTool(second.client, 'whoami')).sub, 'zoe', 'typing another name signs in as someone else')
  t.equal((await callTool(client, 'whoami')).sub, 'bob', 'while the first client stays bob')
})

test('step-up: a person grants only read:profile, echo is refused with insufficient_scope, the client asks again and succeeds', async (t) => {
  const { url } = await build(t, { listen: true, env: { DEV_AUTH_DATA_DIR: dataDir(t) } })
  const callback = await callbackServer(t)
  const provider = new MemoryOAuthProvider(callback.url)
  const browser = await launchBrowser(t)
  const { client, transport } = await connectThroughBrowser(t, browser, `${url}/mcp`, provider, callback, { username: 'carol', decline: ['execute:tools'] })

  const before = await callTool(client, 'whoami')
  t.same(before.scopes, ['read:profile'], 'only what was ticked was granted')

  // The transport meets the 403 insufficient_scope challenge and re-authorizes for the union of scopes.
  const challenged = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${provider.storedTokens?.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } })
  })
  t.equal(challenged.status, 403, 'echo without execute:tools is refused')
  t.match(challenged.headers.get('www-authenticate'), /error="insufficient_scope".*scope="read:profile execute:tools"|scope="read:profile execute:tools".*error="insufficient_scope"/)

  await t.rejects(client.callTool({ name: 'echo', arguments: { message: 'needs more' } }), UnauthorizedError, 'the SDK sends its user to authorize again')
  t.equal(provider.authorizations, 2)
  const stepUpUrl = await provider.nextAuthorizationUrl()
  t.match(stepUpUrl.searchParams.get('scope'), /\bexecute:tools\b/, 'asking for the missing scope')
  t.match(stepUpUrl.searchParams.get('scope'), /\bread:profile\b/, 'without losing the one it has')

  const report = await signIn(browser, stepUpUrl, { username: 'carol', callbackUrl: callback.url })
  t.equal(report.prefilledName, 'carol', 'the login page remembers who signed in last')
  t.same(report.consentScopes.find((choice) => choice.scope === 'execute:tools'), { scope: 'execute:tools', checked: true }, 'the declined scope is offered again')
  await transport.finishAuth(await callback.next())

  t.same(await callTool(client, 'echo', { message: 'now allowed' }), { message: 'now allowed' })
  const after = await callTool(client, 'whoami')
  t.same(after.scopes, ['execute:tools', 'read:profile'])
  t.equal(after.sub, 'carol')
  t.equal(provider.registrations, 1, 'no second registration')
})

test('after a restart the same token and the same registered client still work', async (t) => {
  const dir = dataDir(t)
  const port = await freePort()
  const first = await build(t, { listen: true, port, env: { DEV_AUTH_DATA_DIR: dir } })
  const callback = await callbackServer(t)
  const provider = new MemoryOAuthProvider(callback.url)
  const { client } = await connectThroughBrowser(t, await launchBrowser(t), `${first.url}/mcp`, provider, callback, { username: 'dave' })
  t.equal((await callTool(client, 'whoami')).sub, 'dave')
  const token = provider.storedTokens?.access_token
  const refreshToken = provider.storedTokens?.refresh_token
  const clientId = provider.clientInfo?.client_id

  await first.app.close()
  const second = await build(t, { listen: true, port, env: { DEV_AUTH_DATA_DIR: dir } })
  t.equal(second.url, first.url, 'the restarted app is at the same URL')

  t.equal((await callTool(client, 'whoami')).sub, 'dave', 'the token issued before the restart is accepted')
  t.equal(provider.storedTokens?.access_token, token, '(the same token)')

  // An access token the server rejects makes the SDK refresh: that needs the client and the refresh token from before.
  provider.storedTokens = { ...provider.storedTokens!, access_token: 'not-a-token' }
  t.same(await callTool(client, 'echo', { message: 'after restart' }), { message: 'after restart' })
  t.equal(provider.clientInfo?.client_id, clientId, 'the same registered client')
  t.equal(provider.registrations, 1, 'no new registration')
  t.equal(provider.authorizations, 1, 'and no new login')
  t.not(provider.storedTokens?.refresh_token, refreshToken, 'the refresh token was rotated')
  t.not(provider.storedTokens?.access_token, 'not-a-token')
})
