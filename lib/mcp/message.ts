/**
 * Reads the one JSON-RPC message of an MCP POST. The SDK's own classifier decides
 * what the message is and which protocol era it belongs to (2026-07-28 envelope or
 * 2025-era), including its header/body cross-checks; this adds the rules of a
 * stateless endpoint (no batches) and the 2025-era protocol-version header check.
 */
import type { IncomingHttpHeaders } from 'node:http'
import {
  classifyInboundRequest,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type RequestId
} from '@modelcontextprotocol/server'
import { BatchNotSupportedError, McpRequestRejectedError, UnsupportedProtocolVersionError } from '../errors.ts'

/** 2026-07-28+ revisions the SDK serves through `createMcpHandler` (it names them itself in its own errors). */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const
/** Every revision this endpoint serves, newest first: what a version error names. */
export const SERVED_PROTOCOL_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS]

export interface McpMessage {
  readonly era: 'legacy' | 'modern'
  readonly body: JSONRPCMessage
  readonly kind: 'request' | 'notification' | 'response'
  /** The request id, or null for notifications and responses. */
  readonly id: RequestId | null
  readonly method: string | undefined
  /** For `tools/call`: the tool it names. */
  readonly toolName: string | undefined
  /** For `tools/call`: the arguments as sent (validated later, by the SDK). */
  readonly toolArguments: unknown
}

function header (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/** Throws an error carrying the HTTP status and JSON-RPC code to answer with. */
export function readMcpMessage (body: unknown, headers: IncomingHttpHeaders): McpMessage {
  if (Array.isArray(body)) throw new BatchNotSupportedError()
  const protocolVersionHeader = header(headers, 'mcp-protocol-version')
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    protocolVersionHeader,
    mcpMethodHeader: header(headers, 'mcp-method'),
    mcpNameHeader: header(headers, 'mcp-name'),
    body
  })
  if (outcome.kind === 'reject') {
    throw Object.assign(new McpRequestRejectedError(outcome.message), {
      statusCode: outcome.httpStatus,
      jsonRpcCode: outcome.code,
      ...(outcome.data !== undefined && { jsonRpcData: outcome.data })
    })
  }
  if (outcome.kind === 'legacy' && outcome.reason !== 'initialize' && protocolVersionHeader !== undefined &&
      !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersionHeader)) {
    throw Object.assign(new UnsupportedProtocolVersionError(protocolVersionHeader, SERVED_PROTOCOL_VERSIONS.join(', ')), {
      jsonRpcData: { supported: SERVED_PROTOCOL_VERSIONS, requested: protocolVersionHeader }
    })
  }

  const message = body as Record<string, unknown>
  const kind = 'method' in message ? ('id' in message ? 'request' : 'notification') : 'response'
  const method = typeof message.method === 'string' ? message.method : undefined
  const params = message.params as { name?: unknown, arguments?: unknown } | undefined
  const isToolCall = method === 'tools/call' && typeof params?.name === 'string'
  return {
    era: outcome.kind,
    body: body as JSONRPCMessage,
    kind,
    id: kind === 'request' ? message.id as RequestId : null,
    method,
    toolName: isToolCall ? params?.name as string : undefined,
    toolArguments: isToolCall ? params?.arguments : undefined
  }
}
