import { test } from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig } from '../../lib/config.ts'

const base = { OAUTH_ISSUER: 'https://idp.example/' }

test('defaults', async (t) => {
  const config = loadConfig(base)
  t.match(config, { NODE_ENV: 'development', PORT: 3000, HOST: '127.0.0.1', PUBLIC_URL: 'http://localhost:3000', LOG_LEVEL: 'info', CLOCK_TOLERANCE_S: 30, SCOPE_CHALLENGE: 'http', TOOLS_LIST: 'allowed' })
  t.equal(loadConfig({ ...base, NODE_ENV: 'production' }).HOST, '0.0.0.0', 'containers bind every interface')
  t.equal(loadConfig({ ...base, PORT: '8080' }).PUBLIC_URL, 'http://localhost:8080')
  t.equal(loadConfig({ ...base, PORT: ' 8080 ', LOG_LEVEL: '' }).LOG_LEVEL, 'info', 'empty values count as unset')
})

test('PUBLIC_URL is canonicalised to an origin', async (t) => {
  t.equal(loadConfig({ ...base, PUBLIC_URL: 'HTTPS://Mcp.Example.COM:443/' }).PUBLIC_URL, 'https://mcp.example.com')
  t.equal(loadConfig({ ...base, PUBLIC_URL: 'http://127.0.0.1:8080' }).PUBLIC_URL, 'http://127.0.0.1:8080')
})

test('bad values name the variable and what is expected', async (t) => {
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ PORT: 'abc' }, 'PORT', /^PORT="abc" is invalid: expected an integer from 0 to 65535\.$/],
    [{ PORT: '65536' }, 'PORT', /expected an integer from 0 to 65535/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /expected one of fatal, error, warn, info, debug, trace, silent/],
    [{ NODE_ENV: 'prod' }, 'NODE_ENV', /expected one of development, production, test/],
    [{ SCOPE_CHALLENGE: '403' }, 'SCOPE_CHALLENGE', /expected one of http, tool-result/],
    [{ CLOCK_TOLERANCE_S: '-1' }, 'CLOCK_TOLERANCE_S', /expected an integer from 0 to 300/],
    [{ PUBLIC_URL: 'mcp.example.com' }, 'PUBLIC_URL', /is not a URL/],
    [{ PUBLIC_URL: 'ftp://mcp.example.com' }, 'PUBLIC_URL', /must use http or https/],
    [{ PUBLIC_URL: 'https://mcp.example.com/mcp' }, 'PUBLIC_URL', /must be an origin without path.*PUBLIC_URL=https:\/\/mcp\.example\.com/],
    [{ OAUTH_ISSUER: 'not a url' }, 'OAUTH_ISSUER', /OAUTH_ISSUER="not a url" is not a URL/],
    [{ OAUTH_ISSUER: 'http://idp.example/', NODE_ENV: 'production' }, 'OAUTH_ISSUER', /must be an https URL in production/]
  ]
  t.equal(loadConfig({ OAUTH_ISSUER: 'http://127.0.0.1:8080/', NODE_ENV: 'production' }).OAUTH_ISSUER, 'http://127.0.0.1:8080/', 'loopback http is allowed in production')
  for (const [env, variable, message] of cases) {
    const error = t.throws(() => loadConfig({ ...base, ...env })) as ConfigError
    t.ok(error instanceof ConfigError, JSON.stringify(env))
    t.equal(error.variable, variable)
    t.match(error.message, message)
    t.notMatch(error.message, /\n/, 'one line')
  }
})

test('the server refuses to start on a bad setting: exit code 1 and one line', async (t) => {
  const server = fileURLToPath(new URL('../../server.ts', import.meta.url))
  const child = spawn(process.execPath, [server], { env: { PATH: process.env.PATH, ...base, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.equal(code, 1)
  t.equal(stderr, 'mcp-gateway: configuration error: PORT="eighty" is invalid: expected an integer from 0 to 65535.\n')
})
