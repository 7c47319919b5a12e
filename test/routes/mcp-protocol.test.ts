/**
 * Raw HTTP against the MCP endpoint: every protocol error gets the right HTTP status
 * and a JSON-RPC error body; stateless-endpoint rules (no batches, no GET/DELETE).
 */
import { test } from 'tap'
import { build } from '../helper.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

test('MCP protocol errors', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app, config } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer } })
  const authorization = `Bearer ${issuer.mint(`${config.PUBLIC_URL}/mcp`)}`
  const post = (payload: string, headers: Record<string, string> = {}, url = '/mcp') =>
    app.inject({ method: 'POST', url, headers: { ...JSON_HEADERS, authorization, ...headers }, payload })
  const jsonRpcError = (body: string) => JSON.parse(body) as { jsonrpc: string, id: unknown, error: { code: number, message: string, data?: unknown } }

  await t.test('malformed JSON → 400 with -32700', async (t) => {
    const response = await post('{"jsonrpc": "2.0", "id": 1, "method": ')
    t.equal(response.statusCode, 400)
    const body = jsonRpcError(response.body)
    t.equal(body.jsonrpc, '2.0')
    t.equal(body.id, null)
    t.equal(body.error.code, -32700)
  })

  await t.test('an empty body → -32700', async (t) => {
    const response = await post('')
    t.equal(response.statusCode, 400)
    t.equal(jsonRpcError(response.body).error.code, -32700)
  })

  await t.test('JSON that is not a JSON-RPC message → 400 with -32600', async (t) => {
    for (const payload of ['{"hello": "world"}', '{"jsonrpc": "1.0", "id": 1, "method": "ping"}', '42', '"ping"']) {
      const response = await post(payload)
      t.equal(response.statusCode, 400, payload)
      t.equal(jsonRpcError(response.body).error.code, -32600, payload)
    }
  })

  await t.test('an unknown method → -32601, echoing the request id', async (t) => {
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 'abc', method: 'no/such/method', params: {} }), { 'mcp-protocol-version': '2025-06-18' })
    const body = jsonRpcError(response.body)
    t.equal(body.id, 'abc')
    t.equal(body.error.code, -32601)
  })

  await t.test('a JSON-RPC batch → 400 with a clear message', async (t) => {
    const response = await post(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'ping' }]))
    t.equal(response.statusCode, 400)
    const body = jsonRpcError(response.body)
    t.equal(body.error.code, -32600)
    t.match(body.error.message, /batch/i)
    t.match(body.error.message, /one JSON-RPC message per HTTP POST/)
  })

  await t.test('a body over 1 MiB → 413', async (t) => {
    const message = 'x'.repeat(1024 * 1024)
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message } } }))
    t.equal(response.statusCode, 413)
    t.equal(jsonRpcError(response.body).error.code, -32000)
  })

  await t.test('a wrong Content-Type → 415', async (t) => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      const response = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { 'content-type': contentType })
      t.equal(response.statusCode, 415, contentType)
      t.equal(jsonRpcError(response.body).error.code, -32000)
    }
  })

  await t.test('an unsupported MCP-Protocol-Version → 400 naming the supported revisions', async (t) => {
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), { 'mcp-protocol-version': '2024-01-01' })
    t.equal(response.statusCode, 400)
    const body = jsonRpcError(response.body)
    for (const version of ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']) t.match(body.error.message, version)
    t.same((body.error.data as { requested: string }).requested, '2024-01-01')
  })

  await t.test('a 2026-07-28 request naming an unknown future revision → 400 naming the supported one', async (t) => {
    const response = await post(JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01', 'io.modelcontextprotocol/clientInfo': { name: 'x', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } }
    }), { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' })
    t.equal(response.statusCode, 400)
    t.match(response.body, /2026-07-28/)
  })

  await t.test('Mcp-Method disagreeing with the body is refused', async (t) => {
    const response = await post(JSON.stringify({
      jsonrpc: '2.0',
      id: 8,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'x', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } }
    }), { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' })
    t.equal(response.statusCode, 400)
    t.equal(jsonRpcError(response.body).error.code, -32020)
  })

  await t.test('the initialize handshake of each 2025 revision', async (t) => {
    for (const protocolVersion of ['2025-11-25', '2025-06-18', '2025-03-26']) {
      const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }))
      t.equal(response.statusCode, 200, protocolVersion)
      t.notOk(response.headers['mcp-session-id'], 'stateless: no session id')
      const { result } = JSON.parse(response.body)
      t.equal(result.protocolVersion, protocolVersion)
      t.ok(result.capabilities.tools)
      t.equal(result.serverInfo.name, 'mcp-gateway')
    }
  })

  await t.test('notifications are accepted with 202 and no body', async (t) => {
    const response = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))
    t.equal(response.statusCode, 202)
    t.equal(response.body, '')
  })

  await t.test('a tools/call for a tool that does not exist is a JSON-RPC error naming it', async (t) => {
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'nope', arguments: {} } }), { 'mcp-protocol-version': '2025-06-18' })
    t.equal(response.statusCode, 200)
    const body = jsonRpcError(response.body)
    t.equal(body.error.code, -32602)
    t.match(body.error.message, /nope/)
  })

  await t.test('the same endpoint answers at the bare origin', async (t) => {
    const rootToken = `Bearer ${issuer.mint(config.PUBLIC_URL)}`
    const response = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), { authorization: rootToken, 'mcp-protocol-version': '2025-06-18' }, '/')
    t.equal(response.statusCode, 200)
    t.same(JSON.parse(response.body), { jsonrpc: '2.0', id: 1, result: {} })
  })

  await t.test('GET and DELETE → 405 with Allow: POST, without needing a token', async (t) => {
    for (const method of ['GET', 'DELETE'] as const) {
      for (const url of ['/mcp', '/']) {
        const response = await app.inject({ method, url })
        t.equal(response.statusCode, 405, `${method} ${url}`)
        t.equal(response.headers.allow, 'POST')
        t.match(jsonRpcError(response.body).error.message, /stateless/)
      }
    }
  })
})
