/**
 * The notes example service on its own: notes per user in SQLite, and only credentials
 * for its own audience, from the trusted issuer or the MCP server's signed assertions.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { buildNotesApi, type NotesApiOptions } from '../../examples/notes-api/app.ts'
import { generatePrivateJwk, signingKeyFromJwk, signJwt } from '../../lib/backends/jws.ts'
import { AssertionSigner } from '../../lib/backends/signed-assertion.ts'
import { startTestIssuer, type TestIssuer } from '../support/test-issuer.ts'
import { testCaller } from '../support/tool-context.ts'

const AUDIENCE = 'http://notes.test'

async function idp (t: Test): Promise<TestIssuer> {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  return issuer
}

/** Serves a signer's key set as the MCP server would, at /.well-known/jwks.json. */
async function gateway (t: Test, signer: () => AssertionSigner): Promise<string> {
  const server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') return response.writeHead(404).end()
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify(signer().jwks))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function databasePath (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-notes-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'notes.sqlite')
}

async function notesApi (t: Test, options: Partial<NotesApiOptions> & Pick<NotesApiOptions, 'databasePath'>) {
  const app = await buildNotesApi({ audience: AUDIENCE, ...options })
  t.after(() => app.close())
  await app.ready()
  const call = async (token: string | undefined, method: 'GET' | 'POST' = 'GET', body?: unknown, query = '') => {
    const response = await app.inject({ method, url: `/notes${query}`, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, ...(body !== undefined && { payload: body as Record<string, unknown> }) })
    return { status: response.statusCode, body: response.json() as Record<string, unknown>, challenge: response.headers['www-authenticate'] }
  }
  return { app, call }
}

const scope = 'notes:read notes:write'

test('each user sees only their own notes, kept in SQLite across restarts', async (t) => {
  const issuer = await idp(t)
  const path = databasePath(t)
  const { app, call } = await notesApi(t, { databasePath: path, trustedIssuer: issuer.issuer })
  const alice = issuer.mint(AUDIENCE, { sub: 'alice', scope })
  const bob = issuer.mint(AUDIENCE, { sub: 'bob', scope })

  const added = await call(alice, 'POST', { text: 'alice: buy milk' })
  t.equal(added.status, 201)
  t.match(added.body, { id: Number, text: 'alice: buy milk', createdAt: /^\d{4}-\d\d-\d\dT/ })
  await call(alice, 'POST', { text: 'alice: call mum' })
  await call(bob, 'POST', { text: 'bob: fix bike' })

  const aliceNotes = (await call(alice)).body.notes as Array<{ id: number, text: string, createdAt: string }>
  t.same(aliceNotes.map(({ id, text }) => ({ id, text })), [{ id: 2, text: 'alice: call mum' }, { id: 1, text: 'alice: buy milk' }], 'alice: her two notes, newest first')
  t.equal(aliceNotes[1]?.createdAt, added.body.createdAt)
  t.same(((await call(bob)).body.notes as Array<{ text: string }>).map((note) => note.text), ['bob: fix bike'], 'bob: only his')
  t.same(((await call(alice, 'GET', undefined, '?limit=1')).body.notes as unknown[]).length, 1, 'limit')
  t.same((await call(issuer.mint(AUDIENCE, { sub: 'carol', scope }))).body.notes, [], 'carol: none')

  await app.close()
  const again = await notesApi(t, { databasePath: path, trustedIssuer: issuer.issuer })
  t.same(((await again.call(alice)).body.notes as Array<{ text: string }>).map((note) => note.text), ['alice: call mum', 'alice: buy milk'], 'still there after a restart')
})

