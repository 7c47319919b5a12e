/**
 * Several trusted issuers and opaque tokens: each passes the same rejection rules as
 * a JWT of the primary issuer.
 */
import { test, type Test } from 'tap'
import { build } from '../helper.ts'
import { assertRejected, badJwts } from '../support/rejection-matrix.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

const now = () => Math.floor(Date.now() / 1000)

async function twoIssuers (t: Test) {
  const primary = await startTestIssuer()
  const second = await startTestIssuer()
  t.after(() => Promise.all([primary.stop(), second.stop()]))
  const { app, config } = await build(t, {
    env: {
      OAUTH_ISSUER: primary.issuer,
      OAUTH_AUDIENCE: 'https://primary.example/api',
      OAUTH_EXTRA_ISSUERS: JSON.stringify([{ issuer: second.issuer, audience: ['api://second'] }]),
      // Many rejected tokens from one address on purpose: the per-address failure budget is tested elsewhere.
      RATE_LIMIT_AUTH_FAILURE_MAX: '0'
    }
  })
  const call = (token: string) => app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` },
    payload: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
  })
  return { app, config, primary, second, call }
}

test('a second issuer: its tokens pass, and fail, like the primary\'s', async (t) => {
  const { app, config, primary, second, call } = await twoIssuers(t)
  const audience = `${config.PUBLIC_URL}/mcp`

  const fromSecond = await call(second.mint('api://second', { sub: 'migrated-user' }))
  t.equal(fromSecond.statusCode, 200)
  t.match(JSON.parse(fromSecond.body).result.structuredContent, { sub: 'migrated-user', issuer: second.issuer })
  t.equal((await call(second.mint(audience))).statusCode, 200, 'the resource identifiers are accepted from every issuer')
  t.equal((await call(primary.mint('https://primary.example/api'))).statusCode, 200)

  for (const [name, token, reason] of badJwts(second, audience, 'http://localhost:0/mcp, http://localhost:0, api://second')) {
    await t.test(`second issuer: ${name}`, async (t) => assertRejected(t, await call(token), token, reason))
  }

  await t.test('audiences are per issuer', async (t) => {
    const crossed = second.mint('https://primary.example/api')
    assertRejected(t, await call(crossed), crossed, /audience is https:\/\/primary\.example\/api but this server accepts http:\/\/localhost:0\/mcp, http:\/\/localhost:0, api:\/\/second/)
  })

  await t.test('a token naming one issuer but signed by the other is refused', async (t) => {
    const forged = primary.sign({ iss: second.issuer, sub: 'alice', aud: audience, exp: now() + 600 })
    assertRejected(t, await call(forged), forged, /signing key "[0-9a-f-]+" is not in the JWKS of http:\/\/127\.0\.0\.1:\d+|signature does not match/)
  })

  await t.test('the issuer is chosen before any key is fetched', async (t) => {
    const fetches = primary.jwksFetches + second.jwksFetches
    const stranger = await startTestIssuer()
    t.after(() => stranger.stop())
    const token = stranger.mint(audience)
    assertRejected(t, await call(token), token, /issued by "http:\/\/127\.0\.0\.1:\d+"; this server trusts/)
    t.equal(primary.jwksFetches + second.jwksFetches, fetches)
    t.equal(stranger.jwksFetches + stranger.metadataFetches, 0, 'nothing is fetched from an issuer nobody trusts')
  })

  await t.test('PRM lists every issuer, the primary first', async (t) => {
    const prm = JSON.parse((await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })).body)
    t.same(prm.authorization_servers, [primary.issuer, second.issuer])
  })
})

async function withIntrospection (t: Test, env: Record<string, string> = {}) {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app, config } = await build(t, {
    env: {
      OAUTH_ISSUER: issuer.issuer,
      OAUTH_INTROSPECTION_URL: `${issuer.issuer}/introspect`,
      OAUTH_CLIENT_ID: issuer.introspectionClient.id,
      OAUTH_CLIENT_SECRET: issuer.introspectionClient.secret,
      RATE_LIMIT_AUTH_FAILURE_MAX: '0',
      ...env
    }
  })
  const call = (token: string) => app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` },
    payload: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
  })
  return { issuer, call, audience: `${config.PUBLIC_URL}/mcp` }
}

