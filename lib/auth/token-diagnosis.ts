/**
 * Turns a verification failure into one sentence that tells a person what is wrong
 * with the token and, where it is a configuration problem, how to fix it. The token
 * itself is never quoted; claim values (audience, issuer, times) are.
 */
import { StacklessError } from '../errors.ts'
import { audiencesOf } from './token-claims.ts'

/** A rejection decided by this server before or after the library checks (alg, issuer, iat, …). */
export class TokenRejection extends StacklessError {
  constructor (message: string) {
    super(message)
    this.name = 'TokenRejection'
  }
}

function decodeSegment (segment: string | undefined): Record<string, unknown> | undefined {
  if (segment === undefined) return undefined
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** The payload of a token, unverified: for explaining a rejection, never for deciding one. */
export function unverifiedClaims (token: string): Record<string, unknown> {
  return decodeSegment(token.split('.')[1]) ?? {}
}

/** The header and payload of a JWS, undecoded claims as they are; undefined when the token is not one. Nothing is verified. */
export function decodeJwt (token: string): { header: Record<string, unknown>, payload: Record<string, unknown> } | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  const header = decodeSegment(parts[0])
  const payload = decodeSegment(parts[1])
  return header === undefined || payload === undefined ? undefined : { header, payload }
}

function when (seconds: unknown): string {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : 'an unreadable time'
}

export interface DiagnosisContext {
  /** Audiences this server accepts, for the wrong-audience message. */
  readonly audiences: readonly string[]
  /** The resource identifier clients should request, for configuration advice. */
  readonly resource: string
}

/** Why the token is not even a JWS: encrypted, wrong shape, unreadable. Undefined when it looks like one. */
export function diagnoseShape (token: string, { resource }: DiagnosisContext): string | undefined {
  const parts = token.split('.')
  if (parts.length === 5) {
    return 'the token is encrypted (a JWE), so it cannot be verified here. Identity providers issue encrypted or opaque tokens when ' +
      `no API audience is requested: request the resource ${resource} (for Auth0, create an API with that identifier and make it the tenant's default audience)`
  }
  if (parts.length !== 3) return `the token is not a JWT (expected 3 dot-separated parts, got ${parts.length})`
  if (decodeSegment(parts[0]) === undefined) return 'the token header is not base64url-encoded JSON'
  if (decodeSegment(parts[1]) === undefined) return 'the token payload is not base64url-encoded JSON'
  return undefined
}

/**
 * A sentence for a @fastify/jwt / fast-jwt error. @fastify/jwt re-wraps most fast-jwt
 * errors under one code and keeps only the message, so the message is what is read.
 * The token is decoded, and `context` worked out, only for the sentences that quote
 * them: a flood of forged signatures costs no extra decoding.
 */
export function diagnoseFailure (error: { code?: string, message: string }, token: string, context: () => DiagnosisContext): string {
  const { code = '', message } = error
  if (code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED' || code === 'FAST_JWT_EXPIRED') return `the token expired at ${when(unverifiedClaims(token).exp)}`
  if (code === 'FAST_JWT_INACTIVE') return `the token is not valid before ${when(unverifiedClaims(token).nbf)}`
  if (/signature is invalid/.test(message)) return 'the signature does not match the issuer\'s key (the token was altered or signed by another key)'
  const missingClaim = /The (\w+) claim is required/.exec(message)
  if (missingClaim !== null) return `the token has no ${missingClaim[1]} claim`
  if (/signature is missing/.test(message)) return 'the token is not signed'
  if (/\baud\b/.test(message)) {
    const audiences = audiencesOf(unverifiedClaims(token))
    const { audiences: accepted, resource } = context()
    return `the token's audience is ${audiences.length > 0 ? audiences.join(', ') : '(none)'} but this server accepts ${accepted.join(', ')}: ` +
      `the client must request the resource ${resource}, or add the IdP's audience to OAUTH_AUDIENCE`
  }
  if (/algorithm|public key/i.test(message)) return 'the token\'s algorithm does not match the issuer\'s key'
  const shape = diagnoseShape(token, context())
  if (shape !== undefined) return shape
  if (/malformed/.test(message) || code === 'FST_JWT_BAD_REQUEST' || code === 'FAST_JWT_MALFORMED') return 'the token is malformed'
  if (/\bclaim\b/.test(message)) return message.replace(/^The /, 'the ').replace(/\.$/, '')
  return 'the token could not be verified'
}
