/**
 * The token exchanger against a token endpoint the test controls: the RFC 8693 request
 * and both ways of client authentication, the cache (per caller and backend, until
 * shortly before expiry, bounded), single-flight, and every failure as a BackendError.
 */
import { test, type Test } from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import type { Caller } from '../../../lib/caller.ts'
import type { BackendConfig } from '../../../lib/config.ts'
import { BackendError } from '../../../lib/backends/errors.ts'
import { generatePrivateJwk, signingKeyFromJwk, signJwt } from '../../../lib/backends/jws.ts'
import { TokenExchanger, type ClientCredentials, type FormPoster } from '../../../lib/backends/token-exchange.ts'
import { ToolError } from '../../../lib/tool.ts'
import { ExchangeIdp } from '../../support/exchange-idp.ts'
import { capturingLogger } from '../../support/log-lines.ts'
import { testCaller } from '../../support/tool-context.ts'

const notes: BackendConfig = { name: 'notes', baseUrl: 'https://notes.internal', audience: 'https://notes.internal', scopes: ['notes:read', 'notes:write'], mode: 'token-exchange' }
const INBOUND = 'inbound.token.for-the-mcp-server'

async function setup (t: Test, { client = { clientId: 'mcp-gateway', clientSecret: 'a secret:+/' } as ClientCredentials, post, maxEntries, grantTypes }: { client?: ClientCredentials, post?: FormPoster, maxEntries?: number, grantTypes?: string[] } = {}) {
  const idp = await new ExchangeIdp().start()
  t.after(() => idp.stop())
  let now = Date.parse('2026-01-01T00:00:00Z')
  const caller = testCaller({ issuer: idp.issuer, scopes: new Set(['notes:read', 'notes:write']) })
  const exchanger = new TokenExchanger({
    issuers: new Map([[idp.issuer, { issuer: idp.issuer, client, tokenEndpoint: async () => ({ url: `${idp.issuer}/token`, grantTypes }) }]]),
    ...(post !== undefined && { post }),
    ...(maxEntries !== undefined && { maxEntries }),
    now: () => now
  })
  const { log, lines } = capturingLogger()
  const token = (overrides: Partial<Parameters<TokenExchanger['token']>[0]> = {}) => exchanger.token({ caller, subjectToken: INBOUND, backend: notes, log, ...overrides })
  return { idp, exchanger, caller, token, lines, clock: { get: () => now, advance: (ms: number) => { now += ms } } }
}

test('an RFC 8693 request at the caller\'s issuer, authenticated with client_secret_basic', async (t) => {
  const { idp, token } = await setup(t)
  const result = await token()
  t.same(result, { accessToken: 'exchanged-1', expiresAt: Date.parse('2026-01-01T00:05:00Z'), cached: false })
  t.equal(idp.requests.length, 1)
  const [request] = idp.requests
  t.same(Object.fromEntries(request?.form ?? []), {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: INBOUND,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: 'https://notes.internal',
    scope: 'notes:read notes:write'
  }, 'the inbound token goes to its own issuer as subject_token, the backend is the audience, its scopes are requested')
  // RFC 6749 §2.3.1: each part form-encoded, then Basic.
  t.equal(request?.headers.authorization, `Basic ${Buffer.from('mcp-gateway:a+secret%3A%2B%2F').toString('base64')}`)

  const { idp: second, token: withResource } = await setup(t)
  await withResource({ backend: { ...notes, resource: 'https://notes.internal/api', scopes: [] } })
  t.equal(second.requests[0]?.form.get('resource'), 'https://notes.internal/api', 'a configured resource indicator is sent too')
  t.equal(second.requests[0]?.form.has('scope'), false, 'no scopes configured, no scope parameter')
})

