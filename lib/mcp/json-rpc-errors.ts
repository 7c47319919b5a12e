import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { applyErrorHeaders, JsonRpcCode, jsonRpcCodeByErrorCode, type ErrorExtras } from '../errors.ts'

/**
 * The MCP route's error handler: every failure is answered with the HTTP status it
 * deserves and a JSON-RPC error object a client can show. OAuth failures keep the
 * RFC 6750 body; 5xx messages are logged, never sent.
 */
export function mcpErrorHandler (error: FastifyError & ErrorExtras, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
  if (error.headers !== undefined) applyErrorHeaders(reply, error.headers)
  request.log[error.logLevel ?? (status >= 500 ? 'error' : 'info')]({ err: error }, status >= 500 ? 'MCP request failed' : 'MCP request refused')
  reply.code(status)
  if (error.oauthError !== undefined) return reply.send({ error: error.oauthError, error_description: error.message })

  const code = error.jsonRpcCode ?? jsonRpcCodeByErrorCode[error.code] ?? (status >= 500 ? JsonRpcCode.InternalError : JsonRpcCode.InvalidRequest)
  // Our own errors say only what is safe to say; anything unexpected stays in the log.
  const message = status < 500 || error.code?.startsWith('MCPGW_') === true ? error.message : 'Internal error'
  return reply.send({
    jsonrpc: '2.0',
    id: request.mcpMessage?.id ?? null,
    error: { code, message, ...(error.jsonRpcData !== undefined && status < 500 && { data: error.jsonRpcData }) }
  })
}
