import { test } from 'tap'
import { Type } from 'typebox'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { argumentsDigest } from '../lib/audit.ts'
import { defineTool, ToolError, type ToolDefinition } from '../lib/tool.ts'
import { tools as defaultTools } from '../tools/index.ts'
import { build } from './helper.ts'
import { startTestIssuer, type TestIssuer } from './support/test-issuer.ts'

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c'
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`

const refuse = defineTool({
  name: 'refuse',
  title: 'Refuse',
  description: 'Always answers with a ToolError.',
  requiredScopes: ['execute:tools'],
  input: Type.Object({}),
  output: Type.Object({}),
  async handler () {
    throw new ToolError('Nothing to do here')
  }
})
const testTools = [...defaultTools, refuse] as ToolDefinition[]

async function setup (t: Parameters<typeof build>[0], env: Record<string, string> = {}, listen = false) {
  const issuer: TestIssuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const built = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, ...env }, tools: testTools, listen })
  const audience = `${built.config.PUBLIC_URL}/mcp`
  const call = async (token: string | undefined, name: string, args: unknown, headers: Record<string, string> = {}) => built.app.inject({
    method: 'POST',
    url: '/mcp',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      traceparent: TRACEPARENT,
      ...(token !== undefined && { authorization: `Bearer ${token}` }),
      ...headers
    },
    payload: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } }
  })
  return { ...built, issuer, audience, call }
}

test('an allowed tool call writes one audit event with who, what, the scopes, the outcome, the latency and a digest', async (t) => {
  const { call, issuer, audience, logs } = await setup(t, { LOG_FORMAT: 'cloud-logging', GOOGLE_CLOUD_PROJECT: 'my-project' })
  const token = issuer.mint(audience, { sub: 'alice', client_id: 'chatgpt', scope: 'read:profile execute:tools' })
  logs.clear()
  const response = await call(token, 'echo', { message: 'private text' })
  t.equal(response.statusCode, 200)
  t.equal(response.json().result.structuredContent.message, 'private text')

  const entries = logs.entries.filter((entry) => entry.audit !== undefined)
  t.equal(entries.length, 1, 'exactly one audit event')
  const [entry] = entries
  t.match(entry, {
    severity: 'INFO',
    message: 'audit: echo allowed (ok)',
    'logging.googleapis.com/labels': { log: 'audit' },
    'logging.googleapis.com/trace': `projects/my-project/traces/${TRACE_ID}`
  })
  const requestId = logs.entries.find((line) => line.message === 'request completed')?.reqId
  t.same(entry?.audit, {
    event: 'tool_call',
    time: (entry?.audit as { time: string }).time,
    requestId,
    traceId: TRACE_ID,
    issuer: issuer.issuer,
    sub: 'alice',
    clientId: 'chatgpt',
    method: 'tools/call',
    tool: 'echo',
    decision: 'allowed',
    reason: null,
    detail: null,
    requiredScopes: ['execute:tools'],
    heldScopes: ['read:profile', 'execute:tools'],
    missingScopes: null,
    outcome: 'ok',
    failure: null,
    latencyMs: (entry?.audit as { latencyMs: number }).latencyMs,
    argumentsDigest: argumentsDigest({ message: 'private text' })
  })
  const audit = entry?.audit as { time: string, latencyMs: number }
  t.ok(Math.abs(Date.parse(audit.time) - Date.now()) < 10_000, 'time is an ISO timestamp of now')
  t.ok(audit.latencyMs > 0 && audit.latencyMs < 10_000, 'latency in milliseconds')
  t.notMatch(logs.lines.join(''), 'private text', 'arguments are not logged by default')
})

test('a scope denial is audited as denied with the missing scopes, whichever way it is answered', async (t) => {
  for (const mode of ['http', 'tool-result']) {
    await t.test(`SCOPE_CHALLENGE=${mode}`, async (t) => {
      const { call, issuer, audience, logs } = await setup(t, { SCOPE_CHALLENGE: mode })
      const token = issuer.mint(audience, { sub: 'bob', client_id: 'claude', scope: 'read:profile' })
      logs.clear()
      const response = await call(token, 'echo', { message: 'hi' })
      t.equal(response.statusCode, mode === 'http' ? 403 : 200)
      if (mode === 'tool-result') t.equal(response.json().result.isError, true)
      const events = logs.audit
      t.equal(events.length, 1, 'one event, not one for the denial and one for the result')
      t.match(events[0], {
        event: 'tool_call',
        sub: 'bob',
        clientId: 'claude',
        tool: 'echo',
        decision: 'denied',
        reason: 'insufficient_scope',
        detail: /needs the scope execute:tools/,
        requiredScopes: ['execute:tools'],
        heldScopes: ['read:profile'],
        missingScopes: ['execute:tools'],
        outcome: null,
        traceId: TRACE_ID,
        argumentsDigest: argumentsDigest({ message: 'hi' })
      })
      t.equal(logs.entries.find((entry) => entry.audit !== undefined)?.level, 40, 'denials are warnings')
    })
  }
})

test('invalid tokens are audited at authentication, with what the token claims; requests with no credential are not', async (t) => {
  const { call, issuer, audience, logs } = await setup(t)
  const expired = issuer.mint(audience, { sub: 'mallory', client_id: 'stolen', exp: Math.floor(Date.now() / 1000) - 3600 })
  logs.clear()
  t.equal((await call(expired, 'echo', { message: 'x' }, { 'mcp-method': 'tools/call', 'mcp-name': 'echo' })).statusCode, 401)
  t.equal((await call(undefined, 'echo', { message: 'x' })).statusCode, 401)
  t.equal((await call(undefined, 'echo', { message: 'x' }, { authorization: 'Basic YWxpY2U6c2VjcmV0' })).statusCode, 401)
  const [invalid, wrongScheme, ...rest] = logs.audit
  t.match(invalid, {
    event: 'authentication',
    decision: 'denied',
    reason: 'invalid_token',
    detail: /expired/,
    issuer: null,
    sub: null,
    clientId: null,
    heldScopes: null,
    method: 'tools/call',
    tool: 'echo',
    traceId: TRACE_ID,
    outcome: null,
    argumentsDigest: null,
    claimed: { issuer: issuer.issuer, sub: 'mallory', clientId: 'stolen' }
  })
  t.ok(typeof invalid?.latencyMs === 'number')
  t.match(wrongScheme, { event: 'authentication', decision: 'denied', reason: 'missing_token', tool: null, method: null }, 'a credential of another scheme is presented: audited')
  t.notOk(wrongScheme !== undefined && 'claimed' in wrongScheme)
  t.same(rest, [], 'no event for the request without any credential (discovery)')
})

test('allowed calls that end in an error are audited with why', async (t) => {
  const { call, issuer, audience, logs } = await setup(t)
  const token = issuer.mint(audience)
  logs.clear()
  await call(token, 'refuse', {})
  await call(token, 'echo', { wrong: 1 })
  await call(token, 'nope', {})
  t.match(logs.audit, [
    { tool: 'refuse', decision: 'allowed', outcome: 'error', failure: 'tool_error' },
    { tool: 'echo', decision: 'allowed', outcome: 'error', failure: 'invalid_arguments' },
    { tool: 'nope', decision: 'denied', reason: 'unknown_tool', requiredScopes: null, outcome: null }
  ])
})

test('calls over the 2026-07-28 path (the SDK\'s createMcpHandler) are audited the same way', async (t) => {
  const { issuer, audience, url, logs } = await setup(t, {}, true)
  const token = issuer.mint(audience, { sub: 'carol' })
  const client = new Client({ name: 'audit-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  t.after(() => client.close())
  logs.clear()
  const result = await client.callTool({ name: 'echo', arguments: { message: 'modern' } })
  t.same(result.structuredContent, { message: 'modern' })
  // The record is written when the response closes, just after the client has it.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(logs.audit, [{ event: 'tool_call', sub: 'carol', tool: 'echo', decision: 'allowed', outcome: 'ok', argumentsDigest: argumentsDigest({ message: 'modern' }) }])
})

test('the argument digest ignores key order, can be keyed, and AUDIT_INCLUDE_ARGUMENTS adds the arguments (redacted)', async (t) => {
  t.equal(argumentsDigest({ a: 1, b: [1, { c: 2, d: 3 }] }), argumentsDigest({ b: [1, { d: 3, c: 2 }], a: 1 }))
  t.not(argumentsDigest({ a: 1 }), argumentsDigest({ a: 2 }))
  t.equal(argumentsDigest(undefined), argumentsDigest({}), 'absent arguments digest like {}')
  t.match(argumentsDigest({ a: 1 }), /^sha256:[0-9a-f]{64}$/)
  const key = 'k'.repeat(32)
  t.match(argumentsDigest({ a: 1 }, key), /^hmac-sha256:[0-9a-f]{64}$/)
  t.not(argumentsDigest({ a: 1 }, key).slice(-64), argumentsDigest({ a: 1 }).slice(-64))

  const { call, issuer, audience, logs } = await setup(t, { AUDIT_INCLUDE_ARGUMENTS: 'true', AUDIT_DIGEST_KEY: key })
  logs.clear()
  await call(issuer.mint(audience), 'echo', { message: 'debug me', password: 'hunter2' })
  const [event] = logs.audit
  t.same(event?.arguments, { message: 'debug me', password: '[REDACTED]' })
  t.equal(event?.argumentsDigest, argumentsDigest({ message: 'debug me', password: 'hunter2' }, key))
})

test('audit events are written even when LOG_LEVEL hides info lines', async (t) => {
  const { call, issuer, audience, logs } = await setup(t, { LOG_LEVEL: 'error' })
  logs.clear()
  await call(issuer.mint(audience), 'echo', { message: 'hi' })
  t.equal(logs.lines.filter((line) => line.includes('request completed')).length, 0, 'operational info lines are off')
  t.match(logs.audit, [{ tool: 'echo', decision: 'allowed', outcome: 'ok' }])
})
