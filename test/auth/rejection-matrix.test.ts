/**
 * No bad token gets through: each gets a 401 with a Bearer challenge that points at
 * the Protected Resource Metadata, says invalid_token, and explains what is wrong
 * without echoing the token.
 */
import { test } from 'tap'
import { build } from '../helper.ts'
import { assertRejected, badJwts } from '../support/rejection-matrix.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

const now = () => Math.floor(Date.now() / 1000)

test('the token rejection matrix', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  // Many rejected tokens from one address on purpose: the per-address failure budget is tested elsewhere.
  const { app, config } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, RATE_LIMIT_AUTH_FAILURE_MAX: '0' } })
  const audience = `${config.PUBLIC_URL}/mcp`
  const call = (authorization: string | undefined, url = '/mcp') => app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...(authorization !== undefined && { authorization }) },
    payload: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
  })

  const valid = issuer.mint(audience)
  for (const [name, token, reason] of badJwts(issuer, audience, 'http://localhost:0/mcp, http://localhost:0')) {
    await t.test(name, async (t) => assertRejected(t, await call(`Bearer ${token}`), token, reason))
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
