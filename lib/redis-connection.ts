/**
 * The shared Redis connection (REDIS_URL) and whether it may be used right now.
 *
 * Redis makes rate limits hold across instances, but no request may wait on it: commands
 * never queue while disconnected and time out quickly, and once a command fails the
 * connection counts as down, so callers skip Redis without trying (fail fast) until it
 * answers again. An outage is logged once when it starts and once when it ends, never per
 * request. ioredis reconnects by itself; a Redis that stops answering without dropping the
 * connection is noticed by command timeouts and watched with a ping every second while down.
 */
import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'

export type RedisState = 'connecting' | 'up' | 'down'

export interface RedisConnectionOptions {
  url: string
  /** Prefix of every key this connection touches (ioredis applies it, Lua script keys included). */
  keyPrefix: string
  log: FastifyBaseLogger
  /** Completes the outage log line: what the service does while Redis is down. */
  whileDown: string
}

/** A rate-limit check is one round trip of well under a millisecond in the same region; 500 ms means trouble. */
const COMMAND_TIMEOUT_MS = 500
const CONNECT_TIMEOUT_MS = 2000
const PROBE_INTERVAL_MS = 1000
/** How long start-up waits for the first connection before serving without it. */
const START_WAIT_MS = 3000

export class RedisConnection {
  readonly client: Redis
  /** host:port (never the credentials of the URL), for logs and /readyz. */
  readonly target: string
  readonly #log: FastifyBaseLogger
  readonly #whileDown: string
  #state: RedisState = 'connecting'
  #since = Date.now()
  #lastError: string | undefined
  #probe: NodeJS.Timeout | undefined
  #probing = false
  #closing = false

  constructor ({ url, keyPrefix, log, whileDown }: RedisConnectionOptions) {
    const parsed = new URL(url)
    this.target = `${parsed.hostname}:${parsed.port === '' ? '6379' : parsed.port}`
    this.#log = log
    this.#whileDown = whileDown
    this.client = new Redis(url, {
      keyPrefix,
      connectionName: 'mcp-gateway',
      // Fail fast instead of holding requests while disconnected.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Reconnect forever, at most two seconds apart.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000)
    })
    this.client.on('ready', () => this.succeeded())
    this.client.on('error', (error: Error) => {
      // Every reconnection attempt reports here; the outage itself is logged once, in failed().
      this.#log.debug({ err: error, redis: this.target }, 'Redis connection error')
      this.failed(error)
    })
    this.client.on('close', () => this.failed(new Error('the connection to Redis closed')))
  }

  get state (): RedisState {
    return this.#state
  }

  /** Whether commands should be tried at all (false while connecting and during an outage). */
  get available (): boolean {
    return this.#state === 'up'
  }

  /** A command (or the connection) failed: starts an outage unless one is already going on. */
  failed (error: Error): void {
    if (this.#closing) return
    this.#lastError = error.message
    if (this.#state === 'down') return
    this.#state = 'down'
    this.#since = Date.now()
    this.#log.error({ err: error, redis: this.target }, `Redis is unreachable: ${this.#whileDown}`)
    this.#probe ??= setInterval(() => this.#ping(), PROBE_INTERVAL_MS).unref()
  }

  /** A command succeeded (or the connection became ready): ends an outage. */
  succeeded (): void {
    if (this.#state === 'up' || this.#closing) return
    const outage = this.#state === 'down' ? Date.now() - this.#since : undefined
    this.#state = 'up'
    this.#since = Date.now()
    this.#lastError = undefined
    clearInterval(this.#probe)
    this.#probe = undefined
    if (outage !== undefined) this.#log.info({ redis: this.target, outageMs: outage }, 'Redis is reachable again')
    else this.#log.info({ redis: this.target }, 'connected to Redis')
  }

  /** Resolves once the first connection attempt succeeded or failed (bounded): start-up does not wait longer. */
  async started (): Promise<void> {
    if (this.#state !== 'connecting') return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.client.off('ready', done)
        this.client.off('error', done)
        resolve()
      }
      const timer = setTimeout(done, START_WAIT_MS).unref()
      this.client.once('ready', done)
      this.client.once('error', done)
    })
    if (this.#state === 'connecting') this.failed(new Error(`no connection after ${START_WAIT_MS} ms`))
  }

  /** Checks Redis now (for /readyz): a ping when connected, which also ends or starts an outage. */
  async check (): Promise<{ ready: boolean, state: RedisState, redis: string, since: string, error?: string }> {
    if (this.client.status === 'ready') await this.#ping()
    return {
      ready: this.#state === 'up',
      state: this.#state,
      redis: this.target,
      since: new Date(this.#since).toISOString(),
      ...(this.#lastError !== undefined && { error: this.#lastError })
    }
  }

  async close (): Promise<void> {
    this.#closing = true
    clearInterval(this.#probe)
    try {
      if (this.client.status === 'ready') await this.client.quit()
      else this.client.disconnect()
    } catch {
      this.client.disconnect()
    }
  }

  async #ping (): Promise<void> {
    // While disconnected ioredis is already reconnecting, and 'ready' ends the outage.
    if (this.#probing || this.client.status !== 'ready') return
    this.#probing = true
    try {
      await this.client.ping()
      this.succeeded()
    } catch (error) {
      this.failed(error as Error)
    } finally {
      this.#probing = false
    }
  }
}
