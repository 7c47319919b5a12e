/**
 * Serves one classified MCP message:
 * - 2026-07-28 (envelope) traffic goes through the SDK's own `createMcpHandler`, which
 *   owns that revision's validation ladder and response shaping, with a fresh
 *   McpServer per request;
 * - 2025-era traffic is served the stateless way (no session) over ExchangeMultiplexer,
 *   straight onto the Fastify reply. `initialize` gets a fresh McpServer; every other
 *   request goes to one long-lived McpServer that never sees an `initialize`, so it
 *   holds no negotiated per-client state and answers exactly as a fresh instance would,
 *   without the cost of building one (about three quarters of the SDK's time per call).
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import {
  createMcpHandler,
  type AuthInfo,
  type JSONRPCRequest,
  type McpHttpHandler,
  type McpServer
} from '@modelcontextprotocol/server'
import type { Caller } from '../caller.ts'
import { buildMcpServer, createServerFactory, type Exchange, type ServerFactoryOptions } from './server-factory.ts'
import type { McpMessage } from './message.ts'
import { ExchangeMultiplexer } from './exchange-multiplexer.ts'

/** Request headers the SDK's modern leg reads; nothing else (cookies, Authorization) is handed to it. */
const MODERN_HEADERS = ['content-type', 'accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name']

/**
 * What the SDK is told about the caller. The raw token is deliberately not in it:
 * nothing downstream of this point may forward the inbound token.
 */
function authInfoOf (caller: Caller): AuthInfo {
  return {
    token: '',
    clientId: caller.clientId ?? '',
    scopes: [...caller.scopes],
    expiresAt: caller.expiresAt,
    extra: { sub: caller.sub, issuer: caller.issuer }
  }
}

function acceptsEventStream (accept: string | undefined): boolean {
  return accept !== undefined && (accept.includes('text/event-stream') || accept.includes('*/*'))
}

export class McpDispatcher {
  readonly #createServer: (exchange: Exchange) => McpServer
  readonly #shared: McpServer
  readonly #sharedExchanges = new ExchangeMultiplexer()
  readonly #modern: McpHttpHandler
  readonly #publicUrl: string
  /** The modern leg's factory only sees the web Request it was handed; this maps it back to the exchange. */
  readonly #exchanges = new WeakMap<Request, Exchange>()

  constructor (options: ServerFactoryOptions, log: FastifyBaseLogger) {
    const createServer = createServerFactory(options)
    this.#createServer = createServer
    this.#shared = buildMcpServer(options, options.registry.tools, (id) => this.#sharedExchanges.exchangeOf(id))
    this.#publicUrl = options.config.PUBLIC_URL
    this.#modern = createMcpHandler(({ requestInfo }) => {
      const exchange = requestInfo === undefined ? undefined : this.#exchanges.get(requestInfo)
      if (exchange === undefined) throw new Error('MCP request without its exchange')
      return createServer(exchange)
    }, {
      legacy: 'reject',
      onerror: (error) => log.debug({ err: error }, 'MCP SDK reported an error')
    })
  }

  async serve (request: FastifyRequest, reply: FastifyReply, message: McpMessage, exchange: Exchange): Promise<unknown> {
    if (message.era === 'modern') return this.#serveModern(request, reply, message, exchange)
    if (message.kind !== 'request') {
      // A stateless server keeps nothing a notification or a posted response could act on.
      request.log.debug({ method: message.method }, 'accepted a 2025-era MCP notification or response')
      return reply.code(202).send()
    }

    let exchanges = this.#sharedExchanges
    if (message.method === 'initialize') {
      // Negotiation state stays on a throwaway instance, never on the shared one.
      exchanges = new ExchangeMultiplexer()
      await this.#createServer(exchange).connect(exchanges)
    }
    const outcome = await exchanges.serve(message.body as JSONRPCRequest, exchange, reply, acceptsEventStream(request.headers.accept), { authInfo: authInfoOf(exchange.caller) })
    if (outcome.kind === 'json') return reply.send(outcome.message)
    if (outcome.kind === 'closed' && !reply.sent) reply.hijack()
    return reply
  }

  async #serveModern (request: FastifyRequest, reply: FastifyReply, message: McpMessage, exchange: Exchange): Promise<unknown> {
    const headers = new Headers()
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string' && (MODERN_HEADERS.includes(name) || name.startsWith('mcp-param-'))) headers.set(name, value)
    }
    const aborted = new AbortController()
    reply.raw.once('close', () => { if (!reply.raw.writableFinished) aborted.abort() })
    const webRequest = new Request(this.#publicUrl + request.url, { method: 'POST', headers, signal: aborted.signal })
    this.#exchanges.set(webRequest, exchange)

    const response = await this.#modern.fetch(webRequest, { parsedBody: message.body, authInfo: authInfoOf(exchange.caller) })
    if (aborted.signal.aborted) {
      reply.hijack()
      return reply
    }
    reply.code(response.status)
    response.headers.forEach((value, name) => { reply.header(name, value) })
    if (response.body === null) return reply.send()
    if (response.headers.get('content-type')?.startsWith('text/event-stream') === true) return reply.send(response.body)
    return reply.send(await response.text())
  }

  /** Connects the long-lived 2025-era server; call once before serving. */
  async start (): Promise<void> {
    await this.#shared.connect(this.#sharedExchanges)
  }

  async close (): Promise<void> {
    await Promise.all([this.#modern.close(), this.#shared.close()])
  }
}
