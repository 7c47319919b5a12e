/**
 * The three-party demo end to end: the MCP server with its embedded development
 * authorization server, the notes service (examples/notes-api) as a separate server, and
 * MCP clients (the SDK's) logging in as different people. Each person's notes stay
 * theirs; the notes service receives tokens for itself naming the user, never the token
 * the client sent to the MCP server.
 */
import { request as httpRequest } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { Type } from 'typebox'
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import type { FastifyInstance } from 'fastify'
import { buildNotesApi } from '../../examples/notes-api/app.ts'
import { generatePrivateJwk } from '../../lib/backends/jws.ts'
import type { Config } from '../../lib/config.ts'
import { mintDevToken } from '../../lib/dev-auth/token-cli.ts'
import { defineTool, type ToolDefinition } from '../../lib/tool.ts'
import { tools as defaultTools } from '../../tools/index.ts'
import { build, freePort } from '../helper.ts'
import { formLogin } from '../support/form-login.ts'
import { callTool, CallbackServer, connectClient, MemoryOAuthProvider } from '../support/oauth-client.ts'
import { StubBackend } from '../support/stub-backend.ts'

const NOTE_SCOPES = ['notes:read', 'notes:write']

function tempDir (t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Received { method: string, url: string, authorization: string | undefined }

/** The notes service on its own port, trusting the MCP server at `gatewayUrl`; records what it receives. */
async function startNotes (t: Test, gatewayUrl: string): Promise<{ url: string, app: FastifyInstance, received: Received[] }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const app = await buildNotesApi({
    databasePath: join(tempDir(t, 'mcpgw-notes-'), 'notes.sqlite'),
    audience: url,
    trustedIssuer: `${gatewayUrl}/oauth`,
    gatewayUrl,
    keySetCooldownMs: 0
  })
  const received: Received[] = []
  app.addHook('onRequest', async (request) => {
    received.push({ method: request.method, url: request.url, authorization: request.headers.authorization })
  })
  t.after(() => app.close())
  await app.listen({ port, host: '127.0.0.1' })
  return { url, app, received }
}

const backends = (notesUrl: string, overrides: Record<string, unknown> = {}) =>
  JSON.stringify([{ name: 'notes', baseUrl: notesUrl, audience: notesUrl, scopes: NOTE_SCOPES, mode: 'token-exchange', ...overrides }])

/** A person logging in from an MCP client: 401, discovery, registration, the login and consent pages, the code, the token. */
async function logIn (t: Test, mcpUrl: string, username: string) {
  const callback = await new CallbackServer().start()
  t.after(() => callback.stop())
  const provider = new MemoryOAuthProvider(callback.url)
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider })
  await t.rejects(new Client({ name: 'notes-e2e', version: '1.0.0' }).connect(first), UnauthorizedError, `${username}: no token yet, sent to log in`)
  const authorizationUrl = await provider.nextAuthorizationUrl()
  const { redirect, pages } = await formLogin(authorizationUrl, { username, redirectUri: callback.url })
  await first.finishAuth(redirect.searchParams)
  const { client } = await connectClient(mcpUrl, provider)
  t.after(() => client.close())
  return { client, provider, authorizationUrl, pages, inboundToken: provider.storedTokens?.access_token ?? '' }
}

function claimsOf (authorization: string | undefined): Record<string, unknown> {
  return decodeJwt((authorization ?? '').replace(/^Bearer /, ''))
}

