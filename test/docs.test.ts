/**
 * The guides the doctor points to exist, and the links between the docs and from the
 * README lead somewhere (files and #anchors).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { detectProvider } from '../lib/doctor/providers.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors (markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map(([, heading]) => (heading ?? '').trim().toLowerCase().replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-')))
}

test('every guide the doctor names exists', async (t) => {
  const sources = readdirSync(join(ROOT, 'lib/doctor')).map((file) => read(`lib/doctor/${file}`)).join('\n')
  const named = new Set([...sources.matchAll(/docs\/[a-z0-9-]+\.md/g)].map(([path]) => path))
  t.ok(named.size >= 6, `found ${[...named].join(', ')}`)
  for (const path of named) t.ok(existsSync(join(ROOT, path)), path)
  for (const issuer of ['https://a.auth0.com/', 'https://a.okta.com/oauth2/default', 'https://login.microsoftonline.com/t/v2.0', 'https://k/realms/r', 'https://accounts.google.com', 'https://cognito-idp.eu-west-1.amazonaws.com/p']) {
    const guide = detectProvider(issuer)?.guide
    t.ok(guide !== undefined && existsSync(join(ROOT, guide)), `${issuer} → ${guide}`)
  }
})

test('relative links in the README and the docs resolve, anchors included', async (t) => {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)]
  for (const file of files) {
    for (const [, target] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:/.test(target)) continue
      const [path = '', anchor] = target.split('#')
      const resolved = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), path))
      t.ok(existsSync(join(ROOT, resolved)), `${file} → ${target}`)
      if (anchor !== undefined && existsSync(join(ROOT, resolved))) t.ok(anchors(read(resolved)).has(anchor), `${file} → ${target} (anchor)`)
    }
  }
})
