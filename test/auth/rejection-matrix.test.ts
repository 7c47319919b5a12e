/**
 * No bad token gets through: each gets a 401 with a Bearer challenge that points at
 * the Protected Resource Metadata, says invalid_token, and explains what is wrong
 * without echoing the token.
 */
import { test } from 'tap'
import { createSigner } from 'fast-jwt'
import { build } from '../helper.ts'
import { generateKey, startTestIssuer } from '../support/test-issuer.ts'

const now = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

test('the token rejection matrix', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app, config } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer } })
  const audience = `${config.PUBLIC_URL}/mcp`
  const call = (authorization: string | undefined, url = '/mcp') => app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...(authorization !== undefined && { authorization }) },
    payload: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
  })

  const valid = issuer.mint(audience)
  const [header, payload, signature] = valid.split('.') as [string, string, string]
  const otherKey = generateKey('RS256', issuer.currentKey.kid)
  const publicPem = issuer.currentKey.publicKey.export({ type: 'spki', format: 'pem' }) as string

  const cases: Array<[string, string, RegExp]> = [
    ['expired', issuer.mint(audience, { exp: now() - 120, iat: now() - 720 }), /the token expired at \d{4}-/],
    ['not yet valid', issuer.mint(audience, { nbf: now() + 600 }), /not valid before \d{4}-/],
    ['issued in the future', issuer.mint(audience, { iat: now() + 600, exp: now() + 1200 }), /issued in the future/],
    ['wrong issuer', issuer.mint(audience, { iss: 'https://evil.example/' }), /issued by "https:\/\/evil\.example\/"; this server trusts http:\/\/127\.0\.0\.1/],
    ['wrong audience', issuer.mint('https://other.example/api'), /audience is https:\/\/other\.example\/api but this server accepts http:\/\/localhost:0\/mcp, http:\/\/localhost:0: the client must request the resource/],
    ['no audience', issuer.mint(audience, { aud: undefined }), /no aud claim/],
    ['tampered payload', `${header}.${b64({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' })}.${signature}`, /signature does not match/],
    ['signed by another key (same kid)', issuer.mint(audience, {}, { key: otherKey }), /signature does not match/],
    ['unknown kid', issuer.mint(audience, {}, { key: generateKey() }), /signing key "[0-9a-f-]+" is not in the JWKS/],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, /signed with "none"; accepted algorithms are RS256/],
    ['HS256 with the public key as secret', createSigner({ key: publicPem, algorithm: 'HS256', kid: issuer.currentKey.kid })({ iss: issuer.issuer, sub: 'alice', aud: audience, exp: now() + 600 }), /signed with "HS256"/],
    ['JWE (5 segments)', `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, /encrypted \(a JWE\).*request the resource http:\/\/localhost:0\/mcp/],
    ['garbage', 'not-a-jwt', /not a JWT/],
    ['unreadable payload', `${header}.%%%%.${signature}`, /payload is not base64url-encoded JSON/],
    ['oversized header', `${b64({ alg: 'RS256', kid: issuer.currentKey.kid, pad: 'x'.repeat(9000) })}.${payload}.${signature}`, /larger than 8192 bytes/],
    ['no sub', issuer.mint(audience, { sub: undefined }), /no sub claim/],
    ['empty sub', issuer.mint(audience, { sub: '' }), /no usable sub/],
    ['no exp', issuer.mint(audience, { exp: undefined }), /no exp claim/]
  ]

  for (const [name, token, reason] of cases) {
    await t.test(name, async (t) => {
      const response = await call(`Bearer ${token}`)
      t.equal(response.statusCode, 401)
      const challenge = response.headers['www-authenticate'] as string
      t.match(challenge, /^Bearer resource_metadata="http:\/\/localhost:0\/\.well-known\/oauth-protected-resource\/mcp", scope="read:profile execute:tools", error="invalid_token", error_description="/)
      t.match(response.headers['access-control-expose-headers'], /WWW-Authenticate/)
      const body = JSON.parse(response.body) as { error: string, error_description: string }
      t.equal(body.error, 'invalid_token')
      t.match(body.error_description, reason)
      t.notOk(response.body.includes(token), 'the body does not echo the token')
      t.notOk(challenge.includes(token), 'the challenge does not echo the token')
    })
  }

  await t.test('control: the valid token passes, also within the clock tolerance', async (t) => {
    t.equal((await call(`Bearer ${valid}`)).statusCode, 200)
    t.equal((await call(`Bearer ${issuer.mint(audience, { exp: now() - 10 })}`)).statusCode, 200, '10 s past exp is inside the 30 s tolerance')
  })

  await t.test('the root resource identifier is accepted, with or without a trailing slash', async (t) => {
    for (const aud of [config.PUBLIC_URL, `${config.PUBLIC_URL}/`, `${audience}/`, ['https://other.example', audience]]) {
      t.equal((await call(`Bearer ${issuer.mint(aud)}`)).statusCode, 200, JSON.stringify(aud))
    }
  })

  await t.test('no token: 401 with a challenge but no error code', async (t) => {
    for (const authorization of [undefined, 'Basic YWxpY2U6c2VjcmV0', 'Bearer ', 'Bearer']) {
      const response = await call(authorization)
      t.equal(response.statusCode, 401, String(authorization))
      t.equal(response.headers['www-authenticate'], 'Bearer resource_metadata="http://localhost:0/.well-known/oauth-protected-resource/mcp", scope="read:profile execute:tools"')
    }
    const atRoot = await call(undefined, '/')
    t.equal(atRoot.headers['www-authenticate'], 'Bearer resource_metadata="http://localhost:0/.well-known/oauth-protected-resource", scope="read:profile execute:tools"', 'the root endpoint points at the root metadata')
  })

  await t.test('a token in the query string is refused even with a valid header', async (t) => {
    const response = await app.inject({ method: 'POST', url: `/mcp?access_token=${valid}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${valid}` }, payload: '{"jsonrpc":"2.0","id":1,"method":"ping"}' })
    t.equal(response.statusCode, 400)
    t.match(response.headers['www-authenticate'], /error="invalid_request"/)
    t.equal(JSON.parse(response.body).error, 'invalid_request')
  })
})