test('two people log in from MCP clients; each one\'s notes stay theirs; the notes service never sees their MCP tokens', async (t) => {
  const gatewayPort = await freePort()
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`
  const notes = await startNotes(t, gatewayUrl)
  const { url } = await build(t, { listen: true, port: gatewayPort, env: { BACKENDS: backends(notes.url) } })

  const alice = await logIn(t, `${url}/mcp`, 'alice')
  t.same(alice.authorizationUrl.searchParams.get('scope')?.split(' ').sort(), ['execute:tools', 'notes:read', 'notes:write', 'offline_access', 'read:profile'], 'the notes scopes come from the tools, through the challenge')
  const consent = alice.pages.find((page) => page.html.includes('name="scope"'))?.html ?? ''
  t.match(consent, /value="notes:read"[^>]*checked/, 'the consent page offers notes:read')
  t.match(consent, /List my notes \(notes_list\)/, 'saying which tool it unlocks')
  const bob = await logIn(t, `${url}/mcp`, 'bob')

  const names = (await alice.client.listTools()).tools.map((tool) => tool.name)
  t.same(names, ['whoami', 'echo', 'notes_list', 'notes_add'])

  t.match(await callTool(alice.client, 'notes_add', { text: 'alice: buy milk' }), { note: { id: 1, text: 'alice: buy milk' } })
  await callTool(bob.client, 'notes_add', { text: 'bob: fix the bike' })
  await callTool(alice.client, 'notes_add', { text: 'alice: call mum' })

  const texts = async (client: Client) => ((await callTool(client, 'notes_list')).notes as Array<{ text: string }>).map((note) => note.text)
  t.same(await texts(alice.client), ['alice: call mum', 'alice: buy milk'], 'alice sees her notes, newest first')
  t.same(await texts(bob.client), ['bob: fix the bike'], 'bob sees only his')

  // A 2026-07-28 client goes through the SDK's other leg; the backend client works the same.
  const modern = new Client({ name: 'notes-e2e-modern', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await modern.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${bob.inboundToken}` } } }))
  t.after(() => modern.close())
  t.same(await texts(modern), ['bob: fix the bike'], 'the 2026-07-28 leg reaches the notes as bob too')

  // What the notes service received.
  const calls = notes.received.filter((request) => request.url.startsWith('/notes'))
  t.equal(calls.length, 6)
  for (const request of calls) {
    t.notMatch(request.authorization, alice.inboundToken, 'never alice\'s MCP token')
    t.notMatch(request.authorization, bob.inboundToken, 'never bob\'s MCP token')
    const claims = claimsOf(request.authorization)
    t.equal(claims.aud, notes.url, 'a token for the notes service')
    t.equal(claims.iss, `${url}/oauth`, 'from the issuer both trust')
    t.match(claims, { client_id: 'mcp-gateway', act: { sub: 'mcp-gateway' } }, 'obtained by the MCP server acting for the user')
  }
  t.same(calls.map((request) => claimsOf(request.authorization).sub), ['alice', 'bob', 'alice', 'alice', 'bob', 'bob'], 'naming the user who called')
  t.equal(claimsOf(alice.inboundToken).aud, `${url}/mcp`, '(the MCP tokens were for the MCP server)')
  const byUser = (sub: string) => new Set(calls.filter((request) => claimsOf(request.authorization).sub === sub).map((request) => request.authorization))
  t.equal(byUser('alice').size, 1, 'alice\'s three calls shared one exchange (cached)')
  t.equal(byUser('bob').size, 1, 'bob\'s token on either protocol leg: one exchange too')

  const passthrough = await fetch(`${notes.url}/notes`, { headers: { authorization: `Bearer ${alice.inboundToken}` } })
  t.equal(passthrough.status, 401, 'had the MCP server forwarded alice\'s token, the notes service would have refused it')
})

