/**
 * The backend client tools get from `ctx.backend(name)`, against a backend the test
 * controls: paths and credentials, the inbound-token guard, retries for idempotent
 * requests only, timeouts, cancellation, renewal of a refused exchanged token, and the
 * JSON helper's errors.
 */
import { test, type Test } from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import pino from 'pino'
import type { BackendConfig } from '../../../lib/config.ts'
import { Backends } from '../../../lib/backends/backends.ts'
import { BackendError, InboundTokenLeakError } from '../../../lib/backends/errors.ts'
import { generatePrivateJwk, signingKeyFromJwk } from '../../../lib/backends/jws.ts'
import { AssertionSigner } from '../../../lib/backends/signed-assertion.ts'
import { TokenExchanger } from '../../../lib/backends/token-exchange.ts'
import { freePort } from '../../helper.ts'
import { ExchangeIdp } from '../../support/exchange-idp.ts'
import { json, StubBackend } from '../../support/stub-backend.ts'
import { testCaller } from '../../support/tool-context.ts'

const INBOUND = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.the-inbound-signature'
const log = pino({ level: 'silent' })
const signer = new AssertionSigner('https://mcp.example', [signingKeyFromJwk(generatePrivateJwk('ES256', 'k1'))])
const caller = testCaller({ scopes: new Set(['notes:read', 'notes:write']) })

async function stub (t: Test): Promise<StubBackend> {
  const backend = await new StubBackend().start()
  t.after(() => backend.stop())
  return backend
}

function clientFor (config: Partial<BackendConfig> & { baseUrl: string }, { signal = new AbortController().signal, exchanger }: { signal?: AbortSignal, exchanger?: TokenExchanger } = {}) {
  const backend: BackendConfig = { name: 'notes', audience: 'https://notes.example', scopes: ['notes:read', 'notes:write'], mode: 'signed-assertion', ...config }
  return new Backends({ backends: [backend], signer, exchanger }).session(caller, INBOUND).client('notes', { signal, log })
}

test('requests go under the base URL, with a credential for the backend and never the inbound token', async (t) => {
  const backend = await stub(t)
  const client = clientFor({ baseUrl: `${backend.url}/api/` })
  const response = await client.fetch('/notes', { query: { limit: 5, cursor: undefined, all: true } })
  t.equal(response.status, 200)
  t.same(await client.json('notes/7', { method: 'PUT', body: { text: 'hi' }, headers: { 'X-Trace': 'abc' } }), { ok: true })

  t.same(backend.received.map((request) => `${request.method} ${request.url}`), ['GET /api/notes?limit=5&all=true', 'PUT /api/notes/7'])
  const [first, second] = backend.received
  t.equal(second?.body, '{"text":"hi"}')
  t.match(second?.headers, { 'content-type': 'application/json', accept: 'application/json', 'x-trace': 'abc' })
  const assertion = /^Bearer (.+)$/.exec(first?.headers.authorization ?? '')?.[1] ?? ''
  const { payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: [...signer.jwks.keys] }), { issuer: 'https://mcp.example', audience: 'https://notes.example' })
  t.equal(payload.sub, 'alice', 'the backend learns who the user is from the credential')
  for (const request of backend.received) t.notMatch(JSON.stringify(request), INBOUND, 'the inbound token is nowhere in what the backend received')
  t.not(first?.headers.authorization, second?.headers.authorization, 'each request gets a fresh assertion')
})

