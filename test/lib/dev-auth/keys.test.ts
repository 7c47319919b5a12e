import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { currentSigningKey, KEYS_FILE, loadOrCreateKeys } from '../../../lib/dev-auth/keys.ts'

function folder (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-keys-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('keys are generated once and then reused', async (t) => {
  const dir = join(folder(t), 'nested', 'dev-auth')
  const first = await loadOrCreateKeys(dir)
  t.equal(first.signing.length, 1)
  t.match(first.signing[0], { kty: 'RSA', alg: 'RS256', use: 'sig', kid: /^[\w-]{16}$/, d: /\S/ })
  t.equal(first.cookieKeys.length, 1)
  t.equal(statSync(join(dir, KEYS_FILE)).mode & 0o777, 0o600, 'the key file is private to the user')
  t.same(await loadOrCreateKeys(dir), first, 'the next start reads the same keys')
  t.equal(currentSigningKey(first).kid, first.signing[0]?.kid)
  t.equal(currentSigningKey(first).privateKey.asymmetricKeyType, 'rsa')
})

test('two processes starting together end up with the same keys', async (t) => {
  const dir = folder(t)
  const [a, b, c] = await Promise.all([loadOrCreateKeys(dir), loadOrCreateKeys(dir), loadOrCreateKeys(dir)])
  t.same(a, b)
  t.same(b, c)
  t.same(JSON.parse(readFileSync(join(dir, KEYS_FILE), 'utf8')), a)
})

test('a key file this server did not write is refused with what to do', async (t) => {
  const dir = folder(t)
  for (const content of ['not json', '{}', JSON.stringify({ signing: [{ kid: 'k', alg: 'HS256', kty: 'oct' }], cookieKeys: ['x'.repeat(32)] })]) {
    writeFileSync(join(dir, KEYS_FILE), content)
    await t.rejects(loadOrCreateKeys(dir), /keys\.json is not a key file written by this server: delete it/)
  }
})
