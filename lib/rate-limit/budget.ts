/**
 * A rate-limit budget counted through @fastify/rate-limit's `createRateLimit` (so it uses
 * the store the plugin was registered with: Redis or memory), for limits a route config
 * cannot express: several budgets on one request (the caller's, then a tool's), keys known
 * only after authentication, and one counter shared by the routes /mcp and /.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'
import type { Caller } from '../caller.ts'
import { rateLimitedError } from '../errors.ts'

type Limiter = ReturnType<FastifyInstance['createRateLimit']>

export interface BudgetDescription {
  /** Requests allowed per window. */
  max: number
  windowMs: number
  /** Who or what the budget is for, completing "at most 600 requests per minute …". */
  scope: string
  /** What is counted (default "requests"). */
  unit?: string
}

export interface BudgetOptions extends BudgetDescription {
  /** The counter a request is charged to, e.g. `caller:<hash>`; budgets share a store, so keys carry their kind. */
  key: (request: FastifyRequest) => string
}

export interface Count {
  exceeded: boolean
  limit: number
  remaining: number
  /** Seconds until the window ends. */
  resetSeconds: number
}

/** Without Redis, each budget keeps its counters in an LRU of this many keys (the least recently counted go first). */
const MEMORY_KEYS_PER_BUDGET = 10_000

/** The scope of the global per-address budget, shared by the plugin's own 429 and `fastify.authenticate`. */
export const PER_ADDRESS_SCOPE = 'from one address without an access token'

export function describeWindow (windowMs: number): string {
  if (windowMs === 1000) return 'second'
  if (windowMs === 60_000) return 'minute'
  if (windowMs === 3_600_000) return 'hour'
  return windowMs % 1000 === 0 ? `${windowMs / 1000} seconds` : `${windowMs} ms`
}

const callerKeys = new WeakMap<Caller, string>()

/**
 * The counter key of a verified caller: issuer and subject, hashed so user ids are not
 * written to Redis. Worked out once per Caller (a cached token's caller is reused).
 */
export function callerKey (caller: Caller): string {
  let key = callerKeys.get(caller)
  if (key === undefined) {
    key = createHash('sha256').update(JSON.stringify([caller.issuer, caller.sub])).digest('base64url').slice(0, 22)
    callerKeys.set(caller, key)
  }
  return key
}

/** The counter key of the client address (IPv6 per /64, as @fastify/rate-limit does). */
export function addressKey (request: FastifyRequest): string {
  return normalizeIP(request.ip)
}

/** The 429 for a spent budget, with RateLimit-* headers and Retry-After. */
export function budgetSpent ({ max, windowMs, scope, unit = 'requests' }: BudgetDescription, resetSeconds: number): Error {
  return rateLimitedError(
    `Rate limit exceeded: at most ${max} ${unit} per ${describeWindow(windowMs)} ${scope}; retry in ${resetSeconds} s`,
    resetSeconds,
    rateLimitHeaders({ exceeded: true, limit: max, remaining: 0, resetSeconds })
  )
}

export class Budget {
  readonly #limiter: Limiter
  readonly #description: BudgetDescription

  /** `limiter` from `fastify.createRateLimit`; without options it counts in the plugin's global (per-address) counters. */
  constructor (limiter: Limiter, description: BudgetDescription) {
    this.#limiter = limiter
    this.#description = description
  }

  /** A budget with counters of its own. */
  static create (fastify: FastifyInstance, { key, ...description }: BudgetOptions): Budget {
    const options = { max: description.max, timeWindow: description.windowMs, keyGenerator: key, cache: MEMORY_KEYS_PER_BUDGET }
    return new Budget(fastify.createRateLimit(options as Parameters<FastifyInstance['createRateLimit']>[0]), description)
  }

  /**
   * Counts the request. Undefined when nothing could be counted: the store is unreachable
   * and RATE_LIMIT_FAIL=open (with `closed` the store's 503 is thrown instead).
   */
  async count (request: FastifyRequest): Promise<Count | undefined> {
    const outcome = await this.#limiter(request)
    // An unreachable store under skipOnError reports a zero ttl, which a real count never has.
    if (outcome.isAllowed || outcome.ttl === 0) return undefined
    return { exceeded: outcome.isExceeded, limit: outcome.max, remaining: outcome.remaining, resetSeconds: Math.max(1, outcome.ttlInSeconds) }
  }

  /** Counts the request and reports the budget in the RateLimit-* headers, or throws a 429 once it is spent. */
  async spend (request: FastifyRequest, reply?: FastifyReply): Promise<void> {
    const count = await this.count(request)
    if (count === undefined) return
    if (count.exceeded) throw this.refusal(count)
    if (reply === undefined) return
    // Several budgets can apply to one request: the headers describe the one closest to running out.
    const shown = reply.getHeader('ratelimit-remaining')
    if (shown !== undefined && Number(shown) <= count.remaining) return
    reply.headers(rateLimitHeaders(count))
  }

  refusal (count: Count): Error {
    return budgetSpent(this.#description, count.resetSeconds)
  }
}

/** The RateLimit-* fields of draft-ietf-httpapi-ratelimit-headers, as @fastify/rate-limit's enableDraftSpec sends them. */
function rateLimitHeaders ({ limit, remaining, resetSeconds }: Count): Record<string, string> {
  return { 'ratelimit-limit': String(limit), 'ratelimit-remaining': String(remaining), 'ratelimit-reset': String(resetSeconds) }
}
