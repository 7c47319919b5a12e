/**
 * The MCP endpoint: stateless Streamable HTTP at POST /mcp and POST / (people paste
 * either as the connector URL). Hooks, in request order:
 *   onRequest     fastify.authenticate — a verified caller, or a 401 challenge
 *   preValidation read the one JSON-RPC message (the SDK classifies it)
 *   preHandler    the tool's required scopes, from the tool registry
 * and the handler serves the message with a fresh McpServer.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { CallToolResult } from '@modelcontextprotocol/server'
import { missingScopes } from '../../lib/caller.ts'
import { CallerMissingError, MethodNotAllowedError } from '../../lib/errors.ts'
import { insufficientScopeChallenge, insufficientScopeError, resourceMetadataUrl } from '../../lib/auth/challenges.ts'
import { McpDispatcher } from '../../lib/mcp/dispatcher.ts'
import { mcpErrorHandler } from '../../lib/mcp/json-rpc-errors.ts'
import { readMcpMessage, type McpMessage } from '../../lib/mcp/message.ts'
import { createServerFactory } from '../../lib/mcp/server-factory.ts'
import { MCP_ENDPOINT_PATHS } from '../../lib/resource.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON-RPC message of an MCP POST, once read (preValidation). */
    mcpMessage: McpMessage | null
    /** Set when SCOPE_CHALLENGE=tool-result answers a missing scope as the tool's result. */
    scopeChallengeResult: CallToolResult | null
  }
}

/** One JSON-RPC message is small; 1 MiB leaves room for large tool arguments. */
const MAX_MESSAGE_BYTES = 1024 * 1024

const mcpRoutes: FastifyPluginAsync = async (fastify) => {
  const { config, tools: registry } = fastify
  const dispatcher = new McpDispatcher(
    createServerFactory({ registry, config, listAllTools: config.TOOLS_LIST === 'all' }),
    config,
    fastify.log
  )
  fastify.addHook('onClose', () => dispatcher.close())
  fastify.decorateRequest('mcpMessage', null)
  fastify.decorateRequest('scopeChallengeResult', null)
  fastify.setErrorHandler(mcpErrorHandler)

  async function readMessage (request: FastifyRequest) {
    request.mcpMessage = readMcpMessage(request.body, request.headers)
  }

  async function enforceToolScopes (request: FastifyRequest, reply: FastifyReply) {
    const { mcpMessage: message, caller } = request
    if (message?.toolName === undefined || caller === null) return
    const tool = registry.get(message.toolName)
    // Written when the response closes, with what the tool execution reports.
    const audit = fastify.audit.openToolCall(request, reply, { name: message.toolName, tool, arguments: message.toolArguments })
    // An unknown tool is the SDK's to answer (a JSON-RPC error naming it).
    if (tool === undefined) return
    const missing = missingScopes(tool.requiredScopes, caller.scopes)
    if (missing.length === 0) return

    const description = `The ${tool.name} tool needs the scope${missing.length > 1 ? 's' : ''} ${missing.join(' ')}, which this access token was not granted`
    audit.deny('insufficient_scope', description, missing)
    // Held plus required: clients treat a challenge's scopes as the whole set to ask for.
    const scopes = [...new Set([...caller.scopes, ...tool.requiredScopes])]
    const metadata = resourceMetadataUrl(config.PUBLIC_URL, request.routeOptions.url ?? '/mcp')
    if (config.SCOPE_CHALLENGE === 'http') throw insufficientScopeError(description, metadata, scopes)
    request.scopeChallengeResult = {
      isError: true,
      content: [{ type: 'text', text: `${description}. Reconnect the app and grant it to use this tool.` }],
      _meta: { 'mcp/www_authenticate': [insufficientScopeChallenge(description, metadata, scopes)] }
    }
  }

  async function serve (request: FastifyRequest, reply: FastifyReply) {
    const { mcpMessage: message, caller } = request
    if (message === null || caller === null) throw new CallerMissingError()
    return dispatcher.serve(request, reply, message, {
      caller,
      log: request.log,
      requestId: request.id,
      method: message.method,
      toolName: message.toolName,
      scopeChallengeResult: request.scopeChallengeResult ?? undefined,
      audit: request.toolCallAudit ?? undefined
    })
  }

  async function methodNotAllowed (request: FastifyRequest): Promise<never> {
    throw Object.assign(new MethodNotAllowedError(request.method), { headers: { allow: 'POST' } })
  }

  for (const url of MCP_ENDPOINT_PATHS) {
    fastify.post(url, {
      bodyLimit: MAX_MESSAGE_BYTES,
      onRequest: fastify.authenticate,
      preValidation: readMessage,
      preHandler: enforceToolScopes
    }, serve)
    // Stateless: no standalone SSE stream (GET) and no session to end (DELETE).
    fastify.route({ method: ['GET', 'DELETE'], url, handler: methodNotAllowed })
  }
}

export default mcpRoutes
