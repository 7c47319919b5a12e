/**
 * Builds the `McpServer`s that answer MCP requests. Descriptors, schemas and validators
 * come precomputed from the registry; what varies per request (the caller, the logger,
 * a scope challenge) travels in an Exchange that handlers look up by request id.
 */
import type { FastifyBaseLogger } from 'fastify'
import { McpServer, type CallToolResult, type RequestId } from '@modelcontextprotocol/server'
import packageJson from '../../package.json' with { type: 'json' }
import type { BackendSession } from '../backends/backends.ts'
import type { Caller } from '../caller.ts'
import type { Config } from '../config.ts'
import { ToolError, type ToolContext } from '../tool.ts'
import type { RegisteredTool, ToolRegistry } from '../tool-registry.ts'

export const serverInfo = { name: 'mcp-gateway', title: 'MCP Gateway', version: packageJson.version }

/** What one request brings to the server built for it. */
export interface Exchange {
  readonly caller: Caller
  readonly log: FastifyBaseLogger
  readonly requestId: string
  /** The JSON-RPC method, and for `tools/call` the tool it names (from the classified message). */
  readonly method: string | undefined
  readonly toolName: string | undefined
  /**
   * Set when the caller lacks scopes for the tool and challenges are answered as tool
   * results (SCOPE_CHALLENGE=tool-result): the call returns this instead of running.
   */
  readonly scopeChallengeResult: CallToolResult | undefined
  /** The caller's access to backends (`ctx.backend`); it alone holds the inbound token. */
  readonly backends: BackendSession
}

export interface ServerFactoryOptions {
  readonly registry: ToolRegistry
  readonly config: Config
  /** `tools/list` shows every tool (true) or only those the caller's scopes unlock (false). */
  readonly listAllTools: boolean
}

async function runTool (tool: RegisteredTool, input: unknown, ctx: ToolContext, requestId: string): Promise<CallToolResult> {
  const { definition } = tool
  try {
    const output = await definition.handler(input as never, ctx)
    const text = definition.render !== undefined ? definition.render(output as never) : JSON.stringify(output, null, 2)
    return { content: [{ type: 'text', text }], structuredContent: output as Record<string, unknown> }
  } catch (error) {
    if (error instanceof ToolError) {
      ctx.log.info({ err: error }, 'tool returned an error')
      return { isError: true, content: [{ type: 'text', text: error.message }] }
    }
    if (ctx.signal.aborted) {
      return { isError: true, content: [{ type: 'text', text: `The ${tool.name} call was cancelled.` }] }
    }
    // Unexpected failures stay in the log: their messages may hold internals.
    ctx.log.error({ err: error }, 'tool failed')
    return { isError: true, content: [{ type: 'text', text: `The ${tool.name} tool failed unexpectedly; the error is logged under request id ${requestId}.` }] }
  }
}

/**
 * Builds an McpServer offering `tools`. Handlers find the request they serve through
 * `exchangeOf` (by JSON-RPC request id), so one instance can serve many requests.
 */
export function buildMcpServer (
  { registry, config, listAllTools }: ServerFactoryOptions,
  tools: readonly RegisteredTool[],
  exchangeOf: (requestId: RequestId) => Exchange | undefined
): McpServer {
  const server = new McpServer(serverInfo, { capabilities: { tools: { listChanged: false } } })
  const exchangeFor = (requestId: RequestId): Exchange => {
    const exchange = exchangeOf(requestId)
    if (exchange === undefined) throw new Error(`no exchange for MCP request ${String(requestId)}`)
    return exchange
  }

  for (const tool of tools) {
    const declared = new Set(tool.definition.backends ?? [])
    server.registerTool(tool.name, {
      title: tool.title,
      description: tool.definition.description,
      inputSchema: tool.inputSchema,
      outputSchema: tool.outputSchema,
      ...(tool.definition.annotations !== undefined && { annotations: tool.definition.annotations })
    }, async (input, { mcpReq }) => {
      const exchange = exchangeFor(mcpReq.id)
      if (exchange.scopeChallengeResult !== undefined) return exchange.scopeChallengeResult
      const progressToken = mcpReq._meta?.progressToken
      // A child logger costs more than most tool calls: made only when a handler logs.
      let log: FastifyBaseLogger | undefined
      const ctx: ToolContext = {
        caller: exchange.caller,
        get log () { return (log ??= exchange.log.child({ tool: tool.name })) },
        config,
        signal: mcpReq.signal,
        tools: registry.summaries,
        reportProgress: async (progress, total, message) => {
          if (progressToken === undefined) return
          await mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress, ...(total !== undefined && { total }), ...(message !== undefined && { message }) }
          })
        },
        backend: (name) => {
          if (!declared.has(name)) throw new Error(`the ${tool.name} tool calls the backend ${name} without declaring it: add it to the tool's backends`)
          return exchange.backends.client(name, { signal: mcpReq.signal, log: ctx.log })
        }
      }
      return runTool(tool, input, ctx, exchange.requestId)
    })
  }

  // The published list is precomputed; the only per-request work is the scope filter.
  server.server.setRequestHandler('tools/list', (_request, { mcpReq }) => {
    const { caller } = exchangeFor(mcpReq.id)
    return { tools: (listAllTools ? registry.tools : registry.allowedFor(caller.scopes)).map((registered) => registered.descriptor) }
  })
  return server
}

/**
 * A server for one request: only the tool a `tools/call` names is registered, which
 * keeps construction cheap.
 */
export function createServerFactory (options: ServerFactoryOptions): (exchange: Exchange) => McpServer {
  return (exchange) => {
    const tool = exchange.method === 'tools/call' && exchange.toolName !== undefined ? options.registry.get(exchange.toolName) : undefined
    return buildMcpServer(options, tool === undefined ? [] : [tool], () => exchange)
  }
}
