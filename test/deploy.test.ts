/**
 * deploy/: the Cloud Run service definition must name settings the app has, probe routes it
 * serves, listen where the image listens, and leave nothing for the pipeline to miss.
 */
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { ConfigSchema } from '../lib/config.ts'
import { parseDockerfile, parseEnv } from '../scripts/check-production.ts'

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')
const service = read('deploy/service.yaml')
const pipeline = read('deploy/cloudbuild.yaml')

// Documented in deploy/service.yaml for traffic protection (rate limits behind Cloud Run's proxy, shared through Redis).
const RATE_LIMIT_SETTINGS = ['TRUST_PROXY', 'REDIS_URL']

test('every environment variable in service.yaml is a setting of lib/config.ts', async (t) => {
  const names = [...service.matchAll(/^\s*#?\s*- name: ([A-Z][A-Z0-9_]*)$/gm)].map(([, name]) => name!)
  t.ok(names.length >= 6, `found ${names.join(', ')}`)
  const known = new Set([...Object.keys(ConfigSchema.properties), ...RATE_LIMIT_SETTINGS])
  for (const name of names) t.ok(known.has(name), `${name} is a configuration setting`)
  t.match(service, /- name: PUBLIC_URL/)
  t.match(service, /- name: OAUTH_ISSUER/)
})

test('secrets come from Secret Manager, never from a literal value', async (t) => {
  const secretSettings = Object.entries(ConfigSchema.properties as unknown as Record<string, { secret?: boolean }>)
    .filter(([, schema]) => schema.secret === true).map(([name]) => name)
  t.ok(secretSettings.length > 0)
  for (const name of secretSettings) {
    // Optional secrets may be commented out, but wherever they appear they come from Secret Manager.
    t.match(service, new RegExp(`- name: ${name}\\n\\s+(#\\s+)?valueFrom:\\n\\s+(#\\s+)?secretKeyRef:`), `${name} is read from Secret Manager`)
    t.notMatch(service, new RegExp(`- name: ${name}\\n\\s+(#\\s+)?value:`), `${name} never has a literal value`)
  }
})

test('the service listens and is probed where the image and the app expect', async (t) => {
  const runtime = parseDockerfile(read('Dockerfile')).at(-1)!
  const env = Object.assign({}, ...runtime.instructions.filter(({ keyword }) => keyword === 'ENV').map(({ args }) => parseEnv(args)))
  t.match(service, new RegExp(`containerPort: ${env.PORT}\\n`), `containerPort is the image's PORT (${env.PORT})`)
  t.match(service, /startupProbe:\n\s+httpGet:\n\s+path: \/readyz\n\s+port: 8080/)
  t.match(service, /livenessProbe:\n\s+httpGet:\n\s+path: \/healthz\n\s+port: 8080/)
})

test('the pipeline fills in every placeholder of service.yaml', async (t) => {
  const placeholders = new Set([...service.replace(/^#.*$/gm, '').matchAll(/__[A-Z_]+__/g)].map(([name]) => name))
  const filled = new Set([...pipeline.matchAll(/s\|(__[A-Z_]+__)\|/g)].map(([, name]) => name!))
  t.ok(placeholders.size >= 8)
  t.same([...placeholders].filter((name) => !filled.has(name)), [], 'no placeholder left')
  t.same([...filled].filter((name) => !placeholders.has(name)), [], 'no substitution for a placeholder that is gone')
})
