/**
 * Bearer token verification with @fastify/jwt (fast-jwt underneath): signature with a
 * key from the trusted issuer's JWKS, an asymmetric algorithm, `iss`, `aud`, `exp`,
 * `nbf`, `iat` and `sub`. Verified tokens are cached (LRU, never past `exp`), so a
 * repeated token skips the crypto.
 *
 * The plugin only provides `fastify.authenticate`; route plugins that need a caller
 * add it as their own `onRequest` hook.
 */
import fp from 'fastify-plugin'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Caller } from '../../lib/caller.ts'
import { listOf } from '../../lib/config.ts'
import { resourceIdentifiers } from '../../lib/resource.ts'
import {
  authUnavailableError,
  invalidTokenError,
  missingTokenError,
  resourceMetadataUrl,
  resourceIdentifier,
  tokenNotInHeaderError
} from '../../lib/auth/challenges.ts'
import { ACCEPTED_ALGORITHMS, KeysUnavailableError, UnknownKeyError } from '../../lib/auth/jwks-key-store.ts'
import { audiencesOf, callerFromClaims } from '../../lib/auth/token-claims.ts'
import { diagnoseFailure, diagnoseShape, TokenRejection } from '../../lib/auth/token-diagnosis.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: verifies the Bearer token and sets `request.caller`, or answers with a Bearer challenge (and audits the refusal). */
    authenticate: (request: FastifyRequest, reply?: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    /** The verified caller; null until `fastify.authenticate` ran. */
    caller: Caller | null
  }
}

/** Tokens larger than this are refused unread (real access tokens are a few KiB at most). */
const MAX_TOKEN_BYTES = 8 * 1024
const accepted = new Set<string>(ACCEPTED_ALGORITHMS)

interface DecodedToken { header: { alg?: unknown, kid?: unknown }, payload: { iss?: unknown } }

const auth: FastifyPluginAsync = async (fastify) => {
  const { config, issuers } = fastify
  const byIssuer = new Map(issuers.map((trusted) => [trusted.issuer, trusted]))
  const toleranceMs = config.CLOCK_TOLERANCE_S * 1000
  const scopes = fastify.tools.scopes
  const advertisedAudiences = [...resourceIdentifiers(config.PUBLIC_URL), ...listOf(config.OAUTH_AUDIENCE)]

  await fastify.register(fastifyJwt, {
    decode: { complete: true },
    secret: {
      // Picks the issuer from `iss` and the key from `kid`, refusing anything else before a key is fetched.
      public: async (_request: FastifyRequest, tokenOrHeader: TokenOrHeader) => {
        // With decode.complete the callback gets the whole decoded token.
        const token = tokenOrHeader as DecodedToken
        const { alg, kid } = token.header
        if (typeof alg !== 'string' || !accepted.has(alg)) {
          throw new TokenRejection(`the token is signed with ${JSON.stringify(alg)}; accepted algorithms are ${ACCEPTED_ALGORITHMS.join(', ')}`)
        }
        const trusted = typeof token.payload.iss === 'string' ? byIssuer.get(token.payload.iss) : undefined
        if (trusted === undefined) {
          throw new TokenRejection(`the token was issued by ${JSON.stringify(token.payload.iss)}; this server trusts ${[...byIssuer.keys()].join(', ')}`)
        }
        const key = await trusted.keys.key(typeof kid === 'string' ? kid : undefined)
        if (key.alg !== undefined && key.alg !== alg) throw new TokenRejection(`the token says ${alg} but its key is for ${key.alg}`)
        return key.pem
      }
    },
    verify: {
      algorithms: [...ACCEPTED_ALGORITHMS],
      allowedIss: [...byIssuer.keys()],
      allowedAud: [...new Set(issuers.flatMap((trusted) => trusted.audiences))],
      requiredClaims: ['iss', 'sub', 'aud', 'exp'],
      clockTolerance: toleranceMs,
      cache: config.TOKEN_CACHE_SIZE,
      // Failed verifications are cached too (cheap rejections of a replayed bad token), except
      // "not yet valid", which time cures.
      errorCacheTTL: (error: { code?: string }) => error.code === 'FAST_JWT_INACTIVE' ? 0 : 60_000
    },
    messages: { authorizationTokenInvalid: (error: Error) => error.message }
  })

  fastify.decorateRequest('caller', null)

  fastify.decorate('authenticate', async function authenticate (request: FastifyRequest, reply?: FastifyReply) {
    try {
      await verify(request)
    } catch (error) {
      fastify.audit.authenticationFailed(request, reply, error as Error)
      throw error
    }
  })

  async function verify (request: FastifyRequest): Promise<void> {
    const path = request.routeOptions.url ?? request.url
    const metadata = resourceMetadataUrl(config.PUBLIC_URL, path)
    const diagnosis = { audiences: advertisedAudiences, resource: resourceIdentifier(config.PUBLIC_URL, path) }

    const query = request.query as Record<string, unknown> | undefined
    if (query !== undefined && query !== null && 'access_token' in query) throw tokenNotInHeaderError(metadata, scopes)
    const authorization = request.headers.authorization
    if (authorization === undefined || !/^Bearer\s/i.test(authorization)) throw missingTokenError(metadata, scopes)
    const token = authorization.slice(7).trim()
    if (token === '') throw missingTokenError(metadata, scopes)
    if (token.length > MAX_TOKEN_BYTES) throw invalidTokenError(`the token is larger than ${MAX_TOKEN_BYTES} bytes`, metadata, scopes)

    let claims: Record<string, unknown>
    try {
      claims = await request.jwtVerify<Record<string, unknown>>()
    } catch (error) {
      if (error instanceof KeysUnavailableError) throw authUnavailableError(error.message)
      if (error instanceof TokenRejection || error instanceof UnknownKeyError) throw invalidTokenError(error.message, metadata, scopes)
      throw invalidTokenError(diagnoseShape(token, diagnosis) ?? diagnoseFailure(error as Error, token, diagnosis), metadata, scopes)
    }

    // What fast-jwt does not check: a usable `sub`, `iat` not in the future, and the audience of the token's own issuer.
    if (typeof claims.sub !== 'string' || claims.sub === '') throw invalidTokenError('the token has no usable sub claim', metadata, scopes)
    if (typeof claims.iat === 'number' && claims.iat * 1000 > Date.now() + toleranceMs) {
      throw invalidTokenError(`the token claims to be issued in the future (iat ${new Date(claims.iat * 1000).toISOString()})`, metadata, scopes)
    }
    const trusted = byIssuer.get(claims.iss as string)
    if (trusted !== undefined && issuers.length > 1 && !audiencesOf(claims).some((aud) => trusted.audiences.includes(aud))) {
      throw invalidTokenError(diagnoseFailure({ message: 'aud' }, token, diagnosis), metadata, scopes)
    }
    request.caller = callerFromClaims(claims)
  }
}

export default fp(auth, { name: 'auth', dependencies: ['config', 'oauth-issuers', 'tool-registry', 'audit'] })
