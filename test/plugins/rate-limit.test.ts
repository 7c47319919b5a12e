/**
 * Rate limits against a real redis-server shared by two app instances, and in memory:
 * per caller (not per address), per tool, per address for traffic without a token, a
 * stricter per-address budget for rejected tokens, and Redis outages per RATE_LIMIT_FAIL.
 */
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { test, type Test } from 'tap'
import { Type } from 'typebox'
import appPlugin, { serverOptions } from '../../app.ts'
import { loadConfig } from '../../lib/config.ts'
import { defineTool, type ToolDefinition } from '../../lib/tool.ts'
import { ToolRegistry } from '../../lib/tool-registry.ts'
import echo from '../../tools/echo.ts'
import whoami from '../../tools/whoami.ts'
import { build } from '../helper.ts'
import { callTool } from '../support/mcp-http.ts'
import { startRedis } from '../support/redis-server.ts'
import { issuerFor } from '../support/test-issuer.ts'

const PUBLIC_URL = 'https://mcp.example.test'
const AUDIENCE = `${PUBLIC_URL}/mcp`


/** A test-only tool with its own budget: two calls per minute per user. */
const expensive = defineTool({
  name: 'expensive',
  title: 'Expensive',
  description: 'Pretends to be costly.',
  requiredScopes: ['execute:tools'],
  rateLimit: { max: 2, timeWindowMs: 60_000 },
  input: Type.Object({}),
  output: Type.Object({ ok: Type.Boolean() }),
  async handler () {
    return { ok: true }
  }
})

interface LogLine { level: number, msg: string, [key: string]: unknown }

/** Like test/helper.ts build(), with the log lines collected. */
async function buildLogged (t: Test, env: Record<string, string>, tools?: readonly ToolDefinition[]): Promise<{ app: FastifyInstance, logs: LogLine[] }> {
  const logs: LogLine[] = []
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', ...env })
  const app = Fastify({ ...serverOptions(config), logger: { level: 'info', stream: { write: (line: string) => { logs.push(JSON.parse(line) as LogLine) } } } })
  await app.register(appPlugin, { config, ...(tools !== undefined && { tools }) })
  t.after(() => app.close())
  await app.ready()
  return { app, logs }
}

async function readiness (app: FastifyInstance): Promise<{ statusCode: number, redis: Record<string, unknown> }> {
  const response = await app.inject('/readyz')
  return { statusCode: response.statusCode, redis: response.json().checks.redis }
}

async function waitForRedisState (app: FastifyInstance, state: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await readiness(app)).redis.state === state) return
    await sleep(100)
  }
  throw new Error(`Redis did not become ${state}`)
}