test('paths cannot leave the base URL, and the Authorization header is the client\'s', async (t) => {
  const backend = await stub(t)
  const client = clientFor({ baseUrl: `${backend.url}/api` })
  for (const path of ['https://evil.example/steal', '//evil.example/steal', '../admin', '/notes/../../admin', 'notes\\..\\..\\admin']) {
    await t.rejects(client.fetch(path), /is not a path|leads outside its base URL/, path)
  }
  await t.rejects(client.fetch('/notes', { headers: { Authorization: 'Bearer mine' } }), /the Authorization header is the backend client's to set/)
  await t.rejects(client.fetch('/notes', { body: 'x' }), /a GET request has no body/)
  await t.rejects(client.fetch('/notes', { method: 'GET /x' }), /is not an HTTP method/)
  t.equal(backend.received.length, 0, 'nothing was sent')
})

test('the guard: a request carrying the inbound token anywhere is refused before it is sent', async (t) => {
  const backend = await stub(t)
  const client = clientFor({ baseUrl: backend.url })
  const attempts: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['in the query', () => client.fetch('/notes', { query: { token: INBOUND } }), /its URL contains the caller's inbound access token/],
    ['in the path', () => client.fetch(`/notes/${INBOUND}`), /its URL/],
    ['in a header', () => client.fetch('/notes', { headers: { 'X-Forwarded-Authorization': `Bearer ${INBOUND}` } }), /its x-forwarded-authorization header/],
    ['in a JSON body', () => client.json('/notes', { method: 'POST', body: { note: `my token is ${INBOUND}` } }), /its body/],
    ['in a form', () => client.fetch('/notes', { method: 'POST', body: new URLSearchParams({ assertion: INBOUND }) }), /its body/],
    ['in bytes', () => client.fetch('/notes', { method: 'POST', body: new TextEncoder().encode(`{"t":"${INBOUND}"}`) }), /its body/]
  ]
  for (const [where, attempt, message] of attempts) {
    const error = await attempt().catch((caught: unknown) => caught)
    t.ok(error instanceof InboundTokenLeakError, `${where}: refused`)
    t.match((error as Error).message, message)
    t.equal((error as InboundTokenLeakError).code, 'MCPGW_INBOUND_TOKEN_LEAK')
  }
  t.equal(backend.received.length, 0, 'nothing was sent')

  // An IdP that answers the exchange with a token that embeds the inbound one.
  const idp = await new ExchangeIdp().start()
  t.after(() => idp.stop())
  idp.answer = () => ({ status: 200, body: { access_token: `${INBOUND}.wrapped`, token_type: 'Bearer', expires_in: 300 } })
  const exchanger = new TokenExchanger({ issuers: new Map([[caller.issuer, { issuer: caller.issuer, client: { clientId: 'gw', clientSecret: 's' }, tokenEndpoint: async () => ({ url: `${idp.issuer}/token`, grantTypes: undefined }) }]]) })
  const exchanging = clientFor({ baseUrl: backend.url, mode: 'token-exchange' }, { exchanger })
  await t.rejects(exchanging.fetch('/notes'), { name: 'InboundTokenLeakError', message: /its Authorization header contains the caller's inbound access token/ })
  t.equal(backend.received.length, 0, 'not sent either')
})

test('retries: idempotent requests on 502/503/504, never the others', async (t) => {
  const backend = await stub(t)
  let failures = 0
  backend.reply = (_request, response) => failures-- > 0 ? json(response, 503, { error: 'busy' }) : json(response, 200, { ok: true })
  const client = clientFor({ baseUrl: backend.url, retries: 2 })

  for (const method of ['GET', 'PUT', 'DELETE']) {
    failures = 2
    backend.received.length = 0
    t.equal((await client.fetch('/notes', { method })).status, 200, `${method}: succeeds on the third attempt`)
    t.equal(backend.received.length, 3)
  }
  failures = 3
  backend.received.length = 0
  t.equal((await client.fetch('/notes')).status, 503, 'retries are bounded: the last answer is returned')
  t.equal(backend.received.length, 3, 'one attempt and two retries')

  for (const method of ['POST', 'PATCH']) {
    failures = 1
    backend.received.length = 0
    t.equal((await client.fetch('/notes', { method, body: '{}' })).status, 503, `${method}: not retried`)
    t.equal(backend.received.length, 1, `${method} was sent once`)
  }
  failures = 1
  backend.received.length = 0
  await t.rejects(client.json('/notes', { method: 'POST', body: { text: 'once' } }), { code: 'MCPGW_BACKEND_HTTP_ERROR', status: 503, message: 'The notes backend failed (HTTP 503). Try again later.' })
  t.equal(backend.received.length, 1, 'a note is never saved twice')

  failures = 1
  backend.received.length = 0
  t.equal((await clientFor({ baseUrl: backend.url, retries: 0 }).fetch('/notes')).status, 503, 'retries: 0 turns them off')
  t.equal(backend.received.length, 1)
})

test('a backend that is down: idempotent requests try again, then a clear error', async (t) => {
  const closed = `http://127.0.0.1:${await freePort()}`
  const client = clientFor({ baseUrl: closed, retries: 2 })
  const error = await client.fetch('/notes').catch((caught: unknown) => caught) as BackendError
  t.ok(error instanceof BackendError)
  t.equal(error.code, 'MCPGW_BACKEND_UNREACHABLE')
  t.equal(error.message, 'The notes backend could not be reached (connection refused) after 3 attempts. Try again later.')
  await t.rejects(client.json('/notes', { method: 'POST', body: {} }), { code: 'MCPGW_BACKEND_UNREACHABLE', message: 'The notes backend could not be reached (connection refused). Try again later.' })
})

test('a backend that does not answer: each attempt times out, then a clear error', async (t) => {
  const backend = await stub(t)
  backend.reply = () => {}
  const client = clientFor({ baseUrl: backend.url, timeoutMs: 200, retries: 1 })
  const startedAt = Date.now()
  await t.rejects(client.fetch('/notes'), { code: 'MCPGW_BACKEND_TIMEOUT', message: 'The notes backend did not answer within 0.2 s (2 attempts). Try again later.' })
  const elapsed = Date.now() - startedAt
  t.ok(elapsed >= 400 && elapsed < 3000, `two attempts of 200 ms and a backoff (${elapsed} ms)`)
  t.equal(backend.received.length, 2)
  backend.received.length = 0
  await t.rejects(client.json('/notes', { method: 'POST', body: {} }), { code: 'MCPGW_BACKEND_TIMEOUT', message: 'The notes backend did not answer within 0.2 s. Try again later.' })
  t.equal(backend.received.length, 1, 'POST: one attempt')
})

test('the tool call\'s signal stops everything at once: the request, a retry wait, an exchange', async (t) => {
  const backend = await stub(t)
  backend.reply = () => {}
  const controller = new AbortController()
  const client = clientFor({ baseUrl: backend.url, timeoutMs: 10_000 }, { signal: controller.signal })
  const startedAt = Date.now()
  setTimeout(() => controller.abort(new Error('the client went away')), 150)
  await t.rejects(client.fetch('/notes'), { message: 'the client went away' }, 'rejects with the signal\'s reason (the tool reports a cancelled call)')
  t.ok(Date.now() - startedAt < 1000, 'at once, not after the timeout')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(backend.received[0]?.closedEarly, true, 'the connection to the backend was closed')

  backend.reply = (_request, response) => json(response, 503, {})
  const waiting = new AbortController()
  const retrying = clientFor({ baseUrl: backend.url, retries: 5 }, { signal: waiting.signal })
  setTimeout(() => waiting.abort(new Error('cancelled during backoff')), 100)
  await t.rejects(retrying.fetch('/notes'), { message: 'cancelled during backoff' })

  const perRequest = AbortSignal.timeout(100)
  backend.reply = () => {}
  await t.rejects(clientFor({ baseUrl: backend.url }).fetch('/notes', { signal: perRequest }), { name: 'TimeoutError' }, 'a signal of the request itself works too')

  const already = new AbortController()
  already.abort(new Error('gone before'))
  const received = backend.received.length
  await t.rejects(clientFor({ baseUrl: backend.url }, { signal: already.signal }).fetch('/notes'), { message: 'gone before' })
  t.equal(backend.received.length, received, 'an aborted call sends nothing')
})

test('a cached exchanged token the backend refuses is exchanged again, once', async (t) => {
  const idp = await new ExchangeIdp().start()
  t.after(() => idp.stop())
  const exchanger = new TokenExchanger({ issuers: new Map([[caller.issuer, { issuer: caller.issuer, client: { clientId: 'gw', clientSecret: 's' }, tokenEndpoint: async () => ({ url: `${idp.issuer}/token`, grantTypes: undefined }) }]]) })
  const backend = await stub(t)
  const revoked = new Set<string>()
  backend.reply = (request, response) => revoked.has(request.headers.authorization ?? '') ? json(response, 401, { error: 'invalid_token' }) : json(response, 200, { ok: true })
  const client = () => clientFor({ baseUrl: backend.url, mode: 'token-exchange' }, { exchanger })

  t.equal((await client().fetch('/notes')).status, 200)
  revoked.add('Bearer exchanged-1')
  t.same(await client().json('/notes', { method: 'POST', body: { text: 'after revocation' } }), { ok: true }, 'the refused cached token is replaced and the request resent')
  t.same(backend.received.map((request) => request.headers.authorization), ['Bearer exchanged-1', 'Bearer exchanged-1', 'Bearer exchanged-2'])
  t.equal(idp.requests.length, 2)

  revoked.add('Bearer exchanged-2')
  revoked.add('Bearer exchanged-3')
  await t.rejects(client().json('/notes'), { code: 'MCPGW_BACKEND_HTTP_ERROR', status: 401, message: 'The notes backend refused access for you (HTTP 401: invalid_token).' }, 'a fresh token refused too: no loop')
  t.equal(idp.requests.length, 3, 'one renewal only')
})

test('the JSON helper: the backend\'s own words for 4xx, nothing of 5xx bodies, answers checked', async (t) => {
  const backend = await stub(t)
  const client = clientFor({ baseUrl: backend.url, retries: 0 })
  const answer = (status: number, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    backend.reply = (_request, response) => { response.writeHead(status, headers); response.end(body) }
  }
  answer(400, '{"message":"text is longer than 2000 characters"}')
  await t.rejects(client.json('/notes', { method: 'POST', body: {} }), { code: 'MCPGW_BACKEND_HTTP_ERROR', status: 400, message: 'The notes backend refused the request (HTTP 400: text is longer than 2000 characters).' })
  answer(403, '{"error":"insufficient_scope","error_description":"this needs the scope notes:write"}')
  await t.rejects(client.json('/notes'), { message: 'The notes backend refused access for you (HTTP 403: this needs the scope notes:write).' })
  answer(404, 'Not Found', { 'content-type': 'text/plain' })
  await t.rejects(client.json('/notes/9'), { message: 'The notes backend refused the request (HTTP 404).' })
  answer(500, '{"message":"password authentication failed for user notes at 10.0.0.7"}')
  const failure = await client.json('/notes').catch((caught: unknown) => caught) as Error
  t.equal(failure.message, 'The notes backend failed (HTTP 500). Try again later.')
  t.notMatch(failure.message, /password|10\.0\.0\.7/, 'a 5xx body may hold internals')
  answer(200, '<html>hello</html>', { 'content-type': 'text/html' })
  await t.rejects(client.json('/notes'), { code: 'MCPGW_BACKEND_BAD_RESPONSE', message: 'The notes backend answered something that is not JSON.' })
  answer(204, '')
  t.equal(await client.json('/notes/1', { method: 'DELETE' }), undefined, 'no content: undefined')
  backend.reply = (_request, response) => { response.writeHead(200, { 'content-length': String(6 * 1024 * 1024) }); response.write('{') }
  await t.rejects(client.json('/notes'), { code: 'MCPGW_BACKEND_BAD_RESPONSE', message: /larger than 5 MiB/ })
  backend.reply = (_request, response) => { response.writeHead(302, { location: 'https://elsewhere.example/' }); response.end() }
  const redirect = await client.fetch('/notes')
  t.equal(redirect.status, 302, 'redirects are not followed: credentials stay with the backend')
  t.equal(backend.received.length, 8, 'one request per call: no retries configured')
})
