/**
 * The audit trail: one event per tool call, allowed or denied, and one per request
 * refused at authentication. Events are log entries of their own (an `audit` object,
 * label `log=audit`) so a log sink can route them apart from operational logs.
 *
 * Arguments are never recorded as they are, only as a digest (SHA-256, or HMAC-SHA-256
 * with AUDIT_DIGEST_KEY, of their canonical JSON: equal arguments give equal digests
 * whatever their key order), unless AUDIT_INCLUDE_ARGUMENTS is set for debugging.
 */
import { createHmac, hash } from 'node:crypto'

export type AuditDecision = 'allowed' | 'denied'

/** Why a request was denied. */
export type DenialReason =
  | 'missing_token'
  | 'invalid_token'
  | 'token_in_query'
  | 'auth_unavailable'
  | 'insufficient_scope'
  | 'unknown_tool'

/** Why an allowed call ended in an error result. */
export type ToolFailure =
  /** The tool threw a ToolError: a message for the user. */
  | 'tool_error'
  /** The tool threw anything else (logged). */
  | 'tool_failed'
  /** The arguments did not match the tool's input schema. */
  | 'invalid_arguments'
  /** The tool's output did not match its output schema (logged). */
  | 'invalid_output'
  /** The call was cancelled or the client went away before the result. */
  | 'cancelled'
  /** The tool did not finish within TOOL_TIMEOUT_S. */
  | 'timed_out'
  /** The protocol layer refused the request before the tool ran. */
  | 'not_run'

export interface AuditEvent {
  event: 'tool_call' | 'authentication'
  /** When the decision or outcome was recorded (ISO 8601). */
  time: string
  requestId: string
  /** The trace the request belongs to (`traceparent` / `X-Cloud-Trace-Context`). */
  traceId: string | null
  /** Verified identity; null when authentication failed (see `claimed`). */
  issuer: string | null
  sub: string | null
  clientId: string | null
  /** The JSON-RPC method, when known at the time of the decision. */
  method: string | null
  tool: string | null
  decision: AuditDecision
  reason: DenialReason | null
  /** What the client was told about a denial. */
  detail: string | null
  requiredScopes: string[] | null
  heldScopes: string[] | null
  missingScopes: string[] | null
  /** How an allowed call ended: `ok`, or `error` (an `isError` result, see `failure`); null when the tool did not run. */
  outcome: 'ok' | 'error' | null
  failure: ToolFailure | null
  /** Milliseconds from the request's arrival to its response (or to the refusal). */
  latencyMs: number
  argumentsDigest: string | null
  /** Only with AUDIT_INCLUDE_ARGUMENTS=true. */
  arguments?: unknown
  /** For a token that failed verification: what it claims, unverified. */
  claimed?: { issuer: string | null, sub: string | null, clientId: string | null }
  /** For a call that failed reaching a backend (BACKENDS): which one, why, and its HTTP status when it answered. */
  backend?: BackendFailure
}

export interface BackendFailure {
  name: string
  /** An MCPGW_BACKEND_* code. */
  code: string
  status: number | null
}

/** How tool execution reports to the audit record of its call (lib/mcp/server-factory.ts). */
export interface ToolCallRecorder {
  /** The tool ran: ok (no failure) or an error result of that kind, with the backend that failed when one did. */
  ran (failure: ToolFailure | undefined, backend?: BackendFailure): void
}

/** JSON with object keys sorted at every level: one text per value, whatever the key order. */
export function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`
  const record = value as Record<string, unknown>
  const members = Object.keys(record).sort()
    .filter((key) => record[key] !== undefined && typeof record[key] !== 'function')
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
  return `{${members.join(',')}}`
}

/** `sha256:<hex>` (or `hmac-sha256:<hex>` with a key) of the arguments' canonical JSON; absent arguments digest as `{}`. */
export function argumentsDigest (args: unknown, key?: string): string {
  const text = canonicalJson(args ?? {})
  if (key === undefined) return `sha256:${hash('sha256', text, 'hex')}`
  return `hmac-sha256:${createHmac('sha256', key).update(text).digest('hex')}`
}

/** What an unverified token claims to be, for the audit of its rejection. Never throws. */
export function claimedIdentity (token: string): AuditEvent['claimed'] | undefined {
  const [, payload] = token.split('.')
  if (payload === undefined || payload.length > 8192) return undefined
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
    if (typeof claims !== 'object' || claims === null) return undefined
    const text = (value: unknown) => typeof value === 'string' ? value.slice(0, 256) : null
    return { issuer: text(claims.iss), sub: text(claims.sub), clientId: text(claims.azp) ?? text(claims.client_id) }
  } catch {
    return undefined
  }
}
