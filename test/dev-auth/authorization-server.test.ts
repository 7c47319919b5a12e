/**
 * The embedded development authorization server over HTTP: discovery, registration
 * policy, PKCE, resource indicators, default scopes, the pages' answers to bad input,
 * and refusing to run where it must not.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { test } from 'tap'
import authorizationServer from '../../lib/dev-auth/authorization-server.ts'
import { ToolRegistry } from '../../lib/tool-registry.ts'
import { tools } from '../../tools/index.ts'
import { build, freePort } from '../helper.ts'
import { formLogin } from '../support/form-login.ts'

const REDIRECT = 'http://127.0.0.1:9/callback'

async function register (baseUrl: string, metadata: Record<string, unknown>) {
  const response = await fetch(`${baseUrl}/oauth/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

async function publicClient (baseUrl: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { status, body } = await register(baseUrl, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...extra })
  if (status !== 201) throw new Error(`registration failed: ${JSON.stringify(body)}`)
  return body.client_id as string
}

function pkce () {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

function authorizationUrl (baseUrl: string, params: Record<string, string | undefined>): URL {
  const url = new URL(`${baseUrl}/oauth/auth`)
  for (const [name, value] of Object.entries({ response_type: 'code', redirect_uri: REDIRECT, state: 'st', ...params })) {
    if (value !== undefined) url.searchParams.set(name, value)
  }
  return url
}

async function redeem (baseUrl: string, clientId: string, code: string, verifier: string) {
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId })
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

function claimsOf (jwt: unknown): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(jwt).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
}

test('discovery: the issuer\'s metadata at both well-known locations, mirrored at the MCP origin and named by PRM', async (t) => {
  const { url } = await build(t, { listen: true })
  const issuer = `${url}/oauth`
  const appended = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
  t.match(appended, {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/reg`,
    jwks_uri: `${issuer}/jwks`,
    code_challenge_methods_supported: ['S256'],
    response_types_supported: ['code'],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true
  })
  t.same(appended.scopes_supported, ['openid', 'offline_access', 'read:profile', 'execute:tools'], 'the tool scopes come from the registry')
  t.notOk('dpop_signing_alg_values_supported' in appended, 'no DPoP: the resource server takes Bearer tokens')
  t.notOk('pushed_authorization_request_endpoint' in appended)

  const inserted = await fetch(`${url}/.well-known/oauth-authorization-server/oauth`)
  t.equal(inserted.status, 200, 'RFC 8414 path insertion')
  t.same(await inserted.json(), await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json())
  t.match(await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json(), { issuer }, 'mirrored for 2025-03-26 clients')
  t.match(await (await fetch(`${url}/.well-known/oauth-protected-resource/mcp`)).json(), { resource: `${url}/mcp`, authorization_servers: [issuer] })
})

test('registration: every kind of redirect URI MCP clients use, and http only on loopback', async (t) => {
  const { url } = await build(t, { listen: true })
  const cases: Array<[string, string[], string]> = [
    ['ChatGPT', ['https://chatgpt.com/connector/oauth/abc'], 'web'],
    ['MCP Inspector', ['http://localhost:6274/oauth/callback'], 'web'],
    ['VS Code', ['http://127.0.0.1:33418', 'https://vscode.dev/redirect'], 'web'],
    ['Cursor', ['cursor://anysphere.cursor-mcp/oauth/callback'], 'native']
  ]
  for (const [client, redirectUris, applicationType] of cases) {
    const { status, body } = await register(url, { client_name: client, redirect_uris: redirectUris, token_endpoint_auth_method: 'none' })
    t.equal(status, 201, `${client} registers`)
    t.equal(body.application_type, applicationType, `${client} as a ${applicationType} client`)
  }
  const refused = await register(url, { redirect_uris: ['http://evil.example/callback'], token_endpoint_auth_method: 'none' })
  t.equal(refused.status, 400)
  t.match(refused.body, { error: 'invalid_redirect_uri', error_description: /http only on localhost.*http:\/\/evil\.example\/callback must use https/ })
  t.match((await register(url, { redirect_uris: ['javascript:alert(1)'] })).body, { error: 'invalid_redirect_uri' })

  const preflight = await fetch(`${url}/oauth/reg`, { method: 'OPTIONS', headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST' } })
  t.equal(preflight.status, 204, 'browser-based clients may register cross-origin')
  t.equal(preflight.headers.get('access-control-allow-origin'), '*')
  const response = await fetch(`${url}/oauth/reg`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://localhost:6274' }, body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }) })
  t.equal(response.headers.get('access-control-allow-origin'), '*')
})

test('PKCE is required and the resource must be this server', async (t) => {
  const { url } = await build(t, { listen: true })
  const clientId = await publicClient(url)
  const noPkce = await fetch(authorizationUrl(url, { client_id: clientId, scope: 'read:profile' }), { redirect: 'manual' })
  const noPkceRedirect = new URL(noPkce.headers.get('location') ?? '', url)
  t.equal(noPkceRedirect.searchParams.get('error'), 'invalid_request')
  t.match(noPkceRedirect.searchParams.get('error_description'), /requires PKCE/)

  const { challenge } = pkce()
  const plain = await fetch(authorizationUrl(url, { client_id: clientId, code_challenge: challenge, code_challenge_method: 'plain' }), { redirect: 'manual' })
  t.equal(new URL(plain.headers.get('location') ?? '', url).searchParams.get('error'), 'invalid_request', 'only S256')

  const elsewhere = await fetch(authorizationUrl(url, { client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256', resource: 'https://other.example/mcp' }), { redirect: 'manual' })
  const refused = new URL(elsewhere.headers.get('location') ?? '', url)
  t.equal(refused.searchParams.get('error'), 'invalid_target')
  t.match(refused.searchParams.get('error_description'), /only issues tokens for .*\/mcp/)
})

test('a request without scope or resource gets every tool scope, for this server\'s /mcp', async (t) => {
  const { url } = await build(t, { listen: true })
  const clientId = await publicClient(url)
  const { verifier, challenge } = pkce()
  const { redirect, pages } = await formLogin(authorizationUrl(url, { client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256' }), { username: 'frank', redirectUri: REDIRECT })
  t.match(pages.at(-1)?.html, /value="read:profile" checked[\s\S]*value="execute:tools" checked/, 'the consent page offers the tool scopes')
  const { status, body } = await redeem(url, clientId, redirect.searchParams.get('code') ?? '', verifier)
  t.equal(status, 200)
  t.equal(body.scope, 'read:profile execute:tools')
  t.match(claimsOf(body.access_token), { aud: `${url}/mcp`, sub: 'frank', scope: 'read:profile execute:tools', client_id: clientId })
  t.match(body.refresh_token, /\S/, 'a client registered for refresh tokens gets one without asking for offline_access')
})

test('declining offline_access means no refresh token; other scopes are still granted', async (t) => {
  const { url } = await build(t, { listen: true })
  const clientId = await publicClient(url)
  const { verifier, challenge } = pkce()
  const { redirect, pages } = await formLogin(authorizationUrl(url, {
    // prompt=consent: without it OpenID Connect drops offline_access before anyone is asked (the SDK sends it too).
    client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256', resource: url, scope: 'read:profile offline_access', prompt: 'consent'
  }), { username: 'grace', decline: ['offline_access'], redirectUri: REDIRECT })
  t.match(pages.at(-1)?.html, /value="offline_access" checked/, 'offline_access was offered, ticked')
  const { body } = await redeem(url, clientId, redirect.searchParams.get('code') ?? '', verifier)
  t.equal(body.scope, 'read:profile')
  t.equal(claimsOf(body.access_token).aud, url, 'the bare origin is a resource too')
  t.notOk('refresh_token' in body, 'no refresh token')
})

test('the pages: answers to bad input, Deny, and their security headers', async (t) => {
  const { url } = await build(t, { listen: true })
  const clientId = await publicClient(url, { client_name: '<script>alert(1)</script>' })
  const { challenge } = pkce()
  const start = await fetch(authorizationUrl(url, { client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256', scope: 'read:profile' }), { redirect: 'manual' })
  t.equal(start.status, 303)
  const cookies = start.headers.getSetCookie().map((cookie) => cookie.split(';')[0]).join('; ')
  const pageUrl = new URL(start.headers.get('location') ?? '', url)
  t.match(pageUrl.pathname, /^\/oauth\/interaction\/[\w-]+$/)

  const page = await fetch(pageUrl, { headers: { cookie: cookies } })
  t.equal(page.status, 200)
  const html = await page.text()
  t.match(html, /Development authorization server/, 'marked as a development server')
  t.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'client names are escaped')
  t.notMatch(html, /<script/)
  t.match(page.headers.get('content-security-policy'), /default-src 'none'; style-src 'sha256-[\w+/=]+'; img-src 'self' data:; form-action 'self' http:\/\/127\.0\.0\.1:9; frame-ancestors 'none'/)
  t.equal(page.headers.get('cache-control'), 'no-store')

  const empty = await fetch(`${pageUrl}/login`, { method: 'POST', headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=%20%20' })
  t.equal(empty.status, 400)
  t.match(await empty.text(), /aria-invalid="true"[\s\S]*role="alert">Type a name to sign in as\./)

  const denied = await fetch(`${pageUrl}/abort`, { method: 'POST', headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' })
  t.equal(denied.status, 303)
  const resumed = await fetch(new URL(denied.headers.get('location') ?? '', url), { headers: { cookie: cookies }, redirect: 'manual' })
  const answer = new URL(resumed.headers.get('location') ?? '')
  t.equal(`${answer.origin}${answer.pathname}`, REDIRECT)
  t.equal(answer.searchParams.get('error'), 'access_denied', 'Deny answers the client with access_denied')

  const stale = await fetch(`${url}/oauth/interaction/no-such-interaction`)
  t.equal(stale.status, 400)
  t.match(await stale.text(), /This sign-in has expired, was finished already, or was started in another browser/)
})

test('not mounted when an identity provider is configured', async (t) => {
  const { app } = await build(t, { env: { OAUTH_ISSUER: 'https://example.auth0.com/' } })
  t.equal((await app.inject('/oauth/.well-known/openid-configuration')).statusCode, 404)
  t.equal((await app.inject('/.well-known/oauth-authorization-server/oauth')).statusCode, 404)
})

test('without the oidc-provider package the start fails saying what to do', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  const missing = Object.assign(new Error("Cannot find package 'oidc-provider' imported from /app/lib/dev-auth/provider.ts"), { code: 'ERR_MODULE_NOT_FOUND' })
  app.register(authorizationServer, {
    issuer: 'http://localhost:3000/oauth',
    resources: ['http://localhost:3000/mcp'],
    tools: [],
    dataDir: '/nonexistent',
    accessTokenTtlSeconds: 600,
    resourceName: 'MCP Gateway',
    loadProvider: async () => { throw missing }
  })
  await t.rejects(async () => { await app.ready() }, /needs the oidc-provider package, a devDependency that is not installed here: run `npm install` with dev dependencies, or set OAUTH_ISSUER/)
})

test('Client ID Metadata Documents: a client known by its https URL, under the same redirect URI policy', async (t) => {
  const documents: Record<string, Record<string, unknown>> = {
    'https://client.example/mcp-client.json': { client_name: 'Example CIMD client', redirect_uris: ['cursor://example.mcp/callback'] },
    'https://careless.example/mcp-client.json': { client_name: 'Careless', redirect_uris: ['http://careless.example/callback'] }
  }
  const fetched: string[] = []
  const fetchClientMetadata: typeof fetch = async (input) => {
    const url = String(input)
    fetched.push(url)
    const document = documents[url]
    if (document === undefined) return new Response('not found', { status: 404 })
    return Response.json({ client_id: url, token_endpoint_auth_method: 'none', ...document }, { headers: { 'cache-control': 'max-age=60' } })
  }
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const app = Fastify()
  t.after(() => app.close())
  const dataDir = mkdtempSync(join(tmpdir(), 'mcpgw-cimd-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  await app.register(authorizationServer, {
    issuer: `${base}/oauth`, resources: ['http://127.0.0.1:1/mcp'], tools: new ToolRegistry(tools).summaries, dataDir, accessTokenTtlSeconds: 600, resourceName: 'MCP Gateway', fetchClientMetadata
  })
  await app.listen({ port, host: '127.0.0.1' })

  const { challenge } = pkce()
  const start = await fetch(authorizationUrl(base, {
    client_id: 'https://client.example/mcp-client.json', redirect_uri: 'cursor://example.mcp/callback', code_challenge: challenge, code_challenge_method: 'S256', scope: 'read:profile'
  }), { redirect: 'manual' })
  t.equal(start.status, 303, 'the authorization request is accepted without registration')
  t.same(fetched, ['https://client.example/mcp-client.json'], 'the client metadata came from its URL')
  const page = await fetch(new URL(start.headers.get('location') ?? '', base), { headers: { cookie: start.headers.getSetCookie().map((cookie) => cookie.split(';')[0]).join('; ') } })
  const html = await page.text()
  t.match(html, /<strong>Example CIMD client<\/strong> wants to use/, 'the login page names the client from its document')
  t.match(page.headers.get('content-security-policy'), /form-action 'self' cursor:;/, 'the answer may go to the app\'s own scheme')
  t.match(html, /return to <code>cursor:\/\/example\.mcp<\/code>/)

  const careless = await fetch(authorizationUrl(base, {
    client_id: 'https://careless.example/mcp-client.json', redirect_uri: 'http://careless.example/callback', code_challenge: challenge, code_challenge_method: 'S256'
  }), { redirect: 'manual' })
  t.equal(careless.status, 400, 'a document with an http redirect URI off loopback is refused')
  t.match(await careless.text(), /http only on localhost/)
})
