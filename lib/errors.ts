/**
 * Every error this service raises on purpose: @fastify/error classes with stable
 * `MCPGW_*` codes. Errors on the MCP endpoint are rendered as JSON-RPC error
 * objects; `jsonRpcCode` says which code (see lib/mcp/json-rpc.ts).
 */
import createError from '@fastify/error'
import type { FastifyReply } from 'fastify'

/**
 * An error class for a refusal: a decision about a request, not a bug. It carries no
 * stack trace, which would say nothing and is the most expensive part of answering
 * a flood of bad requests (measured: up to 8% of the CPU of the 401 path).
 */
export function refusal (code: string, message: string, statusCode: number): ReturnType<typeof createError> {
  return createError(code, message, statusCode, Error, false)
}

/** The same for errors that never leave this service (a token rejection on its way to a 401). */
export class StacklessError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    const { stackTraceLimit } = Error
    Error.stackTraceLimit = 0
    super(message, options)
    Error.stackTraceLimit = stackTraceLimit
  }
}

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

export const MethodNotAllowedError = refusal(
  'MCPGW_METHOD_NOT_ALLOWED',
  'Method %s is not allowed: this is a stateless MCP endpoint, send each JSON-RPC message as an HTTP POST',
  405
)

export const BatchNotSupportedError = refusal(
  'MCPGW_BATCH_NOT_SUPPORTED',
  'JSON-RPC batches are not supported: send one JSON-RPC message per HTTP POST (batching was removed in MCP 2025-06-18)',
  400
)

export const UnsupportedProtocolVersionError = refusal(
  'MCPGW_UNSUPPORTED_PROTOCOL_VERSION',
  'Unsupported MCP-Protocol-Version %s: this server supports %s',
  400
)

/** The SDK's request classification refused the message; status, code and text are the SDK's. */
export const McpRequestRejectedError = refusal('MCPGW_REQUEST_REJECTED', '%s', 400)

export const CallerMissingError = createError(
  'MCPGW_CALLER_MISSING',
  'The MCP route was reached without an authenticated caller: the auth hook is not registered in this scope',
  500
)

/** A rate-limit budget is spent; the message names the budget, `Retry-After` says when it refills. */
export const RateLimitedError = refusal('MCPGW_RATE_LIMITED', '%s', 429)

/** RATE_LIMIT_FAIL=closed and the shared counters (Redis) cannot be reached. */
export const RateLimitUnavailableError = refusal(
  'MCPGW_RATE_LIMIT_UNAVAILABLE',
  'Requests cannot be counted against their rate limits right now (the rate-limit store is unreachable); retry shortly',
  503
)

/** The event loop is saturated: the request is shed instead of queued (@fastify/under-pressure). */
export const OverloadedError = refusal('MCPGW_OVERLOADED', 'The server is overloaded; retry in a few seconds', 503)

/** DNS-rebinding protection on the MCP endpoint (MCP transport spec: validate Origin). */
export const OriginNotAllowedError = refusal(
  'MCPGW_ORIGIN_NOT_ALLOWED',
  '%s: browsers on this origin may not call this MCP server (the operator can allow it with ALLOWED_ORIGINS)',
  403
)

/** DNS-rebinding protection of a server bound to loopback: the Host must name this server. */
export const HostNotAllowedError = refusal(
  'MCPGW_HOST_NOT_ALLOWED',
  '%s: this server is bound to a loopback address and answers only to localhost, 127.0.0.1, [::1] and the host of PUBLIC_URL',
  403
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
  MCPGW_UNSUPPORTED_PROTOCOL_VERSION: JsonRpcCode.ServerError,
  MCPGW_ORIGIN_NOT_ALLOWED: JsonRpcCode.ServerError,
  MCPGW_HOST_NOT_ALLOWED: JsonRpcCode.ServerError,
  MCPGW_RATE_LIMITED: JsonRpcCode.RateLimited,
  MCPGW_RATE_LIMIT_UNAVAILABLE: JsonRpcCode.ServerError,
  MCPGW_OVERLOADED: JsonRpcCode.ServerError
}

/** What an error may carry besides its message; both error handlers honour it. */
export interface ErrorExtras {
  /** Response headers that belong to this failure (WWW-Authenticate, Allow, Retry-After). */
  headers?: Record<string, string>
  jsonRpcCode?: number
  jsonRpcData?: unknown
  /** An OAuth 2.0 error (RFC 6750 §3.1): rendered as `{ error, error_description }`. */
  oauthError?: string
  /**
   * Log level of this failure in the request log (5xx default to error). Refusals whose cause
   * is reported once elsewhere (overload, a Redis outage) use debug, so a flood of them cannot
   * flood the log too.
   */
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
}

/** A 429 for a spent budget, with the headers that say when to retry and the JSON-RPC code MCP clients expect. */
export function rateLimitedError (message: string, retryAfterSeconds: number, headers: Record<string, string> = {}): Error & ErrorExtras {
  return Object.assign(new RateLimitedError(message), {
    headers: { ...headers, 'retry-after': String(retryAfterSeconds) },
    jsonRpcData: { retryAfterSeconds },
    logLevel: 'info' as const
  })
}

/**
 * Writes an error's headers. An `Access-Control-Expose-Headers` list is added to, not
 * replaced: CORS may already expose more (Retry-After, RateLimit-*) than a challenge names.
 */
export function applyErrorHeaders (reply: FastifyReply, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    const current = name === 'access-control-expose-headers' ? reply.getHeader(name) : undefined
    if (typeof current === 'string' && current !== '') {
      const exposed = new Set(current.split(',').map((header) => header.trim().toLowerCase()))
      const added = value.split(',').map((header) => header.trim()).filter((header) => !exposed.has(header.toLowerCase()))
      reply.header(name, added.length > 0 ? `${current}, ${added.join(', ')}` : current)
    } else {
      reply.header(name, value)
    }
  }
}
