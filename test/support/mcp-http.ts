/** Raw MCP requests for tests that look at HTTP status and headers (stateless 2025-06-18 traffic). */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18'
}

export interface ToolCallOptions {
  /** Bearer token; none when undefined. */
  token?: string | undefined
  tool?: string
  args?: Record<string, unknown>
  /** /mcp (default) or /. */
  path?: string
  /** The TCP peer as the server sees it. */
  remoteAddress?: string
  headers?: Record<string, string>
}

/** POSTs one `tools/call` (echo by default) through inject. */
export function callTool (app: FastifyInstance, { token, tool = 'echo', args = { message: 'hi' }, path = '/mcp', remoteAddress, headers = {} }: ToolCallOptions = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: path,
    ...(remoteAddress !== undefined && { remoteAddress }),
    headers: { ...MCP_HEADERS, ...(token !== undefined && { authorization: `Bearer ${token}` }), ...headers },
    payload: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: tool, arguments: args } }
  })
}
