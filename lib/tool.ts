/**
 * How a tool is declared: one file in `tools/` exporting `defineTool({...})`.
 * A handler receives a ToolContext, never the Fastify instance, so it can be
 * unit-tested with a hand-made context.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Static, TObject, TSchema } from 'typebox'
import type { ToolAnnotations } from '@modelcontextprotocol/server'
import type { BackendClient } from './backends/backend-client.ts'
import type { Caller } from './caller.ts'
import type { Config } from './config.ts'

/** What every tool may see of the others: enough to explain access (see `whoami`). */
export interface ToolSummary {
  readonly name: string
  readonly title: string
  readonly requiredScopes: readonly string[]
}

export interface ToolContext {
  /** The verified caller. Scopes are already checked against `requiredScopes` before the handler runs. */
  readonly caller: Caller
  /** Request-scoped logger (carries the request id and the tool name). */
  readonly log: FastifyBaseLogger
  readonly config: Config
  /** Aborted when the client goes away or the call is cancelled: pass it to anything slow. */
  readonly signal: AbortSignal
  /** Every tool this server offers, with the scopes each needs. */
  readonly tools: readonly ToolSummary[]
  /**
   * Tells the client how far a long call has got (MCP progress notifications). A no-op
   * when the client did not ask for progress; the response turns into an SSE stream
   * when it did.
   */
  readonly reportProgress: (progress: number, total?: number, message?: string) => Promise<void>
  /**
   * HTTP to a backend the tool declares in `backends`, as the caller: the client adds
   * credentials for that backend (an exchanged token or a signed assertion) and the
   * handler never sees a token. Failures the user should read are ToolErrors.
   */
  readonly backend: (name: string) => BackendClient
}

/** A per-caller budget for one tool, on top of the caller's global MCP budget. */
export interface ToolRateLimit {
  /** Calls allowed per window. */
  readonly max: number
  /** Window length in milliseconds. */
  readonly timeWindowMs: number
}

export interface ToolDefinition<Input extends TObject = TObject, Output extends TSchema = TSchema> {
  /** Stable machine name: letters, digits, `.`, `_`, `-`; at most 128 characters. */
  readonly name: string
  readonly title: string
  /** What the tool does, written for the model that decides when to call it. */
  readonly description: string
  /** Every scope listed is required to call the tool (and to see it in `tools/list`). */
  readonly requiredScopes: readonly [string, ...string[]]
  readonly input: Input
  /** Returned as `structuredContent`; the text content is `render(output)`. */
  readonly output: Output
  readonly annotations?: ToolAnnotations
  readonly rateLimit?: ToolRateLimit
  /**
   * The backends (names in BACKENDS) the handler calls through `ctx.backend`. A tool is
   * offered only when all of them are configured; it may call no others.
   */
  readonly backends?: readonly string[]
  /** Text rendering of the output for clients that only show text; defaults to indented JSON. */
  readonly render?: (output: Static<Output>) => string
  readonly handler: (input: Static<Input>, ctx: ToolContext) => Promise<Static<Output>>
}

/** Identity function that keeps the input/output types of a tool declaration. */
export function defineTool<Input extends TObject, Output extends TSchema> (definition: ToolDefinition<Input, Output>): ToolDefinition<Input, Output> {
  return definition
}

/**
 * A failure the caller should read as it is (bad state, not found, backend said no).
 * Any other error thrown by a handler is logged and reported with a generic message.
 */
export class ToolError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ToolError'
  }
}
