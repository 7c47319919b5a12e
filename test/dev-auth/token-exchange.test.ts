/**
 * Token exchange (RFC 8693) at the embedded development authorization server: only this
 * MCP server's own client may exchange, only its own tokens for the MCP server, only for
 * configured backends, never for more than the user granted; the result is a JWT for the
 * backend naming the user.
 */
import { test, type Test } from 'tap'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { generatePrivateJwk, signingKeyFromJwk, signJwt } from '../../lib/backends/jws.ts'
import { DEV_GATEWAY_CLIENT_ID, devGatewayClient } from '../../lib/dev-auth/gateway-client.ts'
import { loadOrCreateKeys } from '../../lib/dev-auth/keys.ts'
import { mintDevToken } from '../../lib/dev-auth/token-cli.ts'
import { build } from '../helper.ts'
import { json, StubBackend } from '../support/stub-backend.ts'

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const notes = { name: 'notes', baseUrl: 'http://127.0.0.1:1', audience: 'http://notes.test', scopes: ['notes:read', 'notes:write'], mode: 'token-exchange' }

async function setup (t: Test, env: Record<string, string> = {}) {
  const built = await build(t, { env: { BACKENDS: JSON.stringify([notes]), ...env } })
  const { app, config } = built
  const client = await devGatewayClient(config)
  const basic = 'clientSecret' in client ? `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}` : undefined
  const subject = async (sub: string, scopes: string[], overrides: { resource?: string, ttlSeconds?: number } = {}) =>
    (await mintDevToken(config, { sub, scopes, resource: overrides.resource ?? `${config.PUBLIC_URL}/mcp`, ttlSeconds: overrides.ttlSeconds ?? 600 })).token
  /** `authorization` null: no client authentication at all. */
  const exchange = async (form: Record<string, string>, authorization: string | null | undefined = basic) => {
    const response = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(typeof authorization === 'string' && { authorization }) },
      payload: new URLSearchParams(form).toString()
    })
    return { status: response.statusCode, body: response.json() as Record<string, unknown> }
  }
  const jwks = (await app.inject('/oauth/jwks')).json() as JSONWebKeySet
  const verify = (token: string, audience: string) => jwtVerify(token, createLocalJWKSet(jwks), { issuer: config.OAUTH_ISSUER, audience })
  return { ...built, client, basic, subject, exchange, verify }
}

const request = (subjectToken: string, extra: Record<string, string> = {}) => ({
  grant_type: GRANT, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, requested_token_type: ACCESS_TOKEN, audience: 'http://notes.test', ...extra
})

