/**
 * How the service logs: pino configured for Google Cloud Logging (LOG_FORMAT=cloud-logging,
 * the production default) or pino's own JSON (LOG_FORMAT=pino, which `npm run dev`
 * pretty-prints), with the same fields either way:
 * - one `request completed` line per request, carrying Cloud Logging's `httpRequest`;
 * - every line of a request bound to its trace (lib/logging/trace-context.ts);
 * - secrets redacted from objects, messages, URLs and errors (lib/logging/secrets.ts).
 */
import type { IncomingMessage } from 'node:http'
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Config } from '../config.ts'
import { redactSecrets, scrubSecrets, scrubUrl, serializeError } from './secrets.ts'
import { traceContextOf, traceLogFields } from './trace-context.ts'

/** pino level → Cloud Logging LogSeverity. */
export const SEVERITY: Readonly<Record<string, string>> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL'
}

const LEVEL_VALUES: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/** Whether `log` writes lines of `level` (pino has this, Fastify's logger type does not). */
export function isLevelEnabled (log: FastifyBaseLogger, level: string): boolean {
  return (LEVEL_VALUES[level] ?? 0) >= (LEVEL_VALUES[log.level] ?? 0)
}

/** Where log lines go instead of stdout (tests capture them). */
export interface LogDestination {
  write (line: string): void
}

export type LoggerOptions = Exclude<NonNullable<FastifyServerOptions['logger']>, boolean>
type ChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>

/** Cloud Logging's HttpRequest (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest). */
export interface HttpRequestLog {
  requestMethod: string
  requestUrl: string
  status: number
  requestSize?: string
  responseSize?: string
  userAgent?: string
  remoteIp: string
  referer?: string
  /** A protobuf Duration: seconds with a trailing `s`. */
  latency: string
  protocol: string
}

function headerValue (value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

export function httpRequestOf (request: FastifyRequest, reply: FastifyReply): HttpRequestLog {
  const { headers } = request
  const log: HttpRequestLog = {
    requestMethod: request.method,
    requestUrl: scrubUrl(request.url),
    status: reply.statusCode,
    remoteIp: request.ip,
    latency: `${(reply.elapsedTime / 1000).toFixed(6)}s`,
    protocol: `HTTP/${request.raw.httpVersion}`
  }
  const requestSize = headerValue(headers['content-length'])
  if (requestSize !== undefined) log.requestSize = requestSize
  const responseSize = headerValue(reply.getHeader('content-length'))
  if (responseSize !== undefined) log.responseSize = responseSize
  if (headers['user-agent'] !== undefined) log.userAgent = headers['user-agent']
  if (headers.referer !== undefined) log.referer = scrubUrl(headers.referer)
  return log
}

/**
 * Fastify's request log lines, reshaped: the arrival of a request is a debug line
 * (Cloud Run logs every request itself), its completion one info line with `httpRequest`
 * (warn for 5xx), and URLs never appear unscrubbed.
 */
export class RequestLogController extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const failed = error !== null && error !== undefined
    const level = failed ? 'error' : reply.statusCode >= 500 ? 'warn' : 'info'
    // The hot path: build nothing for a line the level drops.
    if (!isLevelEnabled(reply.log, level)) return
    const httpRequest = httpRequestOf(request, reply)
    if (failed) reply.log.error({ httpRequest, err: error }, 'request errored')
    else reply.log[level]({ httpRequest }, 'request completed')
  }

  override routeNotFound (request: FastifyRequest): void {
    request.log.info({ req: request }, `Route ${request.method}:${scrubUrl(request.url)} not found`)
  }
}

/** Binds the request's trace to every line its logger writes. */
export function requestChildLoggerFactory (projectId: string | undefined): ChildLoggerFactory {
  return function childLogger (logger, bindings, options, rawRequest) {
    const trace = traceContextOf((rawRequest as IncomingMessage).headers)
    return logger.child(trace === undefined ? bindings : { ...bindings, ...traceLogFields(trace, projectId) }, options)
  }
}

function serializeRequest (request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, url: scrubUrl(request.url), remoteAddress: request.ip }
}

function serializeReply (reply: FastifyReply): Record<string, unknown> {
  return { statusCode: reply.statusCode }
}

/** The error a pino call logs, as `log.error(err)` or `log.error({ err })`. */
function loggedError (arg: unknown): Error | undefined {
  if (arg instanceof Error) return arg
  if (typeof arg === 'object' && arg !== null && (arg as { err?: unknown }).err instanceof Error) return (arg as { err: Error }).err
  return undefined
}

/** Scrubs the message (and format arguments) of every call; objects are handled by `formatters.log`. */
function scrubMessage (this: FastifyBaseLogger, args: unknown[], method: (...args: unknown[]) => void): void {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]
    if (typeof arg === 'string') args[index] = scrubSecrets(arg)
  }
  // Without a message pino uses the error's own, unscrubbed: supply it scrubbed.
  if (args.length === 1) {
    const error = loggedError(args[0])
    if (error !== undefined) args.push(scrubSecrets(error.message))
  }
  method.apply(this, args)
}

export function loggerOptions (config: Config, destination?: LogDestination): LoggerOptions {
  const options: LoggerOptions = {
    level: config.LOG_LEVEL,
    serializers: { req: serializeRequest, res: serializeReply, err: serializeError } as LoggerOptions['serializers'],
    formatters: { log: redactSecrets },
    hooks: { logMethod: scrubMessage as unknown as NonNullable<LoggerOptions['hooks']>['logMethod'] },
    ...(destination !== undefined && { stream: destination })
  }
  if (config.LOG_FORMAT === 'pino') return options
  return {
    ...options,
    messageKey: 'message',
    // Cloud Run records the instance; pid and hostname only add bytes.
    base: null,
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { ...options.formatters, level: (label: string) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }) }
  }
}
