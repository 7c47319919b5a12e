/**
 * What the benchmark sends, and how it knows the answers are right.
 *
 * The requests are what MCP clients send today: a 2025-era client (ChatGPT, Claude)
 * posts a plain JSON-RPC body with `MCP-Protocol-Version: 2025-06-18`; a 2026-07-28
 * client adds the per-request `_meta` envelope (protocol version, client info,
 * client capabilities) and the `Mcp-Method` / `Mcp-Name` headers, as the SDK's
 * inbound classifier (`classifyInboundRequest`) expects them. Both accept JSON or SSE.
 *
 * Every scenario has a thorough check for the pre-flight requests (status, headers,
 * the JSON-RPC result itself) and a cheap body check for every response under load.
 */

export const LEGACY_PROTOCOL_VERSION = '2025-06-18'
export const MODERN_PROTOCOL_VERSION = '2026-07-28'
export type Era = 'legacy' | 'modern'

export interface HttpRequestSpec {
  method: 'POST'
  path: string
  headers: Record<string, string>
  body: string
}

export interface ObservedResponse {
  status: number
  headers: Headers
  body: string
}

export interface Scenario {
  id: string
  title: string
  /** Which process serves it: the bare Fastify baseline or the server under test. */
  server: 'baseline' | 'mcp'
  expectedStatus: number
  request: HttpRequestSpec
  /** Rotated through the Authorization header, one per request, in order. */
  tokens?: readonly string[]
  /** Cheap check of every response body under load (autocannon counts failures as mismatches). */
  verifyBody: (body: string) => boolean
  /** Thorough check of one response: undefined when right, else what is wrong. `tokenIndex` names the rotated token used. */
  check: (response: ObservedResponse, tokenIndex?: number) => string | undefined
  notes: string[]
}

const ENVELOPE_CLIENT_INFO = { name: 'mcp-gateway-bench', version: '1.0.0' }

/** One JSON-RPC request as a client of `era` sends it to `path`. */
export function mcpRequest (era: Era, method: string, params: Record<string, unknown> = {}, token?: string, path = '/mcp'): HttpRequestSpec {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream'
  }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let body: Record<string, unknown>
  if (era === 'legacy') {
    headers['mcp-protocol-version'] = LEGACY_PROTOCOL_VERSION
    body = { jsonrpc: '2.0', id: 1, method, params }
  } else {
    headers['mcp-protocol-version'] = MODERN_PROTOCOL_VERSION
    headers['mcp-method'] = method
    // Mcp-Name mirrors params.name for tools/call and prompts/get (SDK: MCP_NAME_HEADER_SOURCE).
    if (typeof params.name === 'string') headers['mcp-name'] = params.name
    body = {
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
          'io.modelcontextprotocol/clientInfo': ENVELOPE_CLIENT_INFO,
          'io.modelcontextprotocol/clientCapabilities': {}
        }
      }
    }
  }
  return { method: 'POST', path, headers, body: JSON.stringify(body) }
}

/** The JSON-RPC message of a response, whether sent as JSON or as an SSE stream. */
export function jsonRpcMessageOf (response: ObservedResponse): Record<string, unknown> | string {
  const type = response.headers.get('content-type') ?? ''
  let text = response.body
  if (type.startsWith('text/event-stream')) {
    const data = response.body.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim())
    const last = data.at(-1)
    if (last === undefined) return 'an SSE stream without a data line'
    text = last
  } else if (!type.startsWith('application/json')) {
    return `content-type ${JSON.stringify(type)}, expected JSON or SSE`
  }
  try {
    const message = JSON.parse(text) as unknown
    return typeof message === 'object' && message !== null ? message as Record<string, unknown> : 'a JSON-RPC message that is not an object'
  } catch {
    return `a body that is not JSON: ${text.slice(0, 200)}`
  }
}

function expectStatus (response: ObservedResponse, status: number): string | undefined {
  if (response.status !== status) return `HTTP ${response.status} (expected ${status}): ${response.body.slice(0, 300)}`
  return undefined
}

function resultOf (response: ObservedResponse): Record<string, unknown> | string {
  const message = jsonRpcMessageOf(response)
  if (typeof message === 'string') return message
  if (message.error !== undefined) return `a JSON-RPC error: ${JSON.stringify(message.error)}`
  const result = message.result
  if (typeof result !== 'object' || result === null) return `no result in ${JSON.stringify(message).slice(0, 300)}`
  return result as Record<string, unknown>
}

/** A whoami answer for `sub`: 200, a tool result (not an error) whose structured content names the caller. */
export function checkWhoami (response: ObservedResponse, sub: string, era: Era): string | undefined {
  const bad = expectStatus(response, 200)
  if (bad !== undefined) return bad
  const result = resultOf(response)
  if (typeof result === 'string') return result
  if (result.isError === true) return `an isError tool result: ${JSON.stringify(result.content)}`
  const content = result.structuredContent as { sub?: unknown } | undefined
  if (content?.sub !== sub) return `structuredContent.sub is ${JSON.stringify(content?.sub)}, expected ${JSON.stringify(sub)}`
  // 2026-07-28 results carry their result type; its absence would mean the 2025 leg answered.
  if (era === 'modern' && result.resultType !== 'complete') return `resultType is ${JSON.stringify(result.resultType)}, expected "complete" (2026-07-28)`
  return undefined
}

