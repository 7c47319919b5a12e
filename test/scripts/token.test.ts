import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test, type Test } from 'tap'
import { runTokenCli } from '../../lib/dev-auth/token-cli.ts'
import { build } from '../helper.ts'

const SCOPES = ['read:profile', 'execute:tools']
const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'token.ts')

function dataDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-token-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function run (argv: string[], env: Record<string, string | undefined>) {
  const out: string[] = []
  const err: string[] = []
  const code = await runTokenCli(argv, env, SCOPES, { stdout: (text) => out.push(text), stderr: (text) => err.push(text) })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}

async function callTool (app: Awaited<ReturnType<typeof build>>['app'], token: string, name: string, args: Record<string, unknown> = {}) {
  return app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }
  })
}

test('a token from npm run token is accepted by a server with the same configuration', async (t) => {
  const env = { NODE_ENV: 'test', PORT: '0', DEV_AUTH_DATA_DIR: dataDir(t) }
  // Minted before the server ever ran: the CLI creates the keys the server then uses.
  const { code, stdout, stderr } = await run(['--sub', 'alice', '--scope', 'read:profile execute:tools'], env)
  t.equal(code, 0)
  t.match(stdout, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'stdout is the token alone')
  t.match(stderr, /Access token for alice .*read:profile execute:tools.*http:\/\/localhost:0\/mcp/, 'stderr says what it is')

  const { app } = await build(t, { env: { ...env, LOG_LEVEL: 'silent' } })
  const whoami = await callTool(app, stdout, 'whoami')
  t.equal(whoami.statusCode, 200, 'whoami answers')
  t.match(whoami.json().result.structuredContent, { sub: 'alice', scopes: ['execute:tools', 'read:profile'], clientId: 'npm-run-token', issuer: 'http://localhost:0/oauth' })
  t.equal((await callTool(app, stdout, 'echo', { message: 'hi' })).statusCode, 200)
})

test('--scope limits the token: a tool needing another scope is refused', async (t) => {
  const env = { NODE_ENV: 'test', PORT: '0', DEV_AUTH_DATA_DIR: dataDir(t) }
  const { app } = await build(t, { env })
  const { stdout } = await run(['--sub', 'bob', '--scope', 'read:profile', '--ttl', '120'], env)
  const whoami = await callTool(app, stdout, 'whoami')
  t.same(whoami.json().result.structuredContent.scopes, ['read:profile'])
  t.ok(whoami.json().result.structuredContent.expiresInSeconds <= 120, '--ttl sets the lifetime')
  const echo = await callTool(app, stdout, 'echo', { message: 'no' })
  t.equal(echo.statusCode, 403)
  t.match(echo.headers['www-authenticate'], /insufficient_scope/)
})

test('a token minted for another data folder (other keys) is rejected', async (t) => {
  const { app } = await build(t, { env: { DEV_AUTH_DATA_DIR: dataDir(t) } })
  const { stdout } = await run(['--sub', 'mallory'], { NODE_ENV: 'test', PORT: '0', DEV_AUTH_DATA_DIR: dataDir(t) })
  const response = await callTool(app, stdout, 'whoami')
  t.equal(response.statusCode, 401)
})

test('clear errors, exit code 2', async (t) => {
  const base = { NODE_ENV: 'test', PORT: '0', DEV_AUTH_DATA_DIR: dataDir(t) }
  const cases: Array<[string, string[], Record<string, string | undefined>, RegExp]> = [
    ['an external identity provider is configured', ['--sub', 'a'], { ...base, OAUTH_ISSUER: 'https://example.auth0.com/' },
      /OAUTH_ISSUER is set to https:\/\/example\.auth0\.com\/, so tokens come from that identity provider.*only mints tokens of the embedded development authorization server/],
    ['production', ['--sub', 'a'], { ...base, NODE_ENV: 'production' }, /configuration error: OAUTH_ISSUER is missing.*never runs with NODE_ENV=production/],
    ['no --sub', [], base, /--sub is required/],
    ['an empty --sub', ['--sub', '  '], base, /--sub is required/],
    ['an unknown scope', ['--sub', 'a', '--scope', 'read:profile admin'], base, /unknown scope admin: this server's scopes are read:profile execute:tools/],
    ['an unknown option', ['--sub', 'a', '--admin'], base, /Unknown option '--admin'.*--help/],
    ['a stray argument', ['alice'], base, /alice.*--help/],
    ['a TTL out of range', ['--sub', 'a', '--ttl', '10'], base, /--ttl 10 is not a whole number of seconds from 60 to 86400/],
    ['a TTL that is not a number', ['--sub', 'a', '--ttl', '1h'], base, /--ttl 1h/],
    ['a resource that is not this server', ['--sub', 'a', '--resource', 'https://elsewhere.example/mcp'], base, /--resource https:\/\/elsewhere\.example\/mcp is not this server: use one of http:\/\/localhost:0\/mcp, http:\/\/localhost:0/]
  ]
  for (const [name, argv, env, message] of cases) {
    const { code, stdout, stderr } = await run(argv, env)
    t.equal(code, 2, `${name}: exit code`)
    t.equal(stdout, '', `${name}: no token printed`)
    t.match(stderr, message, `${name}: says what is wrong`)
  }
})

test('--help prints the usage', async (t) => {
  const { code, stdout } = await run(['--help'], { NODE_ENV: 'test', DEV_AUTH_DATA_DIR: dataDir(t) })
  t.equal(code, 0)
  t.match(stdout, /Usage: npm run -s token -- --sub <name>/)
})

test('scripts/token.ts runs as a command', async (t) => {
  const env = { ...process.env, NODE_ENV: 'test', PORT: '0', DEV_AUTH_DATA_DIR: dataDir(t), OAUTH_ISSUER: '' }
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '--sub', 'carol', '--scope', 'read:profile'], { env })
  const [, payload = ''] = stdout.trim().split('.')
  t.match(JSON.parse(Buffer.from(payload, 'base64url').toString()), { sub: 'carol', scope: 'read:profile', aud: 'http://localhost:0/mcp' })

  const failure = await promisify(execFile)(process.execPath, [SCRIPT], { env }).then(() => undefined, (error: { code: number, stderr: string }) => error)
  t.equal(failure?.code, 2, 'a mistake exits with 2')
  t.match(failure?.stderr, /--sub is required/)
})
