/**
 * The audit trail (lib/audit.ts) as a shared plugin:
 * - `fastify.audit.openToolCall(request, reply, …)`: the MCP route opens the record of a
 *   `tools/call` once it knows the tool and the caller; the record is written exactly once,
 *   when the response closes (sent, or the client left), with the outcome the tool
 *   execution reported and the request's latency;
 * - `fastify.audit.authenticationFailed(request, reply, error)`: the auth hook records
 *   a refused token at once (the body, and so the tool, is not read yet).
 *
 * Events are written whatever LOG_LEVEL says (unless `silent`): an audit trail that a
 * log level can switch off is not one.
 */
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import {
  argumentsDigest,
  claimedIdentity,
  type AuditEvent,
  type BackendFailure,
  type DenialReason,
  type ToolCallRecorder,
  type ToolFailure
} from '../../lib/audit.ts'
import type { Config } from '../../lib/config.ts'
import type { RegisteredTool } from '../../lib/tool-registry.ts'
import { isLevelEnabled } from '../../lib/logging/logger.ts'
import { traceContextOf, traceLogFields } from '../../lib/logging/trace-context.ts'

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditTrail
  }
  interface FastifyRequest {
    /** The audit record of this request's `tools/call`; null until the MCP route opens it. */
    toolCallAudit: ToolCallAudit | null
  }
}

const reasonByErrorCode: Readonly<Record<string, DenialReason>> = {
  MCPGW_TOKEN_MISSING: 'missing_token',
  MCPGW_TOKEN_INVALID: 'invalid_token',
  MCPGW_TOKEN_NOT_IN_HEADER: 'token_in_query',
  MCPGW_AUTH_UNAVAILABLE: 'auth_unavailable'
}

