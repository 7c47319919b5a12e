/** The assertions of signed-assertion backends: their claims, the published keys, rotation, the development key. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { generatePrivateJwk, signingKeyFromJwk } from '../../../lib/backends/jws.ts'
import { AssertionSigner, DEV_ASSERTION_KEYS_FILE, loadOrCreateDevSigningKeys } from '../../../lib/backends/signed-assertion.ts'
import { testCaller } from '../../support/tool-context.ts'

const backend = { audience: 'https://notes.internal', scopes: ['notes:read', 'notes:write'] }

function dataDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-assertion-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('an assertion names the user, their issuer and client, for one backend, for 60 s', async (t) => {
  const signer = new AssertionSigner('https://mcp.example.com', [signingKeyFromJwk(generatePrivateJwk('RS256', 'k1'))])
  const caller = testCaller({ sub: 'alice', issuer: 'https://idp.example/', clientId: 'chatgpt', scopes: new Set(['notes:read', 'read:profile']) })
  const now = Date.parse('2026-05-01T12:00:00Z')
  const assertion = signer.sign(caller, backend, now)
  const { payload, protectedHeader } = await jwtVerify(assertion, createLocalJWKSet({ keys: [...signer.jwks.keys] }), {
    issuer: 'https://mcp.example.com', audience: 'https://notes.internal', currentDate: new Date(now)
  })
  t.same(protectedHeader, { alg: 'RS256', typ: 'JWT', kid: 'k1' })
  t.match(payload, {
    iss: 'https://mcp.example.com',
    aud: 'https://notes.internal',
    sub: 'alice',
    sub_id: { format: 'iss_sub', iss: 'https://idp.example/', sub: 'alice' },
    client_id: 'chatgpt',
    scope: 'notes:read',
    iat: now / 1000,
    exp: now / 1000 + 60
  })
  t.match(payload.jti, /^[\da-f-]{36}$/)
  t.not(JSON.parse(Buffer.from(signer.sign(caller, backend, now).split('.')[1] ?? '', 'base64url').toString()).jti, payload.jti, 'every assertion has its own jti')
  await t.rejects(jwtVerify(assertion, createLocalJWKSet({ keys: [...signer.jwks.keys] }), { currentDate: new Date(now + 61_000) }), { code: 'ERR_JWT_EXPIRED' })

  const bare = JSON.parse(Buffer.from(signer.sign(testCaller({ clientId: undefined, scopes: new Set(['read:profile']) }), backend).split('.')[1] ?? '', 'base64url').toString())
  t.equal(bare.client_id, undefined, 'no client id when the token named none')
  t.equal(bare.scope, undefined, 'only scopes the caller holds and the backend knows')
})

test('rotation: every key is published, the first one signs', async (t) => {
  const oldKey = signingKeyFromJwk(generatePrivateJwk('RS256', 'old'))
  const newKey = signingKeyFromJwk(generatePrivateJwk('ES256', 'new'))
  const before = new AssertionSigner('https://mcp.example.com', [oldKey, newKey])
  const after = new AssertionSigner('https://mcp.example.com', [newKey, oldKey])
  t.same(before.jwks.keys.map((key) => key.kid), ['old', 'new'], 'the new key is published before it signs')
  t.equal(decodeProtectedHeader(before.sign(testCaller(), backend)).kid, 'old')
  t.equal(decodeProtectedHeader(after.sign(testCaller(), backend)).kid, 'new')
  const verifierCache = createLocalJWKSet({ keys: [...before.jwks.keys] })
  t.ok(await jwtVerify(after.sign(testCaller(), backend), verifierCache), 'a verifier holding the earlier key set accepts assertions signed after the switch')
  for (const key of after.jwks.keys) t.equal((key as { d?: string }).d, undefined, 'public halves only')
})

test('the development key: generated once, reused, private to the owner', async (t) => {
  const dir = dataDir(t)
  const [first, second] = await Promise.all([loadOrCreateDevSigningKeys(dir), loadOrCreateDevSigningKeys(dir)])
  t.equal(first?.length, 1)
  t.equal(first?.[0]?.kid, second?.[0]?.kid, 'two processes starting together agree on one key')
  t.equal((await loadOrCreateDevSigningKeys(dir))[0]?.kid, first?.[0]?.kid, 'and it survives a restart')
  t.equal(statSync(join(dir, DEV_ASSERTION_KEYS_FILE)).mode & 0o777, 0o600)
  t.match(JSON.parse(readFileSync(join(dir, DEV_ASSERTION_KEYS_FILE), 'utf8')), { keys: [{ kty: 'EC', crv: 'P-256', alg: 'ES256', d: String }] }, 'ES256: an order of magnitude cheaper to sign than RS256')

  writeFileSync(join(dir, DEV_ASSERTION_KEYS_FILE), 'garbage')
  await t.rejects(loadOrCreateDevSigningKeys(dir), { message: /backend-signing-keys\.json is not a key file written by this server .*: delete it to generate a new key/ })
})
