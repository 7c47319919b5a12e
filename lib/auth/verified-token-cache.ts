/**
 * Callers of recently verified tokens, keyed by the token: a repeated token costs a
 * Map lookup instead of decoding, key lookup, signature check and claim parsing.
 * Bounded (least recently used evicted first) and never serving a token outside its
 * validity window, nor for longer than its maximum age (ten minutes by default, so a
 * key the IdP withdraws stops working within that time).
 */
import type { Caller } from '../caller.ts'

const DEFAULT_MAX_AGE_MS = 10 * 60_000

interface Entry { caller: Caller, notBefore: number, notAfter: number }

export class VerifiedTokenCache {
  readonly #max: number
  readonly #toleranceMs: number
  readonly #maxAgeMs: number
  readonly #entries = new Map<string, Entry>()

  constructor (max: number, toleranceMs: number, maxAgeMs = DEFAULT_MAX_AGE_MS) {
    this.#max = max
    this.#toleranceMs = toleranceMs
    this.#maxAgeMs = maxAgeMs
  }

  get (token: string): Caller | undefined {
    const entry = this.#entries.get(token)
    if (entry === undefined) return undefined
    const now = Date.now()
    if (now > entry.notAfter) {
      this.#entries.delete(token)
      return undefined
    }
    if (now < entry.notBefore) return undefined
    // Least recently used goes first: a hit moves the entry to the back.
    this.#entries.delete(token)
    this.#entries.set(token, entry)
    return entry.caller
  }

  set (token: string, caller: Caller): void {
    if (this.#max === 0) return
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    const now = Date.now()
    const nbf = caller.claims.nbf
    this.#entries.set(token, {
      caller,
      notBefore: typeof nbf === 'number' ? nbf * 1000 - this.#toleranceMs : 0,
      notAfter: Math.min(caller.expiresAt * 1000 + this.#toleranceMs, now + this.#maxAgeMs)
    })
  }
}
