/**
 * Every error this service raises on purpose: @fastify/error classes with stable
 * `MCPGW_*` codes. Errors on the MCP endpoint are rendered as JSON-RPC error
 * objects; `jsonRpcCode` says which code (see lib/mcp/json-rpc.ts).
 */
import createError from '@fastify/error'

/** JSON-RPC 2.0 / MCP error codes used on the wire. */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Transport-level errors without a more specific code (the SDK uses -32000 for these too). */
  ServerError: -32000,
  /** Rate limited (MCP servers commonly use the implementation-defined range). */
  RateLimited: -32029
} as const

export const MethodNotAllowedError = createError(
  'MCPGW_METHOD_NOT_ALLOWED',
  'Method %s is not allowed: this is a stateless MCP endpoint, send each JSON-RPC message as an HTTP POST',
  405
)

export const BatchNotSupportedError = createError(
  'MCPGW_BATCH_NOT_SUPPORTED',
  'JSON-RPC batches are not supported: send one JSON-RPC message per HTTP POST (batching was removed in MCP 2025-06-18)',
  400
)

export const UnsupportedProtocolVersionError = createError(
  'MCPGW_UNSUPPORTED_PROTOCOL_VERSION',
  'Unsupported MCP-Protocol-Version %s: this server supports %s',
  400
)

/** The SDK's request classification refused the message; status, code and text are the SDK's. */
export const McpRequestRejectedError = createError('MCPGW_REQUEST_REJECTED', '%s', 400)

export const CallerMissingError = createError(
  'MCPGW_CALLER_MISSING',
  'The MCP route was reached without an authenticated caller: the auth hook is not registered in this scope',
  500
)

/** Which JSON-RPC code each HTTP-level failure maps to, Fastify's own errors included. */
export const jsonRpcCodeByErrorCode: Readonly<Record<string, number>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: JsonRpcCode.ParseError,
  FST_ERR_CTP_EMPTY_JSON_BODY: JsonRpcCode.ParseError,
  FST_ERR_CTP_BODY_TOO_LARGE: JsonRpcCode.ServerError,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: JsonRpcCode.ServerError,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: JsonRpcCode.ServerError,
  MCPGW_METHOD_NOT_ALLOWED: JsonRpcCode.ServerError,
  MCPGW_BATCH_NOT_SUPPORTED: JsonRpcCode.InvalidRequest,
  MCPGW_UNSUPPORTED_PROTOCOL_VERSION: JsonRpcCode.ServerError
}

/** What an error may carry besides its message; both error handlers honour it. */
export interface ErrorExtras {
  /** Response headers that belong to this failure (WWW-Authenticate, Allow, Retry-After). */
  headers?: Record<string, string>
  jsonRpcCode?: number
  jsonRpcData?: unknown
  /** An OAuth 2.0 error (RFC 6750 §3.1): rendered as `{ error, error_description }`. */
  oauthError?: string
}