test('signed-assertion mode: the notes service verifies the MCP server\'s assertions with its published keys, across a key rotation', async (t) => {
  const gatewayPort = await freePort()
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`
  const notes = await startNotes(t, gatewayUrl)
  const dataDir = tempDir(t, 'mcpgw-dev-auth-')
  const keyA = generatePrivateJwk('RS256', 'key-a')
  const keyB = generatePrivateJwk('ES256', 'key-b')
  const start = (keys: object[]) => build(t, {
    listen: true,
    port: gatewayPort,
    env: { DEV_AUTH_DATA_DIR: dataDir, BACKENDS: backends(notes.url, { mode: 'signed-assertion' }), BACKEND_SIGNING_KEYS: JSON.stringify({ keys }) }
  })
  const call = async (config: Config, sub: string, name: string, args: Record<string, unknown> = {}) => {
    const { token } = await mintDevToken(config, { sub, scopes: NOTE_SCOPES, resource: `${config.PUBLIC_URL}/mcp`, ttlSeconds: 600 })
    const response = await fetch(`${config.PUBLIC_URL}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } })
    })
    return { inbound: token, result: (await response.json()).result }
  }

  const first = await start([keyA])
  const added = await call(first.config, 'dave', 'notes_add', { text: 'signed by key a' })
  t.equal(added.result.isError, undefined, JSON.stringify(added.result))
  const sent = notes.received.at(-1)?.authorization ?? ''
  t.notMatch(sent, added.inbound, 'not the inbound token')
  t.equal(decodeProtectedHeader(sent.replace(/^Bearer /, '')).kid, 'key-a')
  const { payload } = await jwtVerify(sent.replace(/^Bearer /, ''), createRemoteJWKSet(new URL(`${gatewayUrl}/.well-known/jwks.json`)), { issuer: gatewayUrl, audience: notes.url })
  t.match(payload, { sub: 'dave', sub_id: { format: 'iss_sub', iss: `${gatewayUrl}/oauth`, sub: 'dave' }, client_id: 'npm-run-token', scope: 'notes:read notes:write' }, 'verifiable with the keys published at /.well-known/jwks.json')
  t.equal((payload.exp as number) - (payload.iat as number), 60)
  await first.app.close()

  // Key b signs from now on; key a stays published for the assertions still in flight.
  const second = await start([keyB, keyA])
  const jwks = await (await fetch(`${gatewayUrl}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string, d?: string }> }
  t.same(jwks.keys.map((key) => key.kid), ['key-b', 'key-a'])
  t.notOk(jwks.keys.some((key) => key.d !== undefined), 'public keys only')
  const listed = await call(second.config, 'dave', 'notes_list')
  t.same(listed.result.structuredContent.notes.map((note: { text: string }) => note.text), ['signed by key a'], 'the notes service learnt key b and dave still sees his note')
  t.equal(decodeProtectedHeader((notes.received.at(-1)?.authorization ?? '').replace(/^Bearer /, '')).kid, 'key-b')
  const replay = await fetch(`${notes.url}/notes`, { headers: { authorization: sent } })
  t.equal(replay.status, 200, 'an assertion signed with key a before the switch is still good for its minute')
  t.same((await call(second.config, 'erin', 'notes_list')).result.structuredContent.notes, [], 'erin has none of dave\'s notes')
})

/** Calls a tool through the MCP endpoint with a token from the embedded development authorization server. */
async function callAs (app: FastifyInstance, config: Config, sub: string, name: string, args: Record<string, unknown> = {}, scopes = NOTE_SCOPES) {
  const { token } = await mintDevToken(config, { sub, scopes, resource: `${config.PUBLIC_URL}/mcp`, ttlSeconds: 600 })
  const response = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }
  })
  if (response.statusCode !== 200) throw new Error(`the MCP endpoint answered HTTP ${response.statusCode}: ${response.body}`)
  return { token, result: response.json().result as { isError?: boolean, content: Array<{ text: string }>, structuredContent?: unknown } }
}

test('exchange refused, backend down, backend too slow: each a tool error the user can read', async (t) => {
  const slow = await new StubBackend().start()
  t.after(() => slow.stop())
  slow.reply = () => {}
  const closed = `http://127.0.0.1:${await freePort()}`
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['the identity provider refuses the exchange', { baseUrl: slow.url, audience: 'http://admin-notes.test', scopes: ['notes:admin'] },
      'Your identity provider would not let this server call the notes backend on your behalf (invalid_scope: the user did not grant notes:admin to the client, so it cannot be exchanged for http://admin-notes.test).',
      'MCPGW_BACKEND_ACCESS_REFUSED'],
    ['the backend is down', { baseUrl: closed, audience: closed, retries: 1 }, 'The notes backend could not be reached (connection refused) after 2 attempts. Try again later.', 'MCPGW_BACKEND_UNREACHABLE'],
    ['the backend does not answer in time', { baseUrl: slow.url, audience: slow.url, timeoutMs: 300, retries: 0 }, 'The notes backend did not answer within 0.3 s. Try again later.', 'MCPGW_BACKEND_TIMEOUT']
  ]
  for (const [what, backend, message, code] of cases) {
    const { app, config, logs } = await build(t, { env: { BACKENDS: backends(String(backend.baseUrl), backend) } })
    const { result } = await callAs(app, config, 'alice', 'notes_list')
    t.equal(result.isError, true, `${what}: an isError result, not an HTTP or JSON-RPC error`)
    t.equal(result.content[0]?.text, message, what)
    await app.close()
    const [event] = logs.audit.filter((audit) => audit.event === 'tool_call' && audit.tool === 'notes_list')
    t.match(event, { decision: 'allowed', outcome: 'error', failure: 'tool_error', sub: 'alice', backend: { name: 'notes', code, status: null } }, `${what}: audited, with the backend and why`)
  }
  t.equal(slow.received.length, 1, 'the refused exchange sent nothing to the backend; the slow one was asked once (retries: 0)')
})

