/**
 * The whole OAuth flow against a real authorization server, configured like production:
 * oidc-provider runs in this process as a separate server (DCR, PKCE, resource
 * indicators issuing JWT access tokens) and OAUTH_ISSUER points at it. The MCP SDK's
 * client does the discovery, registration and PKCE; the person answering the login and
 * consent pages is played with plain HTTP form posts.
 */
import { test } from 'tap'
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import { build, freePort } from '../helper.ts'
import { startAuthorizationServer } from '../support/authorization-server.ts'
import { formLogin } from '../support/form-login.ts'
import { callTool, CallbackServer, MemoryOAuthProvider } from '../support/oauth-client.ts'

test('401 → PRM → AS metadata → registration → authorization code with PKCE → token → whoami shows the right sub and scopes', async (t) => {
  const appPort = await freePort()
  const appUrl = `http://127.0.0.1:${appPort}`
  const idp = await startAuthorizationServer(t, { resources: [`${appUrl}/mcp`, appUrl] })
  const { url } = await build(t, { listen: true, port: appPort, env: { OAUTH_ISSUER: idp.issuer } })
  t.equal(url, appUrl)

  const callback = await new CallbackServer().start()
  t.after(() => callback.stop())
  const provider = new MemoryOAuthProvider(callback.url)
  // Every request the client makes, in order: the flow is the sequence.
  const requests: string[] = []
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    const target = new URL(input instanceof Request ? input.url : String(input))
    requests.push(`${init?.method ?? 'GET'} ${target.origin === appUrl ? 'app' : 'idp'} ${target.pathname} ${response.status}`)
    return response
  }
  const connect = async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { authProvider: provider, fetch: recordingFetch })
    const client = new Client({ name: 'full-flow', version: '1.0.0' })
    await client.connect(transport)
    return { client, transport }
  }

  const first = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { authProvider: provider, fetch: recordingFetch })
  await t.rejects(new Client({ name: 'full-flow', version: '1.0.0' }).connect(first), UnauthorizedError, 'no token: the client is sent to log in')
  t.same(requests, [
    'POST app /mcp 401',
    'GET app /.well-known/oauth-protected-resource/mcp 200',
    'GET idp /.well-known/oauth-authorization-server/oauth 200',
    'POST idp /oauth/reg 201'
  ], '401, then Protected Resource Metadata, then the authorization server metadata, then registration')
  t.equal(provider.registrations, 1)

  const authorizationUrl = await provider.nextAuthorizationUrl()
  t.equal(`${authorizationUrl.origin}${authorizationUrl.pathname}`, `${idp.issuer}/auth`)
  t.equal(authorizationUrl.searchParams.get('client_id'), provider.clientInfo?.client_id)
  t.equal(authorizationUrl.searchParams.get('resource'), `${url}/mcp`, 'RFC 8707: this MCP server is the resource')
  t.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256')
  t.match(authorizationUrl.searchParams.get('code_challenge'), /^[\w-]{43}$/, 'a PKCE challenge')

  const { redirect } = await formLogin(authorizationUrl, { username: 'erin', redirectUri: callback.url })
  t.match(redirect.searchParams.get('code'), /\S/, 'an authorization code comes back')
  t.equal(redirect.searchParams.get('iss'), idp.issuer)

  requests.length = 0
  await first.finishAuth(redirect.searchParams)
  t.same(requests, ['POST idp /oauth/token 200'], 'the code is redeemed (with the PKCE verifier) at the token endpoint')
  const accessToken = provider.storedTokens?.access_token ?? ''
  const [header, payload] = accessToken.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>)
  t.match(header, { typ: 'at+jwt', alg: 'RS256' }, 'the access token is a JWT (RFC 9068)')
  t.match(payload, { iss: idp.issuer, aud: `${url}/mcp`, sub: 'erin' }, 'issued for this resource')

  const { client } = await connect()
  t.after(() => client.close())
  const me = await callTool(client, 'whoami')
  t.equal(me.sub, 'erin', 'whoami shows the user who logged in')
  t.same(me.scopes, ['execute:tools', 'read:profile'], 'and the granted scopes')
  t.equal(me.issuer, idp.issuer)
  t.same(me.audience, [`${url}/mcp`])
  t.same(await callTool(client, 'echo', { message: 'via an external IdP' }), { message: 'via an external IdP' })

  const embedded = await fetch(`${url}/oauth/.well-known/openid-configuration`)
  t.equal(embedded.status, 404, 'with OAUTH_ISSUER set the app mounts no authorization server of its own')
})