test('the MCP server\'s client exchanges a user\'s token for a JWT for the backend that names the user', async (t) => {
  const { app, config, subject, exchange, verify } = await setup(t)
  const metadata = (await app.inject('/oauth/.well-known/openid-configuration')).json()
  t.ok(metadata.grant_types_supported.includes(GRANT), 'the metadata lists the token-exchange grant')

  const inbound = await subject('alice', ['read:profile', 'notes:read', 'notes:write'], { ttlSeconds: 120 })
  const { status, body } = await exchange(request(inbound))
  t.equal(status, 200)
  t.match(body, { issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', scope: 'notes:read notes:write' })
  t.ok((body.expires_in as number) <= 120 && (body.expires_in as number) > 100, 'it never outlives the token it was exchanged for')
  const token = body.access_token as string
  t.not(token, inbound)
  t.equal(decodeProtectedHeader(token).typ, 'at+jwt')
  const { payload } = await verify(token, 'http://notes.test')
  t.match(payload, { iss: config.OAUTH_ISSUER, aud: 'http://notes.test', sub: 'alice', client_id: DEV_GATEWAY_CLIENT_ID, act: { sub: DEV_GATEWAY_CLIENT_ID }, scope: 'notes:read notes:write' })

  const narrow = await exchange(request(await subject('bob', ['notes:read'])))
  t.equal(narrow.status, 200)
  t.equal(narrow.body.scope, 'notes:read', 'only what the user granted: bob did not grant notes:write')
  t.equal((await verify(narrow.body.access_token as string, 'http://notes.test')).payload.sub, 'bob')

  const asked = await exchange(request(inbound, { scope: 'notes:read' }))
  t.equal(asked.body.scope, 'notes:read', 'a narrower scope can be asked for')
  const byResource = await exchange({ ...request(inbound), audience: '', resource: 'http://notes.test' })
  t.equal(byResource.status, 200, 'the backend may be named as the resource instead')
})

test('what the development server refuses', async (t) => {
  const { config, subject, exchange, basic } = await setup(t)
  const inbound = await subject('alice', ['notes:read'])
  const refusals: Array<[string, Record<string, string>, string | null | undefined, number, string, RegExp]> = [
    ['an unknown backend', request(inbound, { audience: 'https://elsewhere.example' }), basic, 400, 'invalid_target', /exchanges tokens only for http:\/\/notes\.test; https:\/\/elsewhere\.example is not one of them/],
    ['no backend named', { ...request(inbound), audience: '' }, basic, 400, 'invalid_target', /name the backend as the audience/],
    ['a scope the user did not grant', request(inbound, { scope: 'notes:write' }), basic, 400, 'invalid_scope', /the user did not grant notes:write/],
    ['a scope the backend does not have', request(inbound, { scope: 'notes:admin' }), basic, 400, 'invalid_scope', /notes:admin is not a scope of http:\/\/notes\.test/],
    ['a token for another audience', request(await subject('alice', ['notes:read'], { resource: config.PUBLIC_URL })), basic, 200, '', /./],
    ['not a token', request('garbage'), basic, 400, 'invalid_grant', /subject_token is not a JWT access token issued by this server/],
    ['a token signed by someone else', request(signJwt(signingKeyFromJwk(generatePrivateJwk('RS256', 'forged')), { iss: config.OAUTH_ISSUER, sub: 'mallory', aud: `${config.PUBLIC_URL}/mcp`, exp: Math.floor(Date.now() / 1000) + 60, scope: 'notes:read' })), basic, 400, 'invalid_grant', /was not signed by this authorization server/],
    ['another subject token type', request(inbound, { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), basic, 400, 'invalid_request', /subject_token_type must be/],
    ['a wrong client secret', request(inbound), `Basic ${Buffer.from(`${DEV_GATEWAY_CLIENT_ID}:wrong`).toString('base64')}`, 401, 'invalid_client', /./],
    ['no client authentication', request(inbound), null, 400, 'invalid_request', /no client authentication mechanism provided/]
  ]
  for (const [what, form, authorization, status, error, description] of refusals) {
    const answer = await exchange(form, authorization)
    t.equal(answer.status, status, what)
    if (status === 200) continue
    t.equal(answer.body.error, error, what)
    t.match(answer.body.error_description, description, what)
  }

  // The bare origin is a resource identifier of this server too, so that one was accepted above; a backend's token is not.
  const backendToken = (await exchange(request(inbound))).body.access_token as string
  const again = await exchange(request(backendToken))
  t.equal(again.body.error, 'invalid_grant')
  t.match(again.body.error_description, /subject_token is for http:\/\/notes\.test, not for the MCP server that exchanges it/, 'a backend\'s token cannot be traded on')

  // Signed with the development server's own key, but expired.
  const { claims } = await mintDevToken(config, { sub: 'alice', scopes: ['notes:read'], resource: `${config.PUBLIC_URL}/mcp`, ttlSeconds: 60 })
  const [signing] = (await loadOrCreateKeys(config.DEV_AUTH_DATA_DIR)).signing
  const stale = signJwt(signingKeyFromJwk(signing as JsonWebKey), { ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, 'at+jwt')
  t.match((await exchange(request(stale))).body, { error: 'invalid_grant', error_description: /subject_token has expired/ })
})

test('no other client may exchange, even one registered for the grant', async (t) => {
  const { app, subject, exchange } = await setup(t)
  const registration = await app.inject({
    method: 'POST',
    url: '/oauth/reg',
    headers: { 'content-type': 'application/json' },
    payload: { client_name: 'sneaky', redirect_uris: ['http://127.0.0.1:9/cb'], grant_types: ['authorization_code', GRANT], token_endpoint_auth_method: 'client_secret_basic' }
  })
  t.equal(registration.statusCode, 201)
  const { client_id: clientId, client_secret: clientSecret } = registration.json()
  const answer = await exchange(request(await subject('alice', ['notes:read'])), `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`)
  t.equal(answer.status, 400)
  t.match(answer.body, { error: 'unauthorized_client', error_description: /only the MCP server's own client may exchange tokens/ })
})

test('without token-exchange backends there is no token-exchange grant', async (t) => {
  const { app } = await build(t, { env: { BACKENDS: '[]' } })
  const metadata = (await app.inject('/oauth/.well-known/openid-configuration')).json()
  t.notOk(metadata.grant_types_supported.includes(GRANT))
  const registration = await app.inject({
    method: 'POST',
    url: '/oauth/reg',
    headers: { 'content-type': 'application/json' },
    payload: { redirect_uris: ['http://127.0.0.1:9/cb'], grant_types: ['authorization_code', GRANT], token_endpoint_auth_method: 'client_secret_basic' }
  })
  t.match(registration.json(), { error: 'invalid_client_metadata' }, 'no client can register for it')
  const { client_id: clientId, client_secret: clientSecret } = (await app.inject({
    method: 'POST', url: '/oauth/reg', headers: { 'content-type': 'application/json' }, payload: { redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'client_secret_basic' }
  })).json()
  const answer = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    payload: `grant_type=${encodeURIComponent(GRANT)}`
  })
  t.equal(answer.json().error, 'unsupported_grant_type')
})

test('with OAUTH_CLIENT_ID and OAUTH_CLIENT_PRIVATE_KEY the client authenticates with private_key_jwt, end to end', async (t) => {
  const backend = await new StubBackend().start()
  t.after(() => backend.stop())
  backend.reply = (_request, response) => json(response, 200, { notes: [] })
  const key = generatePrivateJwk('ES256', 'gateway-key')
  const { app, config, subject, verify } = await setup(t, {
    OAUTH_CLIENT_ID: 'gateway-pkjwt',
    OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(key),
    BACKENDS: JSON.stringify([{ ...notes, baseUrl: backend.url }])
  })
  const inbound = await subject('carol', ['notes:read'])
  const call = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { authorization: `Bearer ${inbound}`, 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_list', arguments: {} } }
  })
  t.same(call.json().result.structuredContent, { notes: [] })
  const sent = /^Bearer (.+)$/.exec(backend.received[0]?.headers.authorization ?? '')?.[1] ?? ''
  const { payload } = await verify(sent, 'http://notes.test')
  t.match(payload, { sub: 'carol', client_id: 'gateway-pkjwt', act: { sub: 'gateway-pkjwt' } }, 'exchanged by the client the key authenticates')
  t.equal(config.OAUTH_CLIENT_SECRET, undefined, 'no secret anywhere')
})