test('the guard through a real tool call: a tool that forwards what it was given cannot send the caller\'s own token', async (t) => {
  const backend = await new StubBackend().start()
  t.after(() => backend.stop())
  const forward = defineTool({
    name: 'forward',
    title: 'Forward',
    description: 'Sends its argument to the notes backend in a header (a tool written carelessly).',
    requiredScopes: ['notes:read'],
    backends: ['notes'],
    input: Type.Object({ value: Type.String() }),
    output: Type.Object({ status: Type.Integer() }),
    async handler ({ value }, { backend: client }) {
      return { status: (await client('notes').fetch('/notes', { headers: { 'x-forwarded': value } })).status }
    }
  })
  const undeclared = defineTool({
    name: 'undeclared',
    title: 'Undeclared',
    description: 'Calls a backend it did not declare.',
    requiredScopes: ['notes:read'],
    backends: ['notes'],
    input: Type.Object({}),
    output: Type.Object({}),
    async handler (_input, { backend: client }) {
      await client('crm').fetch('/')
      return {}
    }
  })
  const { app, config } = await build(t, { env: { BACKENDS: backends(backend.url, { mode: 'signed-assertion' }) }, tools: [...defaultTools, forward, undeclared] as ToolDefinition[] })
  const { token } = await mintDevToken(config, { sub: 'alice', scopes: NOTE_SCOPES, resource: `${config.PUBLIC_URL}/mcp`, ttlSeconds: 600 })
  const call = async (name: string, args: Record<string, unknown>) => (await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }
  })).json().result

  t.same((await call('forward', { value: 'harmless' })).structuredContent, { status: 200 })
  const leaked = await call('forward', { value: `Bearer ${token}` })
  t.equal(leaked.isError, true)
  t.match(leaked.content[0].text, /The forward tool failed unexpectedly; the error is logged under request id/)
  t.equal(backend.received.length, 1, 'the request with the inbound token was never sent')
  t.notMatch(JSON.stringify(backend.received), token)

  const stray = await call('undeclared', {})
  t.equal(stray.isError, true, 'a backend the tool did not declare is refused')
})

test('a client that goes away cancels the backend request', async (t) => {
  const backend = await new StubBackend().start()
  t.after(() => backend.stop())
  backend.reply = () => {}
  const { config } = await build(t, { listen: true, env: { BACKENDS: backends(backend.url, { timeoutMs: 60_000 }) } })
  const { token } = await mintDevToken(config, { sub: 'alice', scopes: NOTE_SCOPES, resource: `${config.PUBLIC_URL}/mcp`, ttlSeconds: 600 })
  const request = httpRequest(`${config.PUBLIC_URL}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` } })
  request.on('error', () => {})
  request.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_list', arguments: {} } }))
  for (let waited = 0; backend.received.length === 0 && waited < 5000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(backend.received.length, 1, 'the tool reached the backend')
  request.destroy()
  for (let waited = 0; backend.received[0]?.closedEarly !== true && waited < 3000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(backend.received[0]?.closedEarly, true, 'and its request was abandoned when the client left')
})

test('tools whose backend is not configured are not offered, and their scopes are not advertised', async (t) => {
  const { app, config } = await build(t)
  const { token } = await mintDevToken(config, { sub: 'alice', scopes: ['read:profile'], resource: `${config.PUBLIC_URL}/mcp`, ttlSeconds: 600 })
  const list = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' }
  })
  t.same(list.json().result.tools.map((tool: { name: string }) => tool.name), ['whoami'])
  t.same((await app.inject('/.well-known/oauth-protected-resource/mcp')).json().scopes_supported, ['read:profile', 'execute:tools'])
  t.equal((await app.inject('/.well-known/jwks.json')).statusCode, 404, 'no assertion keys without signed-assertion backends')

  const configured = await build(t, { env: { BACKENDS: backends('http://127.0.0.1:1') } })
  t.same((await configured.app.inject('/.well-known/oauth-protected-resource/mcp')).json().scopes_supported, ['read:profile', 'execute:tools', 'notes:read', 'notes:write'])
  const denied = await callAs(configured.app, configured.config, 'alice', 'whoami', {}, ['read:profile'])
  t.same((denied.result.structuredContent as { permissions: Array<{ tool: string }> }).permissions.map((permission) => permission.tool), ['whoami', 'echo', 'notes_list', 'notes_add'])
})
