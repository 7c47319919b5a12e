import t from 'tap'
import { verify } from 'node:crypto'
import { classifyInboundRequest } from '@modelcontextprotocol/server'
import { withBadSignature } from '../../bench/bench-issuer.ts'
import { generateKey } from '../support/test-issuer.ts'
import { createSigner } from 'fast-jwt'
import {
  buildScenarios,
  checkChallenge,
  checkWhoami,
  jsonRpcMessageOf,
  mcpRequest,
  MODERN_PROTOCOL_VERSION,
  SCENARIO_IDS,
  type HttpRequestSpec,
  type ObservedResponse
} from '../../bench/scenarios.ts'

function classify (request: HttpRequestSpec) {
  return classifyInboundRequest({
    httpMethod: request.method,
    protocolVersionHeader: request.headers['mcp-protocol-version'],
    mcpMethodHeader: request.headers['mcp-method'],
    mcpNameHeader: request.headers['mcp-name'],
    body: JSON.parse(request.body)
  })
}

t.test('the SDK classifies the 2025-era request as legacy traffic', async (t) => {
  const request = mcpRequest('legacy', 'tools/call', { name: 'whoami', arguments: {} }, 'tok')
  t.match(classify(request), { kind: 'legacy', reason: 'no-claim', requestedVersion: '2025-06-18' })
  t.equal(request.headers.authorization, 'Bearer tok')
  t.notOk('mcp-method' in request.headers, 'no 2026 headers on a 2025 request')
})

t.test('the SDK classifies the 2026-07-28 request as modern, envelope and headers agreeing', async (t) => {
  const call = mcpRequest('modern', 'tools/call', { name: 'whoami', arguments: {} })
  t.match(classify(call), { kind: 'modern', messageKind: 'request', classification: { era: 'modern', revision: MODERN_PROTOCOL_VERSION } })
  t.match(call.headers, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'whoami' })
  const meta = JSON.parse(call.body).params._meta
  t.same(Object.keys(meta).sort(), [
    'io.modelcontextprotocol/clientCapabilities',
    'io.modelcontextprotocol/clientInfo',
    'io.modelcontextprotocol/protocolVersion'
  ])
  const list = mcpRequest('modern', 'tools/list')
  t.match(classify(list), { kind: 'modern' })
  t.notOk('mcp-name' in list.headers, 'Mcp-Name only for methods that name something')
})

function response (status: number, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' }): ObservedResponse {
  return { status, headers: new Headers(headers), body: typeof body === 'string' ? body : JSON.stringify(body) }
}

const whoamiResult = (sub: string, extra: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 1, result: { content: [], structuredContent: { sub }, ...extra } })

t.test('whoami answers are checked down to the caller they name', async (t) => {
  t.equal(checkWhoami(response(200, whoamiResult('alice')), 'alice', 'legacy'), undefined)
  t.match(checkWhoami(response(200, whoamiResult('bob')), 'alice', 'legacy'), /sub is "bob", expected "alice"/)
  t.match(checkWhoami(response(200, whoamiResult('alice', { isError: true })), 'alice', 'legacy'), /isError/)
  t.match(checkWhoami(response(200, { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'nope' } }), 'alice', 'legacy'), /JSON-RPC error/)
  t.match(checkWhoami(response(401, { error: 'unauthorized' }), 'alice', 'legacy'), /HTTP 401 \(expected 200\)/)
  t.match(checkWhoami(response(200, whoamiResult('alice')), 'alice', 'modern'), /resultType/, 'a 2026 answer carries its result type')
  t.equal(checkWhoami(response(200, whoamiResult('alice', { resultType: 'complete' })), 'alice', 'modern'), undefined)
})

t.test('an answer sent as an SSE stream is read from its last data line', async (t) => {
  const sse = response(200, `event: message\ndata: ${JSON.stringify(whoamiResult('alice'))}\n\n`, { 'content-type': 'text/event-stream' })
  t.match(jsonRpcMessageOf(sse), { result: { structuredContent: { sub: 'alice' } } })
  t.equal(checkWhoami(sse, 'alice', 'legacy'), undefined)
  t.match(jsonRpcMessageOf(response(200, 'hi', { 'content-type': 'text/plain' })), /content-type "text\/plain"/)
})

t.test('401 answers must carry a Bearer challenge, with invalid_token only when a token was sent', async (t) => {
  const plain = 'Bearer resource_metadata="http://x/.well-known/oauth-protected-resource/mcp", scope="read:profile"'
  t.equal(checkChallenge(response(401, {}, { 'www-authenticate': plain }), false), undefined)
  t.match(checkChallenge(response(401, {}, { 'www-authenticate': plain }), true), /invalid_token/)
  t.equal(checkChallenge(response(401, {}, { 'www-authenticate': `${plain}, error="invalid_token"` }), true), undefined)
  t.match(checkChallenge(response(401, {}, { 'www-authenticate': `${plain}, error="invalid_token"` }), false), /RFC 6750/)
  t.match(checkChallenge(response(401, {}, {}), false), /expected a Bearer challenge/)
  t.match(checkChallenge(response(429, {}, {}), false), /HTTP 429 \(expected 401\)/)
})

t.test('a forged token keeps its header and payload but fails signature verification', async (t) => {
  const key = generateKey('RS256')
  const token = createSigner({ key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, algorithm: 'RS256', kid: key.kid })({ sub: 'alice' })
  const forged = withBadSignature(token)
  t.not(forged, token)
  const [h1, p1, s1] = token.split('.') as [string, string, string]
  const [h2, p2, s2] = forged.split('.') as [string, string, string]
  t.equal(h2, h1)
  t.equal(p2, p1)
  t.equal(s2.length, s1.length)
  const valid = (sig: string) => verify('sha256', Buffer.from(`${h1}.${p1}`), key.publicKey, Buffer.from(sig, 'base64url'))
  t.equal(valid(s1), true)
  t.equal(valid(s2), false)
})

t.test('the scenario set covers issue 8 and rotates tokens where the cache must be bypassed', async (t) => {
  const scenarios = buildScenarios({ token: 'warm', coldTokens: ['a', 'b', 'c'], badTokens: ['x', 'y', 'z'], tokenCacheSize: 2 })
  t.same(scenarios.map((s) => s.id), ['baseline', 'whoami-2025', 'whoami-2026', 'whoami-cold', 'tools-list', 'no-token', 'bad-signature'])
  t.same(scenarios.map((s) => s.id), SCENARIO_IDS, '--only is validated against the same list')
  const byId = new Map(scenarios.map((s) => [s.id, s]))
  t.equal(byId.get('baseline')?.server, 'baseline')
  t.equal(byId.get('baseline')?.request.body, byId.get('whoami-2025')?.request.body, 'the baseline parses the same body as (2)')
  t.same(byId.get('whoami-cold')?.tokens, ['a', 'b', 'c'])
  t.notOk(byId.get('whoami-cold')?.request.headers.authorization, 'rotated tokens replace the fixed header')
  t.match(byId.get('whoami-cold')?.notes.join(' '), /3 distinct tokens in turn, TOKEN_CACHE_SIZE=2: every request is a token-cache miss/)
  t.equal(byId.get('no-token')?.expectedStatus, 401)
  t.notOk(byId.get('no-token')?.request.headers.authorization)
  t.same(byId.get('bad-signature')?.tokens, ['x', 'y', 'z'])
  t.equal(byId.get('bad-signature')?.expectedStatus, 401)
})