function header (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

function roundMs (ms: number): number {
  return Math.round(ms * 1000) / 1000
}


export interface ToolCallInit {
  /** The name the call gives. */
  name: string
  /** The registered tool, or undefined when no tool has that name. */
  tool: RegisteredTool | undefined
  arguments: unknown
}

/** One `tools/call`, from the scope decision to its response. */
export class ToolCallAudit implements ToolCallRecorder {
  readonly #trail: AuditTrail
  readonly #request: FastifyRequest
  readonly #init: ToolCallInit
  /** performance.now() of the request's arrival. */
  readonly #arrival: number
  #denial: { reason: DenialReason, detail: string, missing: string[] | null } | undefined
  #ran = false
  #failure: ToolFailure | undefined
  #backend: BackendFailure | undefined
  #written = false
  #responded = false

  constructor (trail: AuditTrail, request: FastifyRequest, reply: FastifyReply, init: ToolCallInit) {
    this.#trail = trail
    this.#request = request
    this.#init = init
    this.#arrival = performance.now() - reply.elapsedTime
    if (init.tool === undefined) this.#denial = { reason: 'unknown_tool', detail: `There is no tool named ${init.name}`, missing: null }
    // 'close' follows 'finish', and comes alone when the client leaves first: one place to write the record.
    reply.raw.once('finish', () => { this.#responded = true })
    reply.raw.once('close', () => this.#write())
  }

  deny (reason: DenialReason, detail: string, missing: string[]): void {
    this.#denial = { reason, detail, missing }
  }

  ran (failure: ToolFailure | undefined, backend?: BackendFailure): void {
    this.#ran = true
    this.#failure = failure
    this.#backend = backend
  }

  #failureWhenNotRun (): ToolFailure {
    if (!this.#responded) return 'cancelled'
    const validation = this.#init.tool?.inputSchema['~standard'].validate(this.#init.arguments ?? {})
    return validation !== undefined && !(validation instanceof Promise) && validation.issues !== undefined ? 'invalid_arguments' : 'not_run'
  }

  #write (): void {
    if (this.#written) return
    this.#written = true
    const { tool, name } = this.#init
    const denial = this.#denial
    const failure = denial !== undefined ? undefined : this.#ran ? this.#failure : this.#failureWhenNotRun()
    this.#trail.write(this.#request, {
      event: 'tool_call',
      method: 'tools/call',
      tool: name,
      decision: denial === undefined ? 'allowed' : 'denied',
      reason: denial?.reason ?? null,
      detail: denial?.detail ?? null,
      requiredScopes: tool === undefined ? null : [...tool.requiredScopes],
      missingScopes: denial?.missing ?? null,
      outcome: denial !== undefined ? null : failure === undefined ? 'ok' : 'error',
      failure: failure ?? null,
      latencyMs: roundMs(performance.now() - this.#arrival),
      ...(this.#backend !== undefined && { backend: this.#backend })
    }, this.#init.arguments)
  }
}

/** What the emission point knows; the rest comes from the request. */
type EventFields = Omit<AuditEvent, 'time' | 'requestId' | 'traceId' | 'issuer' | 'sub' | 'clientId' | 'heldScopes' | 'argumentsDigest' | 'arguments'>

export class AuditTrail {
  readonly #log: FastifyBaseLogger
  readonly #config: Config

  constructor (log: FastifyBaseLogger, config: Config) {
    this.#log = log
    this.#config = config
  }

  /** Opens the record of a `tools/call`; it is written when the response closes. */
  openToolCall (request: FastifyRequest, reply: FastifyReply, init: ToolCallInit): ToolCallAudit {
    const record = new ToolCallAudit(this, request, reply, init)
    request.toolCallAudit = record
    return record
  }

  /** Records a request refused at authentication (the auth hook). */
  authenticationFailed (request: FastifyRequest, reply: FastifyReply | undefined, error: Error & { code?: string }): void {
    const reason = (error.code !== undefined ? reasonByErrorCode[error.code] : undefined) ?? 'invalid_token'
    // Only 2026-07-28 clients name the method and tool in headers; the body is not read yet.
    const method = header(request, 'mcp-method') ?? null
    const authorization = header(request, 'authorization')
    const claimed = reason === 'invalid_token' && authorization !== undefined ? claimedIdentity(authorization.slice(7).trim()) : undefined
    this.write(request, {
      event: 'authentication',
      method,
      tool: method === 'tools/call' ? header(request, 'mcp-name') ?? null : null,
      decision: 'denied',
      reason,
      detail: error.message,
      requiredScopes: null,
      missingScopes: null,
      outcome: null,
      failure: null,
      latencyMs: roundMs(reply?.elapsedTime ?? 0),
      ...(claimed !== undefined && { claimed })
    }, undefined)
  }

  write (request: FastifyRequest, fields: EventFields, args: unknown): void {
    if (!isLevelEnabled(this.#log, 'info')) return
    const { AUDIT_INCLUDE_ARGUMENTS, AUDIT_DIGEST_KEY, GOOGLE_CLOUD_PROJECT } = this.#config
    const { caller } = request
    const trace = traceContextOf(request.headers)
    const toolCall = fields.event === 'tool_call'
    const audit: AuditEvent = {
      event: fields.event,
      time: new Date().toISOString(),
      requestId: request.id,
      traceId: trace?.traceId ?? null,
      issuer: caller?.issuer ?? null,
      sub: caller?.sub ?? null,
      clientId: caller?.clientId ?? null,
      method: fields.method,
      tool: fields.tool,
      decision: fields.decision,
      reason: fields.reason,
      detail: fields.detail,
      requiredScopes: fields.requiredScopes,
      heldScopes: caller === null ? null : [...caller.scopes],
      missingScopes: fields.missingScopes,
      outcome: fields.outcome,
      failure: fields.failure,
      latencyMs: fields.latencyMs,
      argumentsDigest: toolCall ? argumentsDigest(args, AUDIT_DIGEST_KEY) : null,
      ...(AUDIT_INCLUDE_ARGUMENTS && toolCall && { arguments: args ?? {} }),
      ...(fields.claimed !== undefined && { claimed: fields.claimed }),
      ...(fields.backend !== undefined && { backend: fields.backend })
    }
    const entry = { ...(trace !== undefined && traceLogFields(trace, GOOGLE_CLOUD_PROJECT)), audit }
    const subject = audit.tool ?? audit.method ?? 'request'
    if (audit.decision === 'denied') this.#log.warn(entry, `audit: ${subject} denied (${audit.reason})`)
    else this.#log.info(entry, `audit: ${subject} allowed (${audit.outcome}${audit.failure === null ? '' : `: ${audit.failure}`}${audit.backend === undefined ? '' : `, backend ${audit.backend.name}: ${audit.backend.code}`})`)
  }
}

const audit: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  const log = fastify.log.child(
    { 'logging.googleapis.com/labels': { log: 'audit' } },
    { level: config.LOG_LEVEL === 'silent' ? 'silent' : 'info' }
  )
  fastify.decorate('audit', new AuditTrail(log, config))
  fastify.decorateRequest('toolCallAudit', null)
}

export default fp(audit, { name: 'audit', dependencies: ['config'] })