test('what the notes service refuses', async (t) => {
  const issuer = await idp(t)
  const other = await idp(t)
  const { call } = await notesApi(t, { databasePath: ':memory:', trustedIssuer: issuer.issuer })

  const none = await call(undefined)
  t.equal(none.status, 401)
  t.equal(none.challenge, 'Bearer realm="notes"')

  const refusals: Array<[string, string, number, RegExp]> = [
    ['a token for the MCP server, passed through', issuer.mint('http://mcp.test/mcp', { scope }), 401, /unexpected "aud" claim value/],
    ['a token from an issuer it does not trust', other.mint(AUDIENCE, { scope }), 401, /credentials issued by "http:\/\/127\.0\.0\.1:\d+" are not accepted here/],
    ['an expired token', issuer.mint(AUDIENCE, { scope, exp: Math.floor(Date.now() / 1000) - 60 }), 401, /"exp" claim timestamp check failed/],
    ['a forged token', issuer.mint(AUDIENCE, { scope }, { key: other.currentKey }), 401, /signature verification failed|no applicable key found/],
    ['not a JWT', 'opaque-token', 401, /the credential is not a JWT/]
  ]
  for (const [what, token, status, message] of refusals) {
    const answer = await call(token)
    t.equal(answer.status, status, what)
    t.match(answer.body, { error: 'invalid_token', message }, what)
    t.match(answer.challenge, /^Bearer realm="notes", error="invalid_token", error_description="/, what)
  }

  const reader = issuer.mint(AUDIENCE, { scope: 'notes:read' })
  t.equal((await call(reader)).status, 200)
  const write = await call(reader, 'POST', { text: 'x' })
  t.equal(write.status, 403)
  t.match(write.body, { error: 'insufficient_scope', message: 'this needs the scope notes:write' })
  t.match(write.challenge, /error="insufficient_scope".*scope="notes:write"/)
  const writer = issuer.mint(AUDIENCE, { scope: 'notes:write' })
  t.equal((await call(writer)).status, 403, 'writing does not include reading')
  t.equal((await call(writer, 'POST', { text: 'x'.repeat(2001) })).status, 400, 'at most 2000 characters')
  t.equal((await call(writer, 'POST', { text: 'x', owner: 'bob' })).status, 400, 'no field can name another owner')
})

test('signed assertions of the MCP server, verified with its published keys; the same user, the same notes', async (t) => {
  const issuer = await idp(t)
  let signer = new AssertionSigner('http://placeholder', [signingKeyFromJwk(generatePrivateJwk('RS256', 'a'))])
  const gatewayUrl = await gateway(t, () => signer)
  const keyA = signingKeyFromJwk(generatePrivateJwk('RS256', 'a'))
  const keyB = signingKeyFromJwk(generatePrivateJwk('ES256', 'b'))
  signer = new AssertionSigner(gatewayUrl, [keyA])
  const { call } = await notesApi(t, { databasePath: ':memory:', trustedIssuer: issuer.issuer, gatewayUrl, keySetCooldownMs: 0 })
  const alice = testCaller({ sub: 'alice', issuer: issuer.issuer, scopes: new Set(['notes:read', 'notes:write']) })
  const backend = { audience: AUDIENCE, scopes: ['notes:read', 'notes:write'] }

  t.equal((await call(signer.sign(alice, backend), 'POST', { text: 'via an assertion' })).status, 201)
  t.same(((await call(issuer.mint(AUDIENCE, { sub: 'alice', scope }))).body.notes as Array<{ text: string }>).map((note) => note.text), ['via an assertion'],
    'the owner is the user the assertion names (their issuer and subject), so token exchange and assertions reach the same notes')
  const earlier = signer.sign(alice, backend)

  // Rotation: B starts signing while A stays published; the service meets kid b and refetches.
  signer = new AssertionSigner(gatewayUrl, [keyB, keyA])
  t.equal((await call(signer.sign(alice, backend))).status, 200, 'an assertion signed with the new key')
  t.equal((await call(earlier)).status, 200, 'and one signed just before the switch, still within its minute')

  const refusals: Array<[string, string, RegExp]> = [
    ['another audience', signer.sign(alice, { ...backend, audience: 'http://other.test' }), /unexpected "aud" claim value/],
    ['an unknown key', signJwt(signingKeyFromJwk(generatePrivateJwk('RS256', 'c')), { iss: gatewayUrl, aud: AUDIENCE, sub: 'alice', sub_id: { format: 'iss_sub', iss: issuer.issuer, sub: 'alice' }, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60, jti: 'x', scope }), /no applicable key found/],
    ['too old, whatever its exp says', signJwt(keyB, { iss: gatewayUrl, aud: AUDIENCE, sub: 'alice', sub_id: { format: 'iss_sub', iss: issuer.issuer, sub: 'alice' }, iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) + 600, jti: 'y', scope }), /"iat" claim timestamp check failed \(too far in the past\)/],
    ['no sub_id', signJwt(keyB, { iss: gatewayUrl, aud: AUDIENCE, sub: 'alice', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60, jti: 'z', scope }), /does not name its user as sub_id/],
    ['sub_id for someone else', signJwt(keyB, { iss: gatewayUrl, aud: AUDIENCE, sub: 'alice', sub_id: { format: 'iss_sub', iss: issuer.issuer, sub: 'bob' }, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60, jti: 'w', scope }), /does not name its user as sub_id/]
  ]
  for (const [what, token, message] of refusals) {
    const answer = await call(token)
    t.equal(answer.status, 401, what)
    t.match(answer.body.message, message, what)
  }

  const { call: withoutAssertions } = await notesApi(t, { databasePath: ':memory:', trustedIssuer: issuer.issuer })
  t.match((await withoutAssertions(signer.sign(alice, backend))).body, { error: 'invalid_token', message: /are not accepted here/ }, 'a service that does not name the MCP server refuses its assertions')
})
