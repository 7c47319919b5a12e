/**
 * Bearer token verification with @fastify/jwt (fast-jwt underneath): signature with a
 * key from the trusted issuer's JWKS, an asymmetric algorithm, `iss`, `aud`, `exp`,
 * `nbf`, `iat` and `sub`. Verified tokens are cached (bounded, never past `exp`), so a
 * repeated token skips the crypto.
 *
 * The plugin only provides `fastify.authenticate`; route plugins that need a caller
 * add it as their own `onRequest` hook.
 */
import fp from 'fastify-plugin'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Caller } from '../../lib/caller.ts'
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
import type { TrustedIssuer } from '../../lib/auth/trusted-issuer.ts'
import { diagnoseFailure, TokenRejection, unverifiedClaims } from '../../lib/auth/token-diagnosis.ts'
import { VerifiedTokenCache } from '../../lib/auth/verified-token-cache.ts'
import { Budget, PER_ADDRESS_SCOPE } from '../../lib/rate-limit/budget.ts'
import { FailedAuthentications } from '../../lib/rate-limit/failed-authentications.ts'
import { introspect, IntrospectionUnavailableError, looksLikeJwt, type IntrospectionEndpoint } from '../../lib/auth/introspection.ts'
import { keepInboundToken } from '../../lib/auth/inbound-token.ts'

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
  const primaryIssuer = issuers[0]
  if (primaryIssuer === undefined) throw new Error('the auth plugin needs at least one trusted issuer')
  const primary: TrustedIssuer = primaryIssuer
  const toleranceMs = config.CLOCK_TOLERANCE_S * 1000
  const scopes = fastify.tools.scopes

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
      // Verified tokens are cached below, as callers (which skips even the decoding).
      cache: false
    },
    messages: { authorizationTokenInvalid: (error: Error) => error.message }
  })

  fastify.decorateRequest('caller', null)
  const verified = new VerifiedTokenCache(config.TOKEN_CACHE_SIZE, toleranceMs)
  // Introspected tokens are re-checked sooner: revocation at the IdP should show within a minute.
  const introspected = new VerifiedTokenCache(config.TOKEN_CACHE_SIZE, toleranceMs, 60_000)
  const introspecting = issuers.filter((trusted) => trusted.introspection !== undefined)

  /** The audiences to name in an error: what the issuer's tokens may carry, without the trailing-slash twins. */
  const namedAudiences = (audiences: readonly string[]) => audiences.filter((aud) => !(aud.endsWith('/') && audiences.includes(aud.slice(0, -1))))

  function bearerToken (request: FastifyRequest, metadata: string): string {
    const query = request.query as Record<string, unknown> | undefined
    if (query !== undefined && query !== null && 'access_token' in query) throw tokenNotInHeaderError(metadata, scopes)
    const authorization = request.headers.authorization
    if (authorization === undefined || !/^Bearer\s/i.test(authorization)) throw missingTokenError(metadata, scopes)
    const token = authorization.slice(7).trim()
    if (token === '') throw missingTokenError(metadata, scopes)
    if (token.length > MAX_TOKEN_BYTES) throw invalidTokenError(`the token is larger than ${MAX_TOKEN_BYTES} bytes`, metadata, scopes)
    return token
  }

  async function verifyJwt (request: FastifyRequest, token: string, resource: string): Promise<Caller> {
    let claims: Record<string, unknown>
    try {
      claims = await request.jwtVerify<Record<string, unknown>>()
    } catch (error) {
      if (error instanceof TokenRejection || error instanceof UnknownKeyError || error instanceof KeysUnavailableError) throw error
      // The audiences to name are those of the issuer the token claims, when it is one we trust.
      const diagnosis = () => ({ audiences: namedAudiences((byIssuer.get(unverifiedClaims(token).iss as string) ?? primary).audiences), resource })
      throw new TokenRejection(diagnoseFailure(error as Error, token, diagnosis))
    }
    // What fast-jwt does not check: a usable `sub`, `iat` not in the future, and the audience of the token's own issuer.
    if (typeof claims.sub !== 'string' || claims.sub === '') throw new TokenRejection('the token has no usable sub claim')
    if (typeof claims.iat === 'number' && claims.iat * 1000 > Date.now() + toleranceMs) {
      throw new TokenRejection(`the token claims to be issued in the future (iat ${new Date(claims.iat * 1000).toISOString()})`)
    }
    const trusted = byIssuer.get(claims.iss as string)
    if (trusted !== undefined && issuers.length > 1 && !audiencesOf(claims).some((aud) => trusted.audiences.includes(aud))) {
      throw new TokenRejection(diagnoseFailure({ message: 'aud' }, token, () => ({ audiences: namedAudiences(trusted.audiences), resource })))
    }
    return callerFromClaims(claims)
  }

  /** An opaque token: the issuers that introspect are asked in turn; the first that knows it decides. */
  async function verifyOpaque (token: string, resource: string): Promise<Caller> {
    for (const trusted of introspecting) {
      const answer = await introspect(trusted.introspection as IntrospectionEndpoint, token)
      if (answer.active !== true) continue
      const claims: Record<string, unknown> = { ...answer, iss: answer.iss ?? trusted.issuer }
      const now = Date.now()
      if (claims.iss !== trusted.issuer) throw new TokenRejection(`the introspection of ${trusted.issuer} says the token was issued by ${JSON.stringify(claims.iss)}`)
      if (typeof claims.sub !== 'string' || claims.sub === '') throw new TokenRejection('the introspected token has no usable sub')
      if (typeof claims.exp !== 'number') throw new TokenRejection('the introspected token has no exp')
      if (claims.exp * 1000 + toleranceMs < now) throw new TokenRejection(`the token expired at ${new Date(claims.exp * 1000).toISOString()}`)
      if (typeof claims.nbf === 'number' && claims.nbf * 1000 - toleranceMs > now) throw new TokenRejection(`the token is not valid before ${new Date(claims.nbf * 1000).toISOString()}`)
      if (!audiencesOf(claims).some((aud) => trusted.audiences.includes(aud))) {
        const audiences = audiencesOf(claims)
        throw new TokenRejection(`the token's audience is ${audiences.length > 0 ? audiences.join(', ') : '(none)'} but this server accepts ${namedAudiences(trusted.audiences).join(', ')}: ` +
          `the client must request the resource ${resource}, or add the IdP's audience to the accepted audiences`)
      }
      return callerFromClaims(claims)
    }
    throw new TokenRejection('the identity provider says this token is not active (expired, revoked, or not one of its tokens)')
  }

  // Rate limits around verification: requests without a token count against the per-address
  // budget the discovery documents use; rejected tokens against their own, stricter one.
  const windowMs = config.RATE_LIMIT_WINDOW_S * 1000
  const anonymous = config.RATE_LIMIT_IP_MAX > 0
    ? new Budget(fastify.createRateLimit(), { max: config.RATE_LIMIT_IP_MAX, windowMs, scope: PER_ADDRESS_SCOPE })
    : undefined
  const failures = config.RATE_LIMIT_AUTH_FAILURE_MAX > 0 ? new FailedAuthentications(fastify, config.RATE_LIMIT_AUTH_FAILURE_MAX, windowMs) : undefined

  fastify.decorate('authenticate', async function authenticate (request: FastifyRequest, reply?: FastifyReply) {
    const presented = request.headers.authorization !== undefined
    try {
      if (presented) failures?.refuseIfBlocked(request)
      else await anonymous?.spend(request)
      await verify(request)
    } catch (error) {
      if (presented && (error as { statusCode?: number }).statusCode === 401) await failures?.record(request)
      // A request that presents no credential claims no identity, so there is nobody to
      // attribute it to: it is every client's first step (discovery), counted against the
      // per-address budget and written to the request log. The audit trail records calls
      // made, or tried, as someone.
      if (presented || (error as { code?: string }).code === 'MCPGW_TOKEN_NOT_IN_HEADER') fastify.audit.authenticationFailed(request, reply, error as Error)
      throw error
    }
  })

  async function verify (request: FastifyRequest): Promise<void> {
    const path = request.routeOptions.url ?? request.url
    const metadata = resourceMetadataUrl(config.PUBLIC_URL, path)
    const token = bearerToken(request, metadata)
    const known = verified.get(token) ?? introspected.get(token)
    if (known !== undefined) {
      request.caller = known
      keepInboundToken(request, token)
      return
    }

    const resource = resourceIdentifier(config.PUBLIC_URL, path)
    // JWEs go down the JWT path, which explains them; anything else that is not a JWT is opaque.
    const opaque = introspecting.length > 0 && !looksLikeJwt(token) && token.split('.').length !== 5
    try {
      request.caller = opaque ? await verifyOpaque(token, resource) : await verifyJwt(request, token, resource)
    } catch (error) {
      if (error instanceof KeysUnavailableError || error instanceof IntrospectionUnavailableError) throw authUnavailableError(error.message)
      if (error instanceof TokenRejection || error instanceof UnknownKeyError) throw invalidTokenError(error.message, metadata, scopes)
      throw error
    }
    ;(opaque ? introspected : verified).set(token, request.caller)
    // Out of the Caller on purpose: only token exchange may read it (lib/auth/inbound-token.ts).
    keepInboundToken(request, token)
  }
}

export default fp(auth, { name: 'auth', dependencies: ['config', 'oauth-issuers', 'tool-registry', 'rate-limit', 'audit'] })