export function checkToolsList (response: ObservedResponse): string | undefined {
  const bad = expectStatus(response, 200)
  if (bad !== undefined) return bad
  const result = resultOf(response)
  if (typeof result === 'string') return result
  const tools = result.tools
  if (!Array.isArray(tools) || !tools.some((tool: { name?: unknown }) => tool.name === 'whoami')) return `tools/list does not list whoami: ${JSON.stringify(result).slice(0, 300)}`
  return undefined
}

/** A Bearer challenge pointing at the Protected Resource Metadata; `invalidToken` when a token was presented. */
export function checkChallenge (response: ObservedResponse, invalidToken: boolean): string | undefined {
  const bad = expectStatus(response, 401)
  if (bad !== undefined) return bad
  const challenge = response.headers.get('www-authenticate') ?? ''
  if (!challenge.startsWith('Bearer ') || !challenge.includes('resource_metadata="')) return `WWW-Authenticate is ${JSON.stringify(challenge)}, expected a Bearer challenge with resource_metadata`
  if (invalidToken && !challenge.includes('error="invalid_token"')) return `WWW-Authenticate lacks error="invalid_token": ${challenge}`
  if (!invalidToken && challenge.includes('error=')) return `a request without a token got an error code (RFC 6750 §3.1): ${challenge}`
  return undefined
}

const looksLikeToolResult = (body: string) => body.includes('"structuredContent"') && !body.includes('"isError":true')

export interface ScenarioInputs {
  /** The one token of the cache-warm scenarios (sub `bench-user`). */
  token: string
  /** Distinct users' tokens (sub `user-<index>`). */
  coldTokens: readonly string[]
  /** The same tokens with broken signatures. */
  badTokens: readonly string[]
  tokenCacheSize: number
}

/** Every scenario, in the order a run takes them. */
export const SCENARIO_IDS = ['baseline', 'whoami-2025', 'whoami-2026', 'whoami-cold', 'tools-list', 'no-token', 'bad-signature'] as const

export const WARM_SUB = 'bench-user'
export const coldSub = (index: number) => `user-${index}`

export function buildScenarios ({ token, coldTokens, badTokens, tokenCacheSize }: ScenarioInputs): Scenario[] {
  const whoami2025 = mcpRequest('legacy', 'tools/call', { name: 'whoami', arguments: {} }, token)
  const uncached = `${formatCount(coldTokens.length)} distinct tokens in turn, TOKEN_CACHE_SIZE=${tokenCacheSize}: every request is a token-cache miss (full RS256 verification)`
  return [
    {
      id: 'baseline',
      title: '(1) baseline: bare Fastify, JSON in/out',
      server: 'baseline',
      expectedStatus: 200,
      // The same headers and body as (2), so both parse the same bytes.
      request: { ...whoami2025, path: '/echo' },
      verifyBody: (body) => body === '{"ok":true,"id":1}',
      check: (response) => expectStatus(response, 200) ?? (response.body === '{"ok":true,"id":1}' ? undefined : `unexpected body ${response.body}`),
      notes: ['separate process: one Fastify POST route, JSON body parsed, small JSON object returned']
    },
    {
      id: 'whoami-2025',
      title: '(2) tools/call whoami, one token, 2025-06-18',
      server: 'mcp',
      expectedStatus: 200,
      request: whoami2025,
      verifyBody: looksLikeToolResult,
      check: (response) => checkWhoami(response, WARM_SUB, 'legacy'),
      notes: ['token-cache warm']
    },
    {
      id: 'whoami-2026',
      title: '(2) tools/call whoami, one token, 2026-07-28',
      server: 'mcp',
      expectedStatus: 200,
      request: mcpRequest('modern', 'tools/call', { name: 'whoami', arguments: {} }, token),
      verifyBody: looksLikeToolResult,
      check: (response) => checkWhoami(response, WARM_SUB, 'modern'),
      notes: ['token-cache warm; _meta envelope + MCP-Protocol-Version, Mcp-Method, Mcp-Name headers']
    },
    {
      id: 'whoami-cold',
      title: '(3) tools/call whoami, a new user per request, 2025-06-18',
      server: 'mcp',
      expectedStatus: 200,
      request: mcpRequest('legacy', 'tools/call', { name: 'whoami', arguments: {} }),
      tokens: coldTokens,
      verifyBody: looksLikeToolResult,
      check: (response, index = 0) => checkWhoami(response, coldSub(index), 'legacy'),
      notes: [uncached]
    },
    {
      id: 'tools-list',
      title: '(4) tools/list, one token, 2025-06-18',
      server: 'mcp',
      expectedStatus: 200,
      request: mcpRequest('legacy', 'tools/list', {}, token),
      verifyBody: (body) => body.includes('"tools":['),
      check: checkToolsList,
      notes: []
    },
    {
      id: 'no-token',
      title: '(5) no token → 401',
      server: 'mcp',
      expectedStatus: 401,
      request: mcpRequest('legacy', 'tools/call', { name: 'whoami', arguments: {} }),
      verifyBody: (body) => body.includes('"error"'),
      check: (response) => checkChallenge(response, false),
      notes: []
    },
    {
      id: 'bad-signature',
      title: '(5) bad signature → 401',
      server: 'mcp',
      expectedStatus: 401,
      request: mcpRequest('legacy', 'tools/call', { name: 'whoami', arguments: {} }),
      tokens: badTokens,
      verifyBody: (body) => body.includes('"invalid_token"'),
      check: (response) => checkChallenge(response, true),
      notes: [`${formatCount(badTokens.length)} distinct forged tokens (known kid, altered signature) in turn: the verification cache cannot answer them`]
    }
  ]
}

function formatCount (value: number): string {
  return value.toLocaleString('en-US')
}
