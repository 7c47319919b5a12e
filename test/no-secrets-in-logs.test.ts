/**
 * Representative flows, success and failure, with every log line captured at trace
 * level: none may contain a token or an Authorization value. (test/helper.ts applies the
 * generic check to every app of the suite; here the exact secret values are known too.)
 */
import { test } from 'tap'
import { Type } from 'typebox'
import { defineTool, ToolError, type ToolDefinition } from '../lib/tool.ts'
import { tools as defaultTools } from '../tools/index.ts'
import { build } from './helper.ts'
import { findSecrets } from './support/log-capture.ts'
import { generateKey, startTestIssuer } from './support/test-issuer.ts'

// Credentials a tool uses downstream: they show up in library errors.
const DOWNSTREAM_TOKEN = 'ya29.a0AfH6SMBdownstream-opaque-token'
const DOWNSTREAM_PASSWORD = 'pa55w0rd-downstream'

const explode = defineTool({
  name: 'explode',
  title: 'Explode',
  description: 'Fails the way HTTP client libraries fail: the request, credentials included, inside the error.',
  requiredScopes: ['execute:tools'],
  input: Type.Object({ expected: Type.Boolean() }),
  output: Type.Object({}),
  async handler ({ expected }, { log }) {
    log.debug({ headers: { Authorization: `Bearer ${DOWNSTREAM_TOKEN}` } }, 'calling the backend')
    if (expected) throw new ToolError(`The backend refused Bearer ${DOWNSTREAM_TOKEN}`)
    throw Object.assign(new Error(`Request failed: GET https://backend.example.com/x?access_token=${DOWNSTREAM_TOKEN}`, {
      cause: new Error(`401 for "Authorization: Bearer ${DOWNSTREAM_TOKEN}"`)
    }), {
      config: { headers: { Authorization: `Bearer ${DOWNSTREAM_TOKEN}` }, auth: { username: 'svc', password: DOWNSTREAM_PASSWORD } }
    })
  }
})

test('no log line of any flow contains a token, an Authorization value or a downstream credential', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())

  for (const format of ['cloud-logging', 'pino']) {
    for (const scopeChallenge of ['http', 'tool-result']) {
      await t.test(`LOG_FORMAT=${format}, SCOPE_CHALLENGE=${scopeChallenge}`, async (t) => {
        const { app, config, logs } = await build(t, {
          env: { OAUTH_ISSUER: issuer.issuer, LOG_FORMAT: format, LOG_LEVEL: 'trace', SCOPE_CHALLENGE: scopeChallenge },
          tools: [...defaultTools, explode] as ToolDefinition[]
        })
        const audience = `${config.PUBLIC_URL}/mcp`
        const valid = issuer.mint(audience)
        const weak = issuer.mint(audience, { scope: 'read:profile' })
        const now = Math.floor(Date.now() / 1000)
        const rejected = [
          issuer.mint(audience, { exp: now - 3600 }),
          issuer.mint(audience, { nbf: now + 3600 }),
          issuer.mint('https://someone-else.example.com/'),
          issuer.sign({ iss: issuer.issuer, sub: 'x', aud: audience, exp: now + 60 }, { key: generateKey() }),
          `${valid.split('.').slice(0, 2).join('.')}.`,
          `eyJhbGciOiJub25lIn0.${valid.split('.')[1]}.`,
          'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn',
          'opaque-garbage-token-value',
          `${valid}x`.repeat(4)
        ]
        const secrets = [valid, weak, ...rejected, DOWNSTREAM_TOKEN, DOWNSTREAM_PASSWORD]

        const post = (authorization: string | undefined, payload: string | object, url = '/mcp') => app.inject({
          method: 'POST',
          url,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': '2025-06-18',
            cookie: 'session=cookie-secret-value',
            ...(authorization !== undefined && { authorization })
          },
          payload
        })
        const call = (token: string, name: string, args: object) =>
          post(`Bearer ${token}`, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } })

        // Valid token: the whole 2025 exchange and each tool.
        t.equal((await post(`Bearer ${valid}`, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })).statusCode, 200)
        t.equal((await post(`Bearer ${valid}`, { jsonrpc: '2.0', method: 'notifications/initialized' })).statusCode, 202)
        t.equal((await post(`Bearer ${valid}`, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).statusCode, 200)
        t.equal((await call(valid, 'whoami', {})).statusCode, 200)
        t.equal((await call(valid, 'echo', { message: `echo ${valid}` })).statusCode, 200)
        // Tool errors, expected and not.
        t.match((await call(valid, 'explode', { expected: true })).json(), { result: { isError: true } })
        const unexpected = (await call(valid, 'explode', { expected: false })).json()
        t.match(unexpected.result.content[0].text, /failed unexpectedly; the error is logged under request id/)
        // Rejected tokens, every kind, and other ways of sending credentials.
        for (const token of rejected) t.equal((await call(token, 'echo', { message: 'x' })).statusCode, 401)
        t.equal((await post('Basic dXNlcjpzZWNyZXQtYmFzaWMtcGFzc3dvcmQ=', {})).statusCode, 401)
        t.equal((await post(undefined, {}, `/mcp?access_token=${valid}`)).statusCode, 400)
        t.equal((await post(`Bearer ${valid}`, {}, `/mcp?access_token=${valid}`)).statusCode, 400)
        // Scope denial, bad JSON, wrong method.
        t.equal((await call(weak, 'echo', { message: 'x' })).statusCode, scopeChallenge === 'http' ? 403 : 200)
        t.equal((await post(`Bearer ${valid}`, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"token":"${valid}"`)).statusCode, 400)
        t.equal((await app.inject({ method: 'GET', url: '/mcp', headers: { authorization: `Bearer ${valid}` } })).statusCode, 405)
        // Someone debugging logs the request headers.
        app.log.info({ headers: { authorization: `Bearer ${valid}`, cookie: 'session=cookie-secret-value' } }, 'request headers')
        await app.close()

        t.ok(logs.lines.length > 40, `the flows were logged (${logs.lines.length} lines)`)
        t.ok(logs.entries.some((entry) => JSON.stringify(entry).includes('tool failed')), 'the unexpected tool error was logged')
        t.ok(logs.audit.length >= rejected.length + 5, 'and audited')
        const leaks = logs.leaks(secrets)
        t.same(leaks, [], 'no token or Authorization value in any line')
        for (const value of ['cookie-secret-value', 'c2VjcmV0LWJhc2ljLXBhc3N3b3Jk', 'dXNlcjpzZWNyZXQtYmFzaWMtcGFzc3dvcmQ']) {
          t.notOk(logs.lines.some((line) => line.includes(value)), `no line contains ${value.slice(0, 10)}…`)
        }
      })
    }
  }
})

test('the leak check itself finds what it is meant to find', async (t) => {
  const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl'
  t.same(findSecrets('{"message":"fine"}', [token]), [])
  t.equal(findSecrets(`{"message":"got ${token}"}`, [token]).length, 2, 'the known token, and a JWT')
  t.equal(findSecrets('{"sig":"c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"}', [token]).length, 1, 'its signature alone')
  t.equal(findSecrets('{"authorization":"Bearer opaque"}', []).length, 1)
  t.same(findSecrets('{"authorization":"Bearer [REDACTED]"}', []), [])
  t.same(findSecrets('{"www-authenticate":"Bearer resource_metadata=\\"https://x\\", error=\\"invalid_token\\""}', []), [])
})
