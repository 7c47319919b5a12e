/**
 * The MCP endpoint: stateless Streamable HTTP at POST /mcp and POST / (people paste
 * either as the connector URL). Hooks, in request order:
 *   onRequest     (this scope) Host when bound to loopback, Origin, CORS headers
 *   onRequest     fastify.authenticate — a verified caller, or a 401 challenge — then the
 *                 caller's request budget (per user, not per address: many users share
 *                 the addresses of ChatGPT's and Claude's backends)
 *   preValidation read the one JSON-RPC message (the SDK classifies it)
 *   preHandler    the tool's required scopes, from the tool registry, then the tool's own
 *                 budget when it declares one
 * and the handler serves the message with a fresh McpServer.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { CallToolResult } from '@modelcontextprotocol/server'
import { missingScopes, type Caller } from '../../lib/caller.ts'
import { originAllowList } from '../../lib/config.ts'
import { CallerMissingError, MethodNotAllowedError } from '../../lib/errors.ts'
import { insufficientScopeChallenge, insufficientScopeError, resourceMetadataUrl } from '../../lib/auth/challenges.ts'
import { takeInboundToken } from '../../lib/auth/inbound-token.ts'
import { McpDispatcher } from '../../lib/mcp/dispatcher.ts'
import { mcpErrorHandler } from '../../lib/mcp/json-rpc-errors.ts'
import { readMcpMessage, type McpMessage } from '../../lib/mcp/message.ts'
import { allowCrossOrigin, answerPreflight, hostCheck, isLoopbackHost, originCheck } from '../../lib/mcp/cross-origin.ts'
import { Budget, callerKey } from '../../lib/rate-limit/budget.ts'
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
  const dispatcher = new McpDispatcher({ registry, config, listAllTools: config.TOOLS_LIST === 'all' }, fastify.log)
  await dispatcher.start()
  fastify.addHook('onClose', () => dispatcher.close())
  fastify.decorateRequest('mcpMessage', null)
  fastify.decorateRequest('scopeChallengeResult', null)
  fastify.setErrorHandler(mcpErrorHandler)
  // MCP messages are JSON only: anything else is a 415, not a string to misread.
  fastify.removeContentTypeParser('text/plain')

  // DNS-rebinding protection, then CORS for the origins that passed.
  if (isLoopbackHost(config.HOST)) fastify.addHook('onRequest', hostCheck(config.PUBLIC_URL))
  fastify.addHook('onRequest', originCheck(originAllowList(config)))
  fastify.addHook('onRequest', allowCrossOrigin)

  // Budgets count in the store of @fastify/rate-limit (Redis when configured); one counter serves both paths.
  const windowMs = config.RATE_LIMIT_WINDOW_S * 1000
  const callerBudget = config.RATE_LIMIT_CALLER_MAX > 0
    ? Budget.create(fastify, { max: config.RATE_LIMIT_CALLER_MAX, windowMs, scope: 'per user', unit: 'MCP requests', key: (request) => `caller:${callerKey(request.caller as Caller)}` })
    : undefined
  const toolBudgets = new Map<string, Budget>()
  for (const tool of registry.tools) {
    const limit = tool.definition.rateLimit
    if (limit === undefined) continue
    toolBudgets.set(tool.name, Budget.create(fastify, {
      max: limit.max,
      windowMs: limit.timeWindowMs,
      scope: `per user for the ${tool.name} tool`,
      unit: 'calls',
      key: (request) => `tool:${tool.name}:${callerKey(request.caller as Caller)}`
    }))
  }

  async function spendCallerBudget (request: FastifyRequest, reply: FastifyReply) {
    if (request.caller !== null) await callerBudget?.spend(request, reply)
  }

  async function spendToolBudget (request: FastifyRequest, reply: FastifyReply) {
    const toolName = request.mcpMessage?.toolName
    // A call refused for its scopes (as a tool result) does not run, so it costs nothing.
    if (toolName === undefined || request.caller === null || request.scopeChallengeResult !== null) return
    await toolBudgets.get(toolName)?.spend(request, reply)
  }

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
      audit: request.toolCallAudit ?? undefined,
      backends: fastify.backends.session(caller, takeInboundToken(request))
    })
  }

  async function methodNotAllowed (request: FastifyRequest): Promise<never> {
    throw Object.assign(new MethodNotAllowedError(request.method), { headers: { allow: 'POST' } })
  }

  for (const url of MCP_ENDPOINT_PATHS) {
    fastify.post(url, {
      bodyLimit: MAX_MESSAGE_BYTES,
      // Not the plugin's per-address limit: authenticate and the caller budget count instead.
      config: { rateLimit: false },
      onRequest: [fastify.authenticate, spendCallerBudget],
      preValidation: readMessage,
      preHandler: [enforceToolScopes, spendToolBudget]
    }, serve)
    // Stateless: no standalone SSE stream (GET) and no session to end (DELETE).
    fastify.route({ method: ['GET', 'DELETE'], url, handler: methodNotAllowed })
    // CORS preflight of browser-based clients (the Origin check above already ran).
    fastify.options(url, answerPreflight)
  }
}

export default mcpRoutes
