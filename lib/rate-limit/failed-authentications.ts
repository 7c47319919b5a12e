/**
 * The per-address budget of rejected access tokens (RATE_LIMIT_AUTH_FAILURE_MAX), which
 * makes token guessing slow: once an address has spent it, its requests that carry a token
 * are refused with 429 before the token is verified, until the window ends.
 *
 * Only failures are counted, so a valid token costs no round trip to the store. An instance
 * remembers the addresses it has seen exhaust the budget; another instance learns it from
 * its own next failure, so across N instances at most N tokens beyond the budget are
 * verified per window and address.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { addressKey, Budget, budgetSpent, type BudgetDescription } from './budget.ts'

/** Blocked addresses remembered per instance; the oldest is forgotten first (it is still counted in the store). */
const MAX_REMEMBERED = 10_000

export class FailedAuthentications {
  readonly #budget: Budget
  readonly #description: BudgetDescription
  /** Address → when its window ends (ms since the epoch). */
  readonly #blockedUntil = new Map<string, number>()

  constructor (fastify: FastifyInstance, max: number, windowMs: number) {
    this.#description = { max, windowMs, scope: 'from one address', unit: 'rejected access tokens' }
    this.#budget = Budget.create(fastify, { ...this.#description, key: (request) => `auth-failure:${addressKey(request)}` })
  }

  /** Throws a 429 when this address has spent its budget (checked before the token is verified). */
  refuseIfBlocked (request: FastifyRequest): void {
    const address = addressKey(request)
    const until = this.#blockedUntil.get(address)
    if (until === undefined) return
    const left = until - Date.now()
    if (left <= 0) {
      this.#blockedUntil.delete(address)
      return
    }
    throw budgetSpent(this.#description, Math.ceil(left / 1000))
  }

  /** Counts a rejected token; throws a 429 instead of the rejection once the budget is spent. */
  async record (request: FastifyRequest): Promise<void> {
    const count = await this.#budget.count(request)
    if (count === undefined || !count.exceeded) return
    const address = addressKey(request)
    this.#blockedUntil.delete(address)
    if (this.#blockedUntil.size >= MAX_REMEMBERED) this.#blockedUntil.delete(this.#blockedUntil.keys().next().value as string)
    this.#blockedUntil.set(address, Date.now() + count.resetSeconds * 1000)
    throw this.#budget.refusal(count)
  }
}
