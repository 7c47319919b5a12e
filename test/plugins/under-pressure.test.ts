import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { build } from '../helper.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

/** Keeps the event loop busy, as a flood of work would. */
function block (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) { /* busy */ }
}

test('an overloaded event loop sheds requests with 503 and Retry-After, liveness still answers', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  // A 1 ms threshold, so that one 300 ms stall is an overload.
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '1' } })
  t.equal((await app.inject('/.well-known/oauth-protected-resource')).statusCode, 200)

  block(300)
  let shed
  // The next one-second sample sees the stall.
  for (let attempt = 0; attempt < 60 && shed === undefined; attempt++) {
    const response = await app.inject('/.well-known/oauth-protected-resource')
    if (response.statusCode === 503) shed = response
    else await sleep(50)
  }
  if (shed === undefined) throw new Error('no request was shed')
  const [mcp, liveness] = await Promise.all([app.inject({ method: 'POST', url: '/mcp', payload: {} }), app.inject('/healthz')])

  t.equal(shed.headers['retry-after'], '5')
  t.match(shed.json(), { statusCode: 503, code: 'MCPGW_OVERLOADED', message: /overloaded/ })
  t.equal(mcp.statusCode, 503, 'before authentication')
  t.match(mcp.json(), { jsonrpc: '2.0', error: { code: -32000, message: /overloaded/ } })
  t.equal(liveness.statusCode, 200, 'a busy instance is not a dead one')

  // Once the loop is quiet for a sample, requests are served again.
  let served = false
  for (let attempt = 0; attempt < 60 && !served; attempt++) {
    served = (await app.inject('/.well-known/oauth-protected-resource')).statusCode === 200
    if (!served) await sleep(50)
  }
  t.ok(served, 'the service recovers by itself')
})

test('with OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=0 the same stall sheds nothing', async (t) => {
  const { app } = await build(t, { env: { OAUTH_ISSUER: 'https://idp.example.test/', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' } })
  block(300)
  const statuses = new Set<number>()
  // Longer than one sample interval.
  for (let attempt = 0; attempt < 15; attempt++) {
    statuses.add((await app.inject('/.well-known/oauth-protected-resource')).statusCode)
    await sleep(100)
  }
  t.same([...statuses], [200])
})
