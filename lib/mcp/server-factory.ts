/**
 * Builds the `McpServer`s that answer MCP requests. Descriptors, schemas and validators
 * come precomputed from the registry; what varies per request (the caller, the logger,
 * a scope challenge) travels in an Exchange that handlers look up by request id.
 */
import type { FastifyBaseLogger } from 'fastify'
import { McpServer, type CallToolResult, type RequestId } from '@modelcontextprotocol/server'
import packageJson from '../../package.json' with { type: 'json' }
import type { BackendFailure, ToolCallRecorder, ToolFailure } from '../audit.ts'
import { BackendError } from '../backends/errors.ts'
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
  /** The audit record of this `tools/call`: told how the tool run ended. */
  readonly audit?: ToolCallRecorder | undefined
  /** The caller's access to backends (`ctx.backend`); it alone holds the inbound token. */
  readonly backends: BackendSession
}

export interface ServerFactoryOptions {
  readonly registry: ToolRegistry
  readonly config: Config
  /** `tools/list` shows every tool (true) or only those the caller's scopes unlock (false). */
  readonly listAllTools: boolean
}

interface ToolOutcome {
  result: CallToolResult
  /** Why the result is an error, for the audit trail; undefined when the call succeeded. */
  failure: ToolFailure | undefined
  /** The backend that failed, when that is why. */
  backend?: BackendFailure
}

/** Rejects when `signal` aborts: the race that ends a call whose handler ignores its signal. */
function aborted (signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/** A call's time limit: a signal that aborts when `parent` does or when `seconds` pass. Dispose of it when the call ends. */
class Deadline {
  readonly seconds: number
  readonly #controller = new AbortController()
  readonly #parent: AbortSignal
  readonly #timer: NodeJS.Timeout
  #passed = false

  constructor (parent: AbortSignal, seconds: number) {
    this.seconds = seconds
    this.#parent = parent
    this.#timer = setTimeout(() => {
      this.#passed = true
      this.#controller.abort(new Error(`no result within ${seconds} s`))
    }, seconds * 1000)
    if (parent.aborted) this.#controller.abort(parent.reason)
    else parent.addEventListener('abort', this.#cancel, { once: true })
  }

  get signal (): AbortSignal { return this.#controller.signal }
  get passed (): boolean { return this.#passed }

  dispose (): void {
    clearTimeout(this.#timer)
    this.#parent.removeEventListener('abort', this.#cancel)
  }

  readonly #cancel = (): void => { this.#controller.abort(this.#parent.reason) }
}

async function runTool (tool: RegisteredTool, input: unknown, ctx: ToolContext, requestId: string, deadline: Deadline): Promise<ToolOutcome> {
  const { definition } = tool
  const failed = (failure: ToolFailure, text: string): ToolOutcome => ({ failure, result: { isError: true, content: [{ type: 'text', text }] } })
  const { signal } = ctx
  let output: unknown
  try {
    output = await Promise.race([definition.handler(input as never, ctx), aborted(signal)])
  } catch (error) {
    if (error instanceof ToolError) {
      ctx.log.info({ err: error }, 'tool returned an error')
      const outcome = failed('tool_error', error.message)
      if (error instanceof BackendError) outcome.backend = { name: error.backend, code: error.code, status: error.status ?? null }
      return outcome
    }
    if (deadline.passed) {
      ctx.log.warn({ timeoutSeconds: deadline.seconds }, 'tool timed out')
      return failed('timed_out', `The ${tool.name} tool did not finish within ${deadline.seconds} s and was stopped.`)
    }
    if (signal.aborted) return failed('cancelled', `The ${tool.name} call was cancelled.`)
    // Unexpected failures stay in the log: their messages may hold internals.
    ctx.log.error({ err: error }, 'tool failed')
    return failed('tool_failed', `The ${tool.name} tool failed unexpectedly; the error is logged under request id ${requestId}.`)
  }
  // Checked here (the SDK checks again) so that a tool bug is logged as one and audited as an error.
  const checked = tool.outputSchema['~standard'].validate(output)
  if (!(checked instanceof Promise) && checked.issues !== undefined) {
    ctx.log.error({ issues: checked.issues }, 'tool output does not match its output schema')
    return failed('invalid_output', `The ${tool.name} tool failed unexpectedly; the error is logged under request id ${requestId}.`)
  }
  const text = definition.render !== undefined ? definition.render(output as never) : JSON.stringify(output, null, 2)
  return { failure: undefined, result: { content: [{ type: 'text', text }], structuredContent: output as Record<string, unknown> } }
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
      const deadline = new Deadline(mcpReq.signal, config.TOOL_TIMEOUT_S)
      const ctx: ToolContext = {
        caller: exchange.caller,
        get log () { return (log ??= exchange.log.child({ tool: tool.name })) },
        config,
        // Aborted when the client cancels or leaves, or when the time limit passes.
        signal: deadline.signal,
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
          return exchange.backends.client(name, { signal: deadline.signal, log: ctx.log })
        }
      }
      let outcome: ToolOutcome
      try {
        outcome = await runTool(tool, input, ctx, exchange.requestId, deadline)
      } finally {
        deadline.dispose()
      }
      exchange.audit?.ran(outcome.failure, outcome.backend)
      return outcome.result
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