test('private_key_jwt: a client assertion signed with the configured key, for the token endpoint', async (t) => {
  const key = signingKeyFromJwk(generatePrivateJwk('ES256', 'gw-key-1'))
  const { idp, token } = await setup(t, { client: { clientId: 'mcp-gateway', privateKey: key } })
  await token()
  const form = idp.requests[0]?.form
  t.equal(idp.requests[0]?.headers.authorization, undefined, 'no Basic credentials')
  t.equal(form?.get('client_id'), 'mcp-gateway')
  t.equal(form?.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
  const { payload, protectedHeader } = await jwtVerify(form?.get('client_assertion') ?? '', createLocalJWKSet({ keys: [key.publicJwk] }), {
    issuer: 'mcp-gateway', subject: 'mcp-gateway', audience: `${idp.issuer}/token`, currentDate: new Date('2026-01-01T00:00:10Z')
  })
  t.match(protectedHeader, { alg: 'ES256', kid: 'gw-key-1' })
  t.equal((payload.exp as number) - (payload.iat as number), 60, 'lives a minute')
  t.match(payload.jti, /\S{16,}/, 'with a unique jti (replay protection at the IdP)')
})

test('cached per caller and backend until shortly before expiry', async (t) => {
  const { idp, exchanger, caller, token, clock } = await setup(t)
  t.equal((await token()).cached, false)
  t.same(await token(), { accessToken: 'exchanged-1', expiresAt: Date.parse('2026-01-01T00:05:00Z'), cached: true }, 'the same caller reuses the exchanged token')
  t.equal(idp.requests.length, 1)

  clock.advance(300_000 - 31_000)
  t.equal((await token()).accessToken, 'exchanged-1', 'still used 31 s before it expires')
  clock.advance(2_000)
  t.equal((await token()).accessToken, 'exchanged-2', 'exchanged again 29 s before it expires')

  const other = (overrides: Partial<Caller>) => token({ caller: { ...caller, ...overrides } })
  t.equal((await other({ sub: 'bob' })).accessToken, 'exchanged-3', 'another user: another exchange')
  t.equal((await other({ scopes: new Set(['notes:read']) })).accessToken, 'exchanged-4', 'fewer scopes (another consent): never the broader exchange')
  t.equal((await other({ clientId: 'client-2' })).accessToken, 'exchanged-5', 'another MCP client: another exchange')
  t.equal((await token({ backend: { ...notes, name: 'crm', audience: 'https://crm.internal' } })).accessToken, 'exchanged-6', 'another backend: another exchange')
  t.equal((await token()).accessToken, 'exchanged-2', 'while the first is still cached')
  t.equal((await token({ fresh: true })).accessToken, 'exchanged-7', 'fresh skips (and replaces) the cached token')
  t.equal((await token()).accessToken, 'exchanged-7')
  exchanger.forget(caller, notes)
  t.equal((await token()).accessToken, 'exchanged-8', 'forget drops it')

  idp.answer = (_request, count) => ({ status: 200, body: { access_token: `short-${count}`, token_type: 'Bearer', expires_in: 40 } })
  clock.advance(1_000_000)
  t.equal((await token()).accessToken, 'short-9')
  clock.advance(19_000)
  t.equal((await token()).accessToken, 'short-9', 'a 40 s token is used for its first 20 s (the margin is at most half its life)')
  clock.advance(2_000)
  t.equal((await token()).accessToken, 'short-10')
})

test('lifetime from the token itself when the IdP does not say, else one minute', async (t) => {
  const { idp, token, clock } = await setup(t)
  const jwt = signJwt(signingKeyFromJwk(generatePrivateJwk('ES256')), { exp: Math.floor(clock.get() / 1000) + 120 })
  idp.answer = () => ({ status: 200, body: { access_token: jwt, token_type: 'Bearer' } })
  t.equal((await token()).expiresAt, clock.get() + 120_000, 'exp of a JWT access token')
  idp.answer = () => ({ status: 200, body: { access_token: 'opaque', token_type: 'Bearer' } })
  t.equal((await token({ fresh: true })).expiresAt, clock.get() + 60_000, 'an opaque token without expires_in: a minute')
})

test('concurrent calls for the same caller and backend share one exchange', async (t) => {
  const { idp, caller, token } = await setup(t)
  idp.answer = (_request, count) => ({ status: 200, body: { access_token: `exchanged-${count}`, token_type: 'Bearer', expires_in: 300 }, delayMs: 150 })
  const results = await Promise.all([
    ...Array.from({ length: 10 }, () => token()),
    ...Array.from({ length: 5 }, () => token({ caller: { ...caller, sub: 'bob' } }))
  ])
  t.equal(idp.requests.length, 2, 'ten calls for alice and five for bob: two exchanges')
  t.same(new Set(results.slice(0, 10).map((result) => result.accessToken)).size, 1, 'every alice call got the same token')
  t.not(results[0]?.accessToken, results[10]?.accessToken, 'and bob his own')
  t.same(idp.requests.map((request) => request.form.get('subject_token')), [INBOUND, INBOUND])
})

test('a caller that gives up stops waiting; the shared exchange goes on for the others', async (t) => {
  const { idp, token } = await setup(t)
  idp.answer = () => ({ status: 200, body: { access_token: 'slow', token_type: 'Bearer', expires_in: 300 }, delayMs: 300 })
  const impatient = new AbortController()
  const first = token({ signal: impatient.signal })
  const second = token()
  setTimeout(() => impatient.abort(new Error('the client cancelled')), 50)
  const startedAt = Date.now()
  await t.rejects(first, { message: 'the client cancelled' })
  t.ok(Date.now() - startedAt < 250, 'at once')
  t.equal((await second).accessToken, 'slow')
  t.equal(idp.requests.length, 1)
  t.equal((await token()).cached, true, 'and its result is cached')
})

test('the cache is bounded: the least recently used caller goes first', async (t) => {
  const { idp, exchanger, caller, token } = await setup(t, { maxEntries: 3 })
  const as = (sub: string) => token({ caller: { ...caller, sub } })
  for (const sub of ['u1', 'u2', 'u3']) await as(sub)
  await as('u1')
  await as('u4')
  t.equal(exchanger.size, 3)
  t.equal(idp.requests.length, 4)
  t.equal((await as('u1')).cached, true, 'recently used: kept')
  t.equal((await as('u2')).cached, false, 'least recently used: evicted')
})

test('failures are BackendErrors the user can read; details go to the log; nothing is cached', async (t) => {
  const cases: Array<{ answer: { status: number, body: unknown }, code: string, message: RegExp, grantTypes?: string[] }> = [
    { answer: { status: 400, body: { error: 'invalid_grant', error_description: 'subject_token has expired' } }, code: 'MCPGW_BACKEND_ACCESS_REFUSED', message: /^Your identity provider would not let this server call the notes backend on your behalf \(invalid_grant: subject_token has expired\)\.$/ },
    { answer: { status: 400, body: { error: 'invalid_scope', error_description: 'the user did not grant notes:write' } }, code: 'MCPGW_BACKEND_ACCESS_REFUSED', message: /invalid_scope: the user did not grant notes:write/ },
    { answer: { status: 401, body: { error: 'invalid_client' } }, code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /refused this server's client credentials \(invalid_client\).*operator can find the details in the server log/ },
    { answer: { status: 400, body: { error: 'unsupported_grant_type' } }, grantTypes: ['authorization_code'], code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /does not support token exchange \(its metadata does not list the token-exchange grant\)/ },
    { answer: { status: 503, body: { error: 'temporarily_unavailable' } }, code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /answered temporarily_unavailable/ },
    { answer: { status: 502, body: 'Bad Gateway' }, code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /answered HTTP 502/ },
    { answer: { status: 200, body: { token_type: 'Bearer' } }, code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /without an access_token/ },
    { answer: { status: 200, body: { access_token: INBOUND, token_type: 'Bearer' } }, code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /returned the very token it was given/ },
    { answer: { status: 200, body: { access_token: 'x', token_type: 'DPoP' } }, code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /issued a DPoP token/ },
    { answer: { status: 200, body: { access_token: 'x', token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:id_token' } }, code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /not an access token/ }
  ]
  for (const { answer, code, message, grantTypes } of cases) {
    const { idp, token, lines } = await setup(t, { ...(grantTypes !== undefined && { grantTypes }) })
    idp.answer = () => answer
    const error = await token().catch((caught: unknown) => caught) as BackendError
    t.ok(error instanceof BackendError && error instanceof ToolError, `${JSON.stringify(answer.body)}: a ToolError`)
    t.equal(error.code, code)
    t.equal(error.backend, 'notes')
    t.match(error.message, message)
    t.notMatch(error.message, new RegExp(INBOUND.replace(/\./g, '\\.')), 'never the token')
    t.ok(lines.some((line) => line.backend === 'notes' && (line.level as number) >= 40), 'logged for the operator')
    idp.answer = () => ({ status: 200, body: { access_token: 'finally', token_type: 'Bearer', expires_in: 300 } })
    t.equal((await token()).accessToken, 'finally', 'a failure is not cached: the next call exchanges again')
  }
})

test('an IdP that cannot be reached or does not answer in time', async (t) => {
  const unreachable = await setup(t)
  await unreachable.idp.stop()
  await t.rejects(unreachable.token(), { code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /identity provider could not be reached/ })

  const timeout: FormPoster = async () => { throw new DOMException('The operation was aborted due to timeout', 'TimeoutError') }
  const slow = await setup(t, { post: timeout })
  await t.rejects(slow.token(), { code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE', message: /did not answer within 5 s/ })

  const stranger = await setup(t)
  await t.rejects(stranger.token({ caller: testCaller({ issuer: 'https://other-idp.example/' }) }), {
    code: 'MCPGW_BACKEND_ACCESS_UNAVAILABLE',
    message: /no client at your identity provider \(https:\/\/other-idp\.example\/\)/
  })
  t.equal(stranger.idp.requests.length, 0)
})
