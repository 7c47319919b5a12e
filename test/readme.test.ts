import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { README, withConfigTable } from '../scripts/sync-readme.ts'

test('the README configuration table matches the config schema (run `npm run readme` after changing lib/config.ts)', async (t) => {
  const readme = readFileSync(README, 'utf8')
  t.equal(readme, withConfigTable(readme))
  t.match(readme, /\| `PORT` \| `3000` \|/)
})

test('the README quick start is the two commands the project supports', async (t) => {
  const readme = readFileSync(README, 'utf8')
  t.match(readme, /npm install && npm start/)
  t.match(readme, /^npm test\b/m)
  const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts
  t.ok(scripts.start, 'npm start exists')
  t.equal(scripts.test, 'tap', 'npm test runs the tap suite')
})
