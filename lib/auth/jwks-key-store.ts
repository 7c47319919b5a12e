/**
 * The signing keys of one issuer, from its JWKS.
 *
 * - Lookups are a Map read: every request with a known `kid` costs nothing here.
 * - An unknown `kid` may trigger a refetch (key rotation is picked up without a
 *   restart), but at most one per REFETCH_INTERVAL_MS, and a `kid` still unknown
 *   after a fetch is remembered as unknown for a while: garbage tokens cannot turn
 *   into a flood of requests to the IdP.
 * - The whole document is loaded at once, so an IdP publishing several keys needs one fetch.
 * - When the IdP cannot be reached the keys already held keep working; a periodic
 *   refresh drops keys the IdP has withdrawn.
 *
 * (get-jwks, the usual companion of @fastify/jwt, fetches once per unknown kid with no
 * throttle and no timeout and keeps one key per fetch, which is what this avoids.)
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { StacklessError } from '../errors.ts'
import { fetchJson, type JsonFetcher } from './fetch-json.ts'

export const REFETCH_INTERVAL_MS = 30_000
const REFRESH_INTERVAL_MS = 10 * 60_000
const UNKNOWN_KID_TTL_MS = 60_000
const MAX_UNKNOWN_KIDS = 10_000

/** Asymmetric JWS algorithms only: `none` and HS* can never verify here, whatever a token's header says. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const

export interface SigningKey {
  readonly kid: string | undefined
  readonly alg: string | undefined
  /** SPKI PEM: the form @fastify/jwt caches a verifier by. */
  readonly pem: string
  readonly keyObject: KeyObject
}

export class UnknownKeyError extends StacklessError {
  constructor (kid: string | undefined, issuer: string) {
    super(kid === undefined
      ? `the token has no kid and the JWKS of ${issuer} holds more than one usable key`
      : `the signing key ${JSON.stringify(kid)} is not in the JWKS of ${issuer}`)
    this.name = 'UnknownKeyError'
  }
}

export class KeysUnavailableError extends Error {
  constructor (issuer: string, options?: ErrorOptions) {
    super(`the signing keys of ${issuer} could not be fetched`, options)
    this.name = 'KeysUnavailableError'
  }
}

function toSigningKey (jwk: JsonWebKey & { kid?: string, alg?: string, use?: string }): SigningKey | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return undefined
  try {
    const keyObject = createPublicKey({ key: jwk, format: 'jwk' })
    return { kid: jwk.kid, alg: jwk.alg, keyObject, pem: keyObject.export({ type: 'spki', format: 'pem' }) as string }
  } catch {
    return undefined
  }
}

export interface JwksState {
  ready: boolean
  jwksUri: string | undefined
  keys: number
  fetchedAt: string | undefined
  error: string | undefined
}

export class JwksKeyStore {
  readonly #issuer: string
  readonly #jwksUri: () => Promise<string>
  readonly #read: JsonFetcher
  #resolvedUri: string | undefined
  #keys: SigningKey[] = []
  #byKid = new Map<string, SigningKey>()
  readonly #unknownKids = new Map<string, number>()
  #fetchedAt = 0
  #lastAttemptAt = 0
  #lastError: string | undefined
  #inflight: Promise<void> | undefined

  /** `jwksUri` resolves the URL lazily (it usually comes from the issuer's metadata). */
  constructor (issuer: string, jwksUri: () => Promise<string>, fetcher: JsonFetcher = fetchJson) {
    this.#issuer = issuer
    this.#jwksUri = jwksUri
    this.#read = fetcher
  }

  /** The key for a token header; throws UnknownKeyError or KeysUnavailableError. */
  async key (kid: string | undefined): Promise<SigningKey> {
    const known = this.#find(kid)
    if (known !== undefined) {
      if (Date.now() - this.#fetchedAt > REFRESH_INTERVAL_MS) void this.#refresh().catch(() => {})
      return known
    }
    if (kid !== undefined && (this.#unknownKids.get(kid) ?? 0) > Date.now()) throw new UnknownKeyError(kid, this.#issuer)
    if (this.#fetchedAt === 0 || Date.now() - this.#lastAttemptAt >= REFETCH_INTERVAL_MS) {
      try {
        await this.#refresh()
      } catch (error) {
        if (this.#keys.length === 0) throw new KeysUnavailableError(this.#issuer, { cause: error })
      }
      const found = this.#find(kid)
      if (found !== undefined) return found
    }
    if (kid !== undefined) this.#rememberUnknown(kid)
    throw new UnknownKeyError(kid, this.#issuer)
  }

  /** Loads the keys now (start-up warm-up and tests); concurrent calls share one fetch. */
  refresh (): Promise<void> {
    return this.#refresh()
  }

  state (): JwksState {
    return {
      ready: this.#keys.length > 0,
      jwksUri: this.#resolvedUri,
      keys: this.#keys.length,
      fetchedAt: this.#fetchedAt === 0 ? undefined : new Date(this.#fetchedAt).toISOString(),
      error: this.#lastError
    }
  }

  #find (kid: string | undefined): SigningKey | undefined {
    if (kid !== undefined) return this.#byKid.get(kid)
    // No kid: only unambiguous when the issuer publishes a single key.
    return this.#keys.length === 1 ? this.#keys[0] : undefined
  }

  #rememberUnknown (kid: string): void {
    if (this.#unknownKids.size >= MAX_UNKNOWN_KIDS) {
      const oldest = this.#unknownKids.keys().next().value
      if (oldest !== undefined) this.#unknownKids.delete(oldest)
    }
    this.#unknownKids.set(kid, Date.now() + UNKNOWN_KID_TTL_MS)
  }

  #refresh (): Promise<void> {
    this.#inflight ??= this.#fetch().finally(() => { this.#inflight = undefined })
    return this.#inflight
  }

  async #fetch (): Promise<void> {
    this.#lastAttemptAt = Date.now()
    try {
      this.#resolvedUri ??= await this.#jwksUri()
      const document = await this.#read(this.#resolvedUri) as { keys?: unknown }
      if (!Array.isArray(document.keys)) throw new Error(`${this.#resolvedUri} is not a JWKS (no "keys" array)`)
      const keys = document.keys.map((jwk) => toSigningKey(jwk as JsonWebKey)).filter((key) => key !== undefined)
      if (keys.length === 0) throw new Error(`${this.#resolvedUri} holds no usable signing key (RSA, EC or OKP)`)
      this.#keys = keys
      this.#byKid = new Map(keys.filter((key) => key.kid !== undefined).map((key) => [key.kid as string, key]))
      for (const key of keys) if (key.kid !== undefined) this.#unknownKids.delete(key.kid)
      this.#fetchedAt = Date.now()
      this.#lastError = undefined
    } catch (error) {
      this.#lastError = (error as Error).message
      throw error
    }
  }
}
