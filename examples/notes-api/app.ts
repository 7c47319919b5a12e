/**
 * The notes service: a small separate backend, standing in for a team's internal API,
 * that the MCP server's notes tools call as the user. Each user sees only their own
 * notes; who the user is comes from the verified credential, never from the request.
 *
 *   GET  /notes?limit=20   the caller's notes, newest first   (scope notes:read)
 *   POST /notes {"text"}   adds a note for the caller          (scope notes:write)
 *   GET  /health
 */
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { NotesStore } from './store.ts'
import { CredentialRejected, TokenVerifier, type Verified } from './verify.ts'

export interface NotesApiOptions {
  /** SQLite file (created on first start), or `:memory:`. */
  readonly databasePath: string
  /** This service's audience, e.g. `http://localhost:4000`: every credential must be for it. */
  readonly audience: string
  /** The identity provider whose access tokens are accepted (token-exchange mode). */
  readonly trustedIssuer?: string | undefined
  /** The MCP server whose signed assertions are accepted (signed-assertion mode): its PUBLIC_URL. */
  readonly gatewayUrl?: string | undefined
  /** How soon a credential with an unknown key id may cause another fetch of a key set (default 30 s). */
  readonly keySetCooldownMs?: number | undefined
  readonly logger?: FastifyServerOptions['logger']
}

export const MAX_NOTE_LENGTH = 2000

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, once authenticated. */
    notesUser: Verified | null
  }
}

function challenge (error: 'invalid_token' | 'insufficient_scope' | undefined, description: string, scope?: string): string {
  const params = ['realm="notes"']
  if (error !== undefined) params.push(`error="${error}"`, `error_description="${description.replace(/["\\]/g, "'")}"`)
  if (scope !== undefined) params.push(`scope="${scope}"`)
  return `Bearer ${params.join(', ')}`
}

class HttpError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly headers: Record<string, string>
  constructor (statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.statusCode = statusCode
    this.code = code
    this.headers = headers
  }
}

export async function buildNotesApi (options: NotesApiOptions): Promise<FastifyInstance> {
  // Unknown fields are refused, not silently dropped (Fastify's default strips them).
  const app = Fastify({ logger: options.logger ?? false, ajv: { customOptions: { removeAdditional: false } } }).withTypeProvider<TypeBoxTypeProvider>()
  const store = new NotesStore(options.databasePath)
  app.addHook('onClose', async () => store.close())
  const verifier = new TokenVerifier(options)

  app.decorateRequest('notesUser', null)
  app.setErrorHandler((error: Error & { statusCode?: number, headers?: Record<string, string> }, request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    if (error.headers !== undefined) reply.headers(error.headers)
    const code = error instanceof HttpError ? error.code : status >= 500 ? 'internal_error' : 'bad_request'
    return reply.code(status).send({ error: code, message: status >= 500 ? 'The notes service failed.' : error.message })
  })

  async function authenticate (request: FastifyRequest): Promise<void> {
    const authorization = request.headers.authorization
    if (authorization === undefined || !/^Bearer\s+\S/i.test(authorization)) {
      throw new HttpError(401, 'unauthorized', 'The notes service needs a Bearer credential for it', { 'www-authenticate': challenge(undefined, '') })
    }
    try {
      request.notesUser = await verifier.verify(authorization.slice(7).trim())
    } catch (error) {
      if (error instanceof CredentialRejected) throw new HttpError(401, 'invalid_token', error.message, { 'www-authenticate': challenge('invalid_token', error.message) })
      throw error
    }
  }

  function requireScope (scope: string) {
    return async (request: FastifyRequest): Promise<void> => {
      if (request.notesUser?.scopes.has(scope) === true) return
      const message = `this needs the scope ${scope}`
      throw new HttpError(403, 'insufficient_scope', message, { 'www-authenticate': challenge('insufficient_scope', message, scope) })
    }
  }

  const NoteSchema = Type.Object({ id: Type.Integer(), text: Type.String(), createdAt: Type.String() })

  app.get('/health', async () => ({ ok: true }))

  app.get('/notes', {
    onRequest: authenticate,
    preHandler: requireScope('notes:read'),
    schema: {
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }) }),
      response: { 200: Type.Object({ notes: Type.Array(NoteSchema) }) }
    }
  }, async (request) => {
    const user = request.notesUser as Verified
    return { notes: store.list(user.owner, request.query.limit) }
  })

  app.post('/notes', {
    onRequest: authenticate,
    preHandler: requireScope('notes:write'),
    schema: {
      body: Type.Object({ text: Type.String({ minLength: 1, maxLength: MAX_NOTE_LENGTH }) }, { additionalProperties: false }),
      response: { 201: NoteSchema }
    }
  }, async (request, reply) => {
    const user = request.notesUser as Verified
    const note = store.add(user.owner, request.body.text)
    request.log.info({ owner: user.owner, via: user.via, note: note.id }, 'note added')
    return reply.code(201).send(note)
  })

  return app
}
