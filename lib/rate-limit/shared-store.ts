/**
 * A @fastify/rate-limit store that keeps counters in Redis, shared by every instance:
 * one atomic round trip per count (INCR, and PEXPIRE when a window opens). While the
 * connection is down it does not try Redis at all; the plugin's `skipOnError` then lets the
 * request through (RATE_LIMIT_FAIL=open) or the error refuses it with 503 (closed).
 */
import type { RedisConnection } from '../redis-connection.ts'
import { RateLimitUnavailableError, type ErrorExtras } from '../errors.ts'

/** Fixed window: the first count of a window sets its expiry. A key that somehow lost its expiry gets one again instead of blocking forever. */
const INCREMENT = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { current, ttl }
`

const COMMAND = 'mcpgwRateLimitIncrement'
/** Clients are told to come back after this long while counters cannot be reached. */
const UNAVAILABLE_RETRY_AFTER_S = 5

type Counting = { [COMMAND]: (key: string, windowMs: number) => Promise<[number, number]> }

export interface CountResult {
  current: number
  ttl: number
}

type Callback = (error: Error | null, result?: CountResult) => void

function unavailable (cause: Error): Error & ErrorExtras {
  // Logged at debug: the outage itself is logged once by the connection.
  return Object.assign(new RateLimitUnavailableError({ cause }), { headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_S) }, logLevel: 'debug' as const })
}

export class SharedRateLimitStore {
  readonly #connection: RedisConnection
  readonly #prefix: string

  constructor (connection: RedisConnection, prefix: string) {
    this.#connection = connection
    this.#prefix = prefix
    if (!(COMMAND in connection.client)) connection.client.defineCommand(COMMAND, { numberOfKeys: 1, lua: INCREMENT })
  }

  /** The constructor @fastify/rate-limit's `store` option wants (it calls `new Store(options)`). */
  static on (connection: RedisConnection, prefix: string): new () => SharedRateLimitStore {
    return class extends SharedRateLimitStore {
      constructor () {
        super(connection, prefix)
      }
    }
  }

  incr (key: string, callback: Callback, timeWindow: number): void {
    if (!this.#connection.available) {
      callback(unavailable(new Error(`Redis at ${this.#connection.target} is ${this.#connection.state}`)))
      return
    }
    const client = this.#connection.client as unknown as Counting
    client[COMMAND](this.#prefix + key, timeWindow).then(([current, ttl]) => {
      this.#connection.succeeded()
      callback(null, { current, ttl })
    }, (error: Error) => {
      this.#connection.failed(error)
      callback(unavailable(error))
    })
  }

  /** Routes with their own `config.rateLimit` count apart; budgets made with createRateLimit name their keys themselves. */
  child (options: object): SharedRateLimitStore {
    const { method, url } = (options as { routeInfo?: { method?: unknown, url?: string } }).routeInfo ?? {}
    return new SharedRateLimitStore(this.#connection, url === undefined ? this.#prefix : `${this.#prefix}${String(method)} ${url}:`)
  }
}