function assertJsonRpcRateLimited (t: Test, response: LightMyRequestResponse, message: RegExp, limit: number): void {
  t.equal(response.statusCode, 429)
  const retryAfter = Number(response.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After is a whole number of seconds (${response.headers['retry-after']})`)
  t.equal(response.headers['ratelimit-limit'], String(limit))
  t.equal(response.headers['ratelimit-remaining'], '0')
  t.equal(response.headers['ratelimit-reset'], String(retryAfter))
  const body = response.json()
  t.equal(body.jsonrpc, '2.0')
  t.equal(body.error.code, -32029, 'the JSON-RPC rate-limited code')
  t.match(body.error.message, message)
  t.equal(body.error.data.retryAfterSeconds, retryAfter)
}

test('one caller\'s budget is shared by two instances through Redis, and other callers have their own', async (t) => {
  const issuer = await issuerFor(t)
  const redis = await startRedis(t)
  const env = { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, REDIS_URL: redis.url, RATE_LIMIT_CALLER_MAX: '4' }
  const { app: first } = await build(t, { env })
  const { app: second } = await build(t, { env })
  const alice = issuer.mint(AUDIENCE, { sub: 'alice' })
  const bob = issuer.mint(AUDIENCE, { sub: 'bob' })

  // Alternating instances and both endpoint paths, from different addresses: one budget.
  const spread = [
    await callTool(first, { token: alice, remoteAddress: '198.51.100.1' }),
    await callTool(second, { token: alice, remoteAddress: '198.51.100.2', path: '/' }),
    await callTool(first, { token: alice, remoteAddress: '198.51.100.3', path: '/' }),
    await callTool(second, { token: alice, remoteAddress: '198.51.100.4' })
  ]
  t.same(spread.map((response) => response.statusCode), [200, 200, 200, 200])
  t.same(spread.map((response) => response.headers['ratelimit-remaining']), ['3', '2', '1', '0'], 'each instance sees the shared count')

  assertJsonRpcRateLimited(t, await callTool(first, { token: alice }), /at most 4 MCP requests per minute per user/, 4)
  assertJsonRpcRateLimited(t, await callTool(second, { token: alice, path: '/' }), /at most 4 MCP requests per minute per user/, 4)

  const other = await callTool(second, { token: bob, remoteAddress: '198.51.100.1' })
  t.equal(other.statusCode, 200, 'another user from the same address is not limited')
  t.equal(other.headers['ratelimit-remaining'], '3')
  t.equal(other.json().result.structuredContent.message, 'hi')
})

for (const store of ['memory', 'redis'] as const) {
  test(`rejected tokens have their own, stricter budget per address (${store})`, async (t) => {
    const issuer = await issuerFor(t)
    const env: Record<string, string> = { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, RATE_LIMIT_AUTH_FAILURE_MAX: '3' }
    if (store === 'redis') env.REDIS_URL = (await startRedis(t)).url
    const { app } = await build(t, { env })
    const attacker = '203.0.113.7'
    const forged = issuer.mint('https://someone-else.example/mcp')
    const valid = issuer.mint(AUDIENCE)

    // Discovery requests without a token are not failures.
    for (let i = 0; i < 5; i++) t.equal((await callTool(app, { remoteAddress: attacker })).statusCode, 401)
    for (let i = 0; i < 3; i++) {
      const response = await callTool(app, { token: forged, remoteAddress: attacker })
      t.equal(response.statusCode, 401, `rejected token ${i + 1} is answered with 401`)
      t.match(response.headers['www-authenticate'], /error="invalid_token"/)
    }
    assertJsonRpcRateLimited(t, await callTool(app, { token: forged, remoteAddress: attacker }), /at most 3 rejected access tokens per minute from one address/, 3)
    const blocked = await callTool(app, { token: valid, remoteAddress: attacker })
    t.equal(blocked.statusCode, 429, 'until the window ends, tokens from the address are not even verified')

    t.equal((await callTool(app, { token: forged, remoteAddress: '203.0.113.8' })).statusCode, 401, 'another address has its own budget')
    t.equal((await callTool(app, { token: valid, remoteAddress: '203.0.113.8' })).statusCode, 200)
  })
}

test('the rejected-token budget holds across instances: each learns of it from its next failure', async (t) => {
  const issuer = await issuerFor(t)
  const redis = await startRedis(t)
  const env = { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, REDIS_URL: redis.url, RATE_LIMIT_AUTH_FAILURE_MAX: '2' }
  const { app: first } = await build(t, { env })
  const { app: second } = await build(t, { env })
  const forged = issuer.mint('https://someone-else.example/mcp')
  const address = '203.0.113.20'

  t.equal((await callTool(first, { token: forged, remoteAddress: address })).statusCode, 401)
  t.equal((await callTool(second, { token: forged, remoteAddress: address })).statusCode, 401)
  t.equal((await callTool(first, { token: forged, remoteAddress: address })).statusCode, 429, 'the third failure, on another instance, spends the shared budget')
  t.equal((await callTool(second, { token: forged, remoteAddress: address })).statusCode, 429)
  t.equal((await callTool(second, { token: issuer.mint(AUDIENCE), remoteAddress: address })).statusCode, 429)
})

for (const store of ['memory', 'redis'] as const) {
  test(`requests without a token share the per-address budget of the discovery documents (${store})`, async (t) => {
    const issuer = await issuerFor(t)
    const env: Record<string, string> = { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, RATE_LIMIT_IP_MAX: '3' }
    if (store === 'redis') env.REDIS_URL = (await startRedis(t)).url
    const { app } = await build(t, { env })
    const address = '192.0.2.44'
    const metadata = () => app.inject({ url: '/.well-known/oauth-protected-resource/mcp', remoteAddress: address })

    const first = await metadata()
    t.equal(first.statusCode, 200)
    t.equal(first.headers['ratelimit-limit'], '3')
    t.equal(first.headers['ratelimit-remaining'], '2')
    t.equal((await callTool(app, { remoteAddress: address })).statusCode, 401)
    t.equal((await metadata()).statusCode, 200)
    assertJsonRpcRateLimited(t, await callTool(app, { remoteAddress: address }), /at most 3 requests per minute from one address without an access token/, 3)

    const document = await metadata()
    t.equal(document.statusCode, 429)
    t.ok(Number(document.headers['retry-after']) >= 1)
    t.match(document.json(), { statusCode: 429, code: 'MCPGW_RATE_LIMITED', message: /at most 3 requests per minute/ }, 'outside MCP the body is the plain JSON error')

    t.equal((await callTool(app, { token: issuer.mint(AUDIENCE), remoteAddress: address })).statusCode, 200, 'authenticated requests are counted per user, not per address')
    t.equal((await metadata()).statusCode, 429)
    t.equal((await app.inject({ url: '/.well-known/oauth-protected-resource/mcp', remoteAddress: '192.0.2.45' })).statusCode, 200)
    t.equal((await app.inject({ url: '/healthz', remoteAddress: address })).statusCode, 200, 'probes are not limited')
  })
}

test('a tool\'s own budget applies per caller per tool, on top of the caller\'s', async (t) => {
  const issuer = await issuerFor(t)
  const redis = await startRedis(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, REDIS_URL: redis.url }, tools: [whoami, echo, expensive] as ToolDefinition[] })
  const alice = issuer.mint(AUDIENCE, { sub: 'alice' })

  const first = await callTool(app, { token: alice, tool: 'expensive', args: {} })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['ratelimit-limit'], '2', 'the headers describe the budget closest to running out')
  t.equal(first.headers['ratelimit-remaining'], '1')
  t.equal((await callTool(app, { token: alice, tool: 'expensive', args: {} })).statusCode, 200)
  assertJsonRpcRateLimited(t, await callTool(app, { token: alice, tool: 'expensive', args: {} }), /at most 2 calls per minute per user for the expensive tool/, 2)

  const other = await callTool(app, { token: alice, tool: 'echo' })
  t.equal(other.statusCode, 200, 'other tools are not affected')
  t.equal(other.headers['ratelimit-limit'], '600')
  t.equal((await callTool(app, { token: issuer.mint(AUDIENCE, { sub: 'bob' }), tool: 'expensive', args: {} })).statusCode, 200, 'other users are not affected')
  const denied = await callTool(app, { token: issuer.mint(AUDIENCE, { sub: 'carol', scope: 'read:profile' }), tool: 'expensive', args: {} })
  t.equal(denied.statusCode, 403, 'a call refused for its scopes is refused for that reason')
})

test('a tool\'s rate limit is validated at start-up', async (t) => {
  for (const rateLimit of [{ max: 0, timeWindowMs: 60_000 }, { max: 1.5, timeWindowMs: 60_000 }, { max: 5, timeWindowMs: 10 }]) {
    t.throws(() => new ToolRegistry([{ ...expensive, rateLimit }] as ToolDefinition[]), /Tool expensive: rateLimit needs a positive whole max and a timeWindowMs of at least 1000/)
  }
})

test('RATE_LIMIT_*_MAX=0 turns a budget off', async (t) => {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, RATE_LIMIT_CALLER_MAX: '0', RATE_LIMIT_IP_MAX: '0', RATE_LIMIT_AUTH_FAILURE_MAX: '0' } })
  const token = issuer.mint(AUDIENCE)
  const forged = issuer.mint('https://someone-else.example/mcp')
  for (let i = 0; i < 40; i++) {
    const [call, rejected, document] = await Promise.all([callTool(app, { token }), callTool(app, { token: forged }), app.inject('/.well-known/oauth-protected-resource')])
    if (call.statusCode !== 200 || rejected.statusCode !== 401 || document.statusCode !== 200) t.fail(`request ${i}: ${call.statusCode} ${rejected.statusCode} ${document.statusCode}`)
  }
  const call = await callTool(app, { token })
  t.equal(call.headers['ratelimit-limit'], undefined, 'no budget, no budget headers')
})

test('Redis down with RATE_LIMIT_FAIL=open: requests are served unlimited, the outage is logged once, and limits return with Redis', async (t) => {
  const issuer = await issuerFor(t)
  const redis = await startRedis(t)
  const { app, logs } = await buildLogged(t, { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, REDIS_URL: redis.url, RATE_LIMIT_CALLER_MAX: '2' })
  const alice = issuer.mint(AUDIENCE)
  t.same([(await callTool(app, { token: alice })).statusCode, (await callTool(app, { token: alice })).statusCode, (await callTool(app, { token: alice })).statusCode], [200, 200, 429])

  await redis.stop()
  for (let i = 0; i < 6; i++) {
    const response = await callTool(app, { token: alice })
    t.equal(response.statusCode, 200, `request ${i + 1} during the outage is served`)
    t.equal(response.headers['ratelimit-remaining'], undefined, 'nothing was counted, so no budget is reported')
  }
  t.equal((await callTool(app)).statusCode, 401, 'requests without a token are answered normally')
  const down = await readiness(app)
  t.equal(down.statusCode, 200, 'failing open, the instance stays ready')
  t.match(down.redis, { ready: true, state: 'down', failMode: 'open', redis: `127.0.0.1:${redis.port}` })
  const outages = logs.filter((line) => /Redis is unreachable/.test(line.msg))
  t.equal(outages.length, 1, 'the outage is logged once, not per request')
  t.equal(outages[0]?.level, 50, 'at error level')
  t.match(outages[0]?.msg, /rate limits are NOT enforced/)

  await redis.start()
  await waitForRedisState(app, 'up')
  t.equal(logs.filter((line) => /Redis is reachable again/.test(line.msg)).length, 1, 'the recovery is logged once')
  const counted = await callTool(app, { token: alice })
  t.equal(counted.statusCode, 200)
  t.equal(counted.headers['ratelimit-remaining'], '1', 'counting resumed (the restarted Redis started empty)')
  t.equal((await callTool(app, { token: alice })).statusCode, 200)
  t.equal((await callTool(app, { token: alice })).statusCode, 429)
  t.equal((await readiness(app)).redis.state, 'up')
})

test('Redis down with RATE_LIMIT_FAIL=closed: rate-limited requests get 503 with Retry-After, probes keep answering, and service resumes with Redis', async (t) => {
  const issuer = await issuerFor(t)
  const redis = await startRedis(t)
  const { app, logs } = await buildLogged(t, { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, REDIS_URL: redis.url, RATE_LIMIT_FAIL: 'closed' })
  const alice = issuer.mint(AUDIENCE)
  t.equal((await callTool(app, { token: alice })).statusCode, 200)

  await redis.stop()
  for (let i = 0; i < 3; i++) {
    const refused = await callTool(app, { token: alice })
    t.equal(refused.statusCode, 503)
    t.equal(refused.headers['retry-after'], '5')
    t.match(refused.json(), { jsonrpc: '2.0', error: { code: -32000, message: /cannot be counted against their rate limits/ } })
  }
  const document = await app.inject('/.well-known/oauth-protected-resource')
  t.equal(document.statusCode, 503)
  t.match(document.json(), { code: 'MCPGW_RATE_LIMIT_UNAVAILABLE' })
  t.equal((await app.inject('/healthz')).statusCode, 200, 'liveness does not depend on Redis')
  const down = await readiness(app)
  t.equal(down.statusCode, 503, 'failing closed, the instance is not ready')
  t.match(down.redis, { ready: false, state: 'down', failMode: 'closed' })
  t.equal(logs.filter((line) => /Redis is unreachable/.test(line.msg)).length, 1)
  t.match(logs.find((line) => /Redis is unreachable/.test(line.msg))?.msg, /refused with 503/)
  t.equal(logs.filter((line) => line.level >= 50).length, 1, 'the refusals themselves are not logged as errors')

  await redis.start()
  await waitForRedisState(app, 'up')
  t.equal((await callTool(app, { token: alice })).statusCode, 200)
  t.equal((await readiness(app)).statusCode, 200)
})

test('a Redis that stops answering without closing the connection does not hold requests', async (t) => {
  const issuer = await issuerFor(t)
  const redis = await startRedis(t)
  const { app, logs } = await buildLogged(t, { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, REDIS_URL: redis.url, RATE_LIMIT_CALLER_MAX: '100' })
  const alice = issuer.mint(AUDIENCE)
  t.equal((await callTool(app, { token: alice })).headers['ratelimit-remaining'], '99')

  redis.pause()
  // The first request waits for the command timeout, the others skip Redis.
  const during = await Promise.all([callTool(app, { token: alice }), callTool(app, { token: alice })])
  t.same(during.map((response) => response.statusCode), [200, 200])
  t.equal((await callTool(app, { token: alice })).headers['ratelimit-remaining'], undefined)
  t.equal((await readiness(app)).redis.state, 'down')
  t.equal(logs.filter((line) => /Redis is unreachable/.test(line.msg)).length, 1)

  redis.resume()
  await waitForRedisState(app, 'up')
  const after = await callTool(app, { token: alice })
  t.equal(after.statusCode, 200)
  t.ok(Number(after.headers['ratelimit-remaining']) < 99, 'counting resumed on the same Redis')
})

test('an instance starts while Redis is unreachable and connects once it is there', async (t) => {
  const issuer = await issuerFor(t)
  const redis = await startRedis(t)
  await redis.stop()
  const { app, logs } = await buildLogged(t, { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, REDIS_URL: redis.url, RATE_LIMIT_CALLER_MAX: '5' })
  const alice = issuer.mint(AUDIENCE)
  t.equal((await callTool(app, { token: alice })).statusCode, 200, 'served (RATE_LIMIT_FAIL=open) while Redis is unreachable')
  t.match((await readiness(app)).redis, { state: 'down', ready: true })
  t.equal(logs.filter((line) => /Redis is unreachable/.test(line.msg)).length, 1)

  await redis.start()
  await waitForRedisState(app, 'up')
  t.equal((await callTool(app, { token: alice })).headers['ratelimit-remaining'], '4')
})
