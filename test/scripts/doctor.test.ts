/**
 * `npm run doctor` as a user runs it: a separate process reading the environment,
 * printing the report, exiting 1 when something blocks clients.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test, type Test } from 'tap'
import { startTestIssuer, type TestIssuer } from '../support/test-issuer.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Run { code: number | null, stdout: string, stderr: string }

function run (script: string, args: string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    // A clean environment: only what the test sets (no colour, no inherited OAUTH_*).
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

async function healthy (t: Test): Promise<TestIssuer> {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  issuer.metadataOverrides = { registration_endpoint: `${issuer.issuer}/register`, scopes_supported: ['openid', 'read:profile', 'execute:tools'] }
  return issuer
}

const PUBLIC_URL = 'https://localhost:1'

test('a healthy setup with a valid token: the report, and exit code 0', async (t) => {
  const issuer = await healthy(t)
  const token = issuer.mint(`${PUBLIC_URL}/mcp`)
  const result = await run('scripts/doctor.ts', ['--token', '-'], { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL }, `Bearer ${token}\n`)
  t.equal(result.code, 0, result.stdout + result.stderr)
  const lines = result.stdout.split('\n')
  t.equal(lines[0], `mcp-gateway doctor: ${PUBLIC_URL} (NODE_ENV=test)`)
  for (const expected of [
    'Server',
    `  ✓ PUBLIC_URL ${PUBLIC_URL} is HTTPS`,
    `      connector URL ${PUBLIC_URL}/mcp → resource=${PUBLIC_URL}/mcp`,
    `Issuer ${issuer.issuer}`,
    '  ✓ Its "issuer" is exactly the configured issuer',
    '  ✓ PKCE: S256 is advertised',
    'Token',
    '  ✓ The server accepts this token for "alice" (client test-client)',
    '  ✓ echo: allowed (needs execute:tools)',
    'No problem blocks clients.'
  ]) t.ok(lines.includes(expected), `prints ${JSON.stringify(expected)}`)
  t.notOk(result.stdout.includes(token), 'the token is never printed')
  t.notOk(result.stdout.includes('\u001b['), 'no colour codes when the output is not a terminal')
})

test('a broken setup: each problem on one line with its fix, and exit code 1', async (t) => {
  const issuer = await healthy(t)
  issuer.metadataOverrides.issuer = `${issuer.issuer}/`
  issuer.metadataOverrides.code_challenge_methods_supported = undefined
  const result = await run('scripts/doctor.ts', [], { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL: 'http://localhost:1' })
  t.equal(result.code, 1)
  const lines = result.stdout.split('\n')
  t.ok(lines.includes(`  ✗ ${issuer.issuer}/.well-known/oauth-authorization-server names the issuer "${issuer.issuer}/", not the configured "${issuer.issuer}": every token would be refused. Fix: set OAUTH_ISSUER=${issuer.issuer}/ (exactly as the IdP writes it: the trailing slash differs; tokens carry this value in "iss").`), result.stdout)
  t.match(result.stdout, /\n {2}! PUBLIC_URL http:\/\/localhost:1 is plain HTTP on this machine: .* Fix: for hosted clients, deploy behind HTTPS/)
  t.match(result.stdout, /\n {2}! PKCE: the metadata does not advertise code_challenge_methods_supported\. Fix: /)
  t.match(lines.at(-2), /^1 problem blocks clients, 2 warnings\.$/)
})

test('--json prints the report as data', async (t) => {
  const issuer = await healthy(t)
  const result = await run('scripts/doctor.ts', ['--json'], { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL })
  t.equal(result.code, 0)
  const report = JSON.parse(result.stdout) as { ok: boolean, checks: Array<{ id: string, status: string }> }
  t.equal(report.ok, true)
  t.equal(report.checks.find((check) => check.id === 'issuer-match')?.status, 'pass')
})

test('a configuration error prints the same one line as the server, and exits 1', async (t) => {
  const env = { PUBLIC_URL, OAUTH_ISSUER: 'https://idp.example.com/', PORT: 'eighty' }
  const [doctor, server] = await Promise.all([run('scripts/doctor.ts', [], env), run('server.ts', [], env)])
  t.equal(doctor.code, 1)
  t.equal(doctor.stdout, '')
  t.match(doctor.stderr, /^mcp-gateway: configuration error: PORT="eighty" is invalid/)
  t.equal(doctor.stderr, server.stderr, 'word for word what server.ts prints')
  t.equal(server.code, 1)
})

test('bad arguments: usage and exit code 2', async (t) => {
  const unknown = await run('scripts/doctor.ts', ['--tokn', 'x'], { OAUTH_ISSUER: 'https://idp.example.com/' })
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /Unknown option '--tokn'[\s\S]*Usage: npm run doctor/)
  const empty = await run('scripts/doctor.ts', ['--token', '-'], { OAUTH_ISSUER: 'https://idp.example.com/' }, '\n')
  t.equal(empty.code, 2)
  t.match(empty.stderr, /empty token/)
})