test('opaque tokens are introspected and held to the same rules', async (t) => {
  const { issuer, call, audience } = await withIntrospection(t)

  const good = issuer.opaque(audience, { sub: 'google-user', scope: 'read:profile' })
  const answer = await call(good)
  t.equal(answer.statusCode, 200)
  t.match(JSON.parse(answer.body).result.structuredContent, { sub: 'google-user', issuer: issuer.issuer, scopes: ['read:profile'] })
  const asked = issuer.introspections
  t.equal((await call(good)).statusCode, 200)
  t.equal(issuer.introspections, asked, 'a repeated token is answered from the cache')

  t.equal((await call(issuer.mint(audience))).statusCode, 200, 'JWTs are still verified locally')
  t.equal(issuer.introspections, asked, 'without introspection')

  const cases: Array<[string, string, RegExp]> = [
    ['unknown to the IdP', 'opaque-not-issued', /not active/],
    ['expired', issuer.opaque(audience, { exp: now() - 120 }), /the token expired at \d{4}-/],
    ['not yet valid', issuer.opaque(audience, { nbf: now() + 600 }), /not valid before/],
    ['wrong audience', issuer.opaque('https://other.example/api'), /audience is https:\/\/other\.example\/api but this server accepts http:\/\/localhost:0\/mcp, http:\/\/localhost:0/],
    ['no audience', issuer.opaque(audience, { aud: undefined }), /audience is \(none\)/],
    ['no sub', issuer.opaque(audience, { sub: undefined }), /no usable sub/],
    ['no exp', issuer.opaque(audience, { exp: undefined }), /no exp/],
    ['another issuer', issuer.opaque(audience, { iss: 'https://evil.example/' }), /says the token was issued by "https:\/\/evil\.example\/"/]
  ]
  for (const [name, token, reason] of cases) {
    await t.test(`opaque: ${name}`, async (t) => assertRejected(t, await call(token), token, reason))
  }

  await t.test('opaque: missing scopes → 403 step-up like a JWT', async (t) => {
    const token = issuer.opaque(audience, { scope: 'openid' })
    const response = await call(token)
    t.equal(response.statusCode, 403)
    t.match(response.headers['www-authenticate'], /error="insufficient_scope"/)
  })

  await t.test('opaque: a JWE still gets the JWE explanation, not an introspection', async (t) => {
    const before = issuer.introspections
    const jwe = 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d'
    assertRejected(t, await call(jwe), jwe, /encrypted \(a JWE\)/)
    t.equal(issuer.introspections, before)
  })
})

test('an introspection endpoint that cannot answer is a 503, not a 401', async (t) => {
  await t.test('down', async (t) => {
    const { issuer, call, audience } = await withIntrospection(t)
    const token = issuer.opaque(audience)
    issuer.down = true
    const response = await call(token)
    t.equal(response.statusCode, 503)
    t.equal(response.headers['retry-after'], '30')
    t.match(JSON.parse(response.body).error.message, /introspection endpoint .* answered HTTP 503/)
  })
  await t.test('refusing our client credentials', async (t) => {
    const { issuer, call, audience } = await withIntrospection(t, { OAUTH_CLIENT_SECRET: 'wrong' })
    const response = await call(issuer.opaque(audience))
    t.equal(response.statusCode, 503)
    t.match(JSON.parse(response.body).error.message, /refused this server's client credentials \(HTTP 401\): check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET/)
  })
})

test('configuration of the new token kinds', async (t) => {
  const { loadConfig } = await import('../../lib/config.ts')
  const base = { OAUTH_ISSUER: 'https://idp.example/' }
  t.throws(() => loadConfig({ ...base, OAUTH_INTROSPECTION_URL: 'https://idp.example/introspect' }), /needs OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET/)
  t.throws(() => loadConfig({ ...base, OAUTH_EXTRA_ISSUERS: '{oops' }), /OAUTH_EXTRA_ISSUERS is not valid JSON/)
  t.throws(() => loadConfig({ ...base, OAUTH_EXTRA_ISSUERS: '[{"audience":["x"]}]' }), /OAUTH_EXTRA_ISSUERS\[0\] is invalid: issuer is required/)
  t.throws(() => loadConfig({ ...base, OAUTH_EXTRA_ISSUERS: '[{"issuer":"https://b/","audience":"x"}]' }), /OAUTH_EXTRA_ISSUERS\[0\]\.audience is invalid/)
  t.throws(() => loadConfig({ ...base, OAUTH_EXTRA_ISSUERS: '[{"issuer":"https://idp.example/"}]' }), /listed twice/)
  t.throws(() => loadConfig({ ...base, OAUTH_EXTRA_ISSUERS: '[{"issuer":"https://b/","introspectionUrl":"https://b/i"}]' }), /no clientId and clientSecret/)
})
