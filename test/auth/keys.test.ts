/**
 * Signing keys over time: rotation picked up without a restart, an unreachable IdP
 * with keys already loaded, refetch throttling and negative caching of unknown kids,
 * withdrawn keys. Time is moved by shifting Date.now, never by waiting.
 */
import { test, type Test } from 'tap'
import { build } from '../helper.ts'
import { generateKey, startTestIssuer, type TestIssuer } from '../support/test-issuer.ts'

function shiftClock (t: Test): (ms: number) => void {
  const realNow = Date.now
  let offset = 0
  Date.now = () => realNow() + offset
  t.teardown(() => { Date.now = realNow })
  return (ms) => { offset += ms }
}

async function setup (t: Test): Promise<{ issuer: TestIssuer, call: (token: string) => Promise<number>, audience: string, ready: () => Promise<{ statusCode: number, body: string }> }> {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  // No verified-token cache: every call exercises the key lookup.
  const { app, config } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, TOKEN_CACHE_SIZE: '0', RATE_LIMIT_AUTH_FAILURE_MAX: '0' } })
  const audience = `${config.PUBLIC_URL}/mcp`
  const call = async (token: string) => (await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    payload: '{"jsonrpc":"2.0","id":1,"method":"ping"}'
  })).statusCode
  const ready = async () => app.inject({ method: 'GET', url: '/readyz' })
  return { issuer, call, audience, ready }
}

test('a rotated key is picked up without a restart', async (t) => {
  const advance = shiftClock(t)
  const { issuer, call, audience } = await setup(t)
  t.equal(await call(issuer.mint(audience)), 200)
  t.equal(issuer.jwksFetches, 1)

  const next = issuer.rotate()
  advance(31_000)
  t.equal(await call(issuer.mint(audience, {}, { key: next })), 200, 'a token signed with the new key triggers one refetch')
  t.equal(issuer.jwksFetches, 2)
  t.equal(await call(issuer.mint(audience, {}, { key: issuer.keys[1] })), 200, 'the previous key still verifies while it is published')
  t.equal(issuer.jwksFetches, 2)
})

test('unknown kids: at most one refetch per 30 s, and remembered as unknown', async (t) => {
  const advance = shiftClock(t)
  const { issuer, call, audience } = await setup(t)
  t.equal(await call(issuer.mint(audience)), 200)
  t.equal(issuer.jwksFetches, 1)

  for (let i = 0; i < 25; i++) t.equal(await call(issuer.mint(audience, {}, { key: generateKey() })), 401)
  t.equal(issuer.jwksFetches, 1, 'garbage kids within 30 s of the last fetch cause no fetch at all')

  advance(31_000)
  const stranger = generateKey()
  t.equal(await call(issuer.mint(audience, {}, { key: stranger })), 401)
  t.equal(issuer.jwksFetches, 2, 'after 30 s one unknown kid may refetch')
  for (let i = 0; i < 25; i++) t.equal(await call(issuer.mint(audience, {}, { key: generateKey() })), 401)
  t.equal(issuer.jwksFetches, 2, 'and the next ones wait for the next window')

  advance(31_000)
  t.equal(await call(issuer.mint(audience, {}, { key: stranger })), 401)
  t.equal(issuer.jwksFetches, 2, 'a kid found unknown a moment ago does not refetch again')
})

test('an unreachable IdP: keys already loaded keep working', async (t) => {
  const advance = shiftClock(t)
  const { issuer, call, audience, ready } = await setup(t)
  t.equal(await call(issuer.mint(audience)), 200)
  issuer.down = true
  t.equal(await call(issuer.mint(audience, { sub: 'bob' })), 200, 'a new token signed with a known key verifies from the held keys')

  advance(11 * 60_000)
  t.equal(await call(issuer.mint(audience, { sub: 'carol' })), 200, 'past the refresh interval the failed refresh keeps the old keys')
  await new Promise((resolve) => setTimeout(resolve, 50))
  const readiness = await ready()
  t.equal(readiness.statusCode, 200, 'held keys keep the instance ready')
  t.match(JSON.parse(readiness.body).checks.jwks.issuers[0].error, /HTTP 503/, 'and /readyz shows the failed refresh')
})

test('an unreachable IdP and no keys yet: 503, not a 401 storm', async (t) => {
  const { issuer, call, audience, ready } = await setup(t)
  issuer.down = true
  t.equal(await call(issuer.mint(audience)), 503)
  const readiness = await ready()
  t.equal(readiness.statusCode, 503)
  t.match(JSON.parse(readiness.body), { status: 'not ready', checks: { jwks: { ready: false } } })

  issuer.down = false
  // The failed discovery is retried after the refetch interval; a fresh app recovers on its own.
})

test('a key the IdP withdraws stops verifying after the periodic refresh', async (t) => {
  const advance = shiftClock(t)
  const { issuer, call, audience } = await setup(t)
  const old = issuer.currentKey
  t.equal(await call(issuer.mint(audience)), 200)
  const next = issuer.rotate()
  issuer.keys = [next]

  advance(11 * 60_000)
  t.equal(await call(issuer.mint(audience, {}, { key: old })), 200, 'the access that notices the stale key set still answers from it')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await call(issuer.mint(audience, {}, { key: old })), 401, 'once refreshed, the withdrawn key is gone')
  t.equal(await call(issuer.mint(audience, {}, { key: next })), 200)
})

test('a mismatched issuer in the metadata is reported, and nothing verifies', async (t) => {
  const { issuer, call, audience, ready } = await setup(t)
  issuer.metadataOverrides = { issuer: 'https://someone-else.example/' }
  t.equal(await call(issuer.mint(audience)), 503)
  t.match(JSON.parse((await ready()).body).checks.jwks.issuers[0].error, /names issuer "https:\/\/someone-else\.example\/", not "http:\/\/127\.0\.0\.1:\d+": set OAUTH_ISSUER/)
})
