/**
 * The trace a request belongs to, from W3C `traceparent` or Google's
 * `X-Cloud-Trace-Context` (Cloud Run's front end sends both), and the Cloud Logging
 * fields that attach a log line to it.
 */
import type { IncomingHttpHeaders } from 'node:http'

export interface TraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string
  /** 16 lower-case hex digits, when the header names a span. */
  readonly spanId: string | undefined
  readonly sampled: boolean
}

// version-traceid-parentid-flags (https://www.w3.org/TR/trace-context/#traceparent-header)
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/
// TRACE_ID/SPAN_ID;o=OPTIONS, SPAN_ID in decimal (https://cloud.google.com/trace/docs/trace-context)
const CLOUD_TRACE = /^([0-9a-fA-F]{32})(?:\/(\d{1,20}))?(?:;o=([01]))?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

function header (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return typeof value === 'string' ? value.trim() : undefined
}

function fromTraceparent (value: string): TraceContext | undefined {
  const match = TRACEPARENT.exec(value.toLowerCase())
  if (match === null) return undefined
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string]
  // Version ff is invalid; a version 00 header carries nothing after the flags.
  if (version === 'ff' || (version === '00' && value.length !== 55)) return undefined
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }
}

function fromCloudTraceContext (value: string): TraceContext | undefined {
  const match = CLOUD_TRACE.exec(value)
  if (match === null) return undefined
  const traceId = match[1]!.toLowerCase()
  if (traceId === ZERO_TRACE) return undefined
  let spanId: string | undefined
  if (match[2] !== undefined) {
    const span = BigInt(match[2])
    if (span > 0n && span < 2n ** 64n) spanId = span.toString(16).padStart(16, '0')
  }
  return { traceId, spanId, sampled: match[3] === '1' }
}

/** The request's trace, preferring `traceparent`; undefined when neither header is usable. */
export function traceContextOf (headers: IncomingHttpHeaders): TraceContext | undefined {
  const traceparent = header(headers, 'traceparent')
  const fromW3c = traceparent === undefined ? undefined : fromTraceparent(traceparent)
  if (fromW3c !== undefined) return fromW3c
  const cloud = header(headers, 'x-cloud-trace-context')
  return cloud === undefined ? undefined : fromCloudTraceContext(cloud)
}

/**
 * Log fields for a trace: Cloud Logging's special fields when the project is known
 * (`logging.googleapis.com/trace` must name it), plain `traceId`/`spanId` otherwise.
 */
export function traceLogFields (trace: TraceContext, projectId: string | undefined): Record<string, string | boolean> {
  if (projectId === undefined) return trace.spanId === undefined ? { traceId: trace.traceId } : { traceId: trace.traceId, spanId: trace.spanId }
  const fields: Record<string, string | boolean> = {
    'logging.googleapis.com/trace': `projects/${projectId}/traces/${trace.traceId}`,
    'logging.googleapis.com/trace_sampled': trace.sampled
  }
  if (trace.spanId !== undefined) fields['logging.googleapis.com/spanId'] = trace.spanId
  return fields
}
