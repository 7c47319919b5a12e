import { test } from 'tap'
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readOrCreatePrivateFile } from '../../lib/private-file.ts'

test('created once, privately; racing creators agree on the winner\'s value; an existing file is read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-private-file-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'nested', 'secret.json')
  let created = 0
  const parse = (text: string) => (JSON.parse(text) as { value: number }).value
  const values = await Promise.all(Array.from({ length: 8 }, () => readOrCreatePrivateFile(path, () => ({ value: ++created }), parse)))
  t.equal(new Set(values).size, 1, 'every caller reads the same value')
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(statSync(join(dir, 'nested')).mode & 0o777, 0o700)
  t.same(readdirSync(join(dir, 'nested')), ['secret.json'], 'no temporary file is left behind')

  writeFileSync(path, JSON.stringify({ value: 42 }))
  t.equal(await readOrCreatePrivateFile(path, () => ({ value: -1 }), parse), 42)
  await t.rejects(readOrCreatePrivateFile(path, () => ({}), () => { throw new Error('not ours') }), /not ours/, 'a parse failure is not swallowed')
})
