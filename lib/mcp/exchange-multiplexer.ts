/**
 * 2025-era stateless Streamable HTTP as an MCP SDK `Transport` that carries many
 * concurrent HTTP exchanges to one McpServer.
 *
 * The SDK's protocol layer does everything JSON-RPC — validation, dispatch, error
 * objects. This class only carries each request in and its answer out, straight onto
 * the Fastify reply, without the web Request/Response conversions of the SDK's
 * WebStandard transport (they cost more than the protocol itself):
 *
 * - Each request gets a fresh internal id while in flight, so clients that all count
 *   from 1 never collide; the answer goes out under the client's own id.
 * - The terminal response becomes the JSON body of the reply.
 * - A message related to the request that comes before it (progress, logging) upgrades
 *   the reply to an SSE stream when the client accepts `text/event-stream`, and is
 *   dropped with a debug line otherwise, as a server answering with JSON may.
 * - A client that leaves before its answer cancels the request
 *   (`notifications/cancelled`), which aborts the handler's signal.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyReply } from 'fastify'
import type {
  JSONRPCMessage,
  JSONRPCRequest,
  MessageExtraInfo,
  RequestId,
  Transport,
  TransportSendOptions
} from '@modelcontextprotocol/server'
import type { Exchange } from './server-factory.ts'

const SSE_KEEP_ALIVE_MS = 15_000

export type ExchangeOutcome =
  | { kind: 'json', message: JSONRPCMessage }
  /** The answer went out as an SSE stream on the hijacked reply. */
  | { kind: 'streamed' }
  /** The client left before an answer existed. */
  | { kind: 'closed' }

function isTerminal (message: JSONRPCMessage): message is JSONRPCMessage & { id: RequestId } {
  return 'id' in message && ('result' in message || 'error' in message)
}

/** Where one exchange's messages go: a JSON body, or an SSE stream once something precedes the answer. */
class ReplySink {
  readonly outcome: Promise<ExchangeOutcome>
  settled = false
  readonly #reply: FastifyReply
  readonly #acceptsEventStream: boolean
  #resolve!: (outcome: ExchangeOutcome) => void
  #streaming = false
  #keepAlive: NodeJS.Timeout | undefined

  constructor (reply: FastifyReply, acceptsEventStream: boolean) {
    this.#reply = reply
    this.#acceptsEventStream = acceptsEventStream
    this.outcome = new Promise((resolve) => { this.#resolve = resolve })
  }

  related (message: JSONRPCMessage): void {
    if (this.settled) return
    if (!this.#acceptsEventStream) {
      this.#reply.log.debug({ method: 'method' in message ? message.method : undefined }, 'dropped a mid-call MCP message: the client does not accept text/event-stream')
      return
    }
    if (!this.#streaming) this.#upgrade()
    this.#write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
  }

  answer (message: JSONRPCMessage): void {
    if (this.settled) return
    if (this.#streaming) {
      this.#write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
      this.#reply.raw.end()
      this.#settle({ kind: 'streamed' })
    } else {
      this.#settle({ kind: 'json', message })
    }
  }

  close (): void {
    this.#settle({ kind: 'closed' })
  }

  #upgrade (): void {
    this.#streaming = true
    const reply = this.#reply
    reply.hijack()
    // Headers set by earlier hooks (CORS, rate limit) still belong on this response.
    const headers: OutgoingHttpHeaders = {
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no'
    }
    reply.raw.writeHead(200, headers)
    this.#keepAlive = setInterval(() => this.#write(': keepalive\n\n'), SSE_KEEP_ALIVE_MS).unref()
  }

  #write (frame: string): void {
    const raw = this.#reply.raw
    if (!raw.writableEnded && !raw.destroyed) raw.write(frame)
  }

  #settle (outcome: ExchangeOutcome): void {
    if (this.settled) return
    this.settled = true
    clearInterval(this.#keepAlive)
    this.#resolve(outcome)
  }
}

interface InFlight {
  readonly exchange: Exchange
  readonly clientId: RequestId
  readonly sink: ReplySink
}

export class ExchangeMultiplexer implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void

  readonly #inFlight = new Map<RequestId, InFlight>()
  #lastId = 0

  async start (): Promise<void> {}

  /** The exchange a request in flight belongs to (for tool handlers, by the id they see). */
  exchangeOf (id: RequestId): Exchange | undefined {
    return this.#inFlight.get(id)?.exchange
  }

  /** Delivers one request; resolves once its answer is ready (or written, when streamed). */
  serve (request: JSONRPCRequest, exchange: Exchange, reply: FastifyReply, acceptsEventStream: boolean, extra: MessageExtraInfo): Promise<ExchangeOutcome> {
    if (this.onmessage === undefined) throw new Error('connect a server to the multiplexer before serving requests')
    const id = ++this.#lastId
    const sink = new ReplySink(reply, acceptsEventStream)
    this.#inFlight.set(id, { exchange, clientId: request.id, sink })
    // The connection closing before the answer is complete means the client left.
    reply.raw.once('close', () => {
      if (!sink.settled) this.#cancel(id, 'the client closed the connection')
    })
    this.onmessage({ ...request, id }, extra)
    return sink.outcome
  }

  async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (isTerminal(message)) {
      const inFlight = this.#inFlight.get(message.id)
      if (inFlight === undefined) return
      this.#inFlight.delete(message.id)
      inFlight.sink.answer({ ...message, id: inFlight.clientId })
      return
    }
    const related = options?.relatedRequestId
    if (related !== undefined) this.#inFlight.get(related)?.sink.related(message)
  }

  async close (): Promise<void> {
    for (const id of [...this.#inFlight.keys()]) this.#cancel(id, 'the server is shutting down')
    this.onclose?.()
  }

  #cancel (id: RequestId, reason: string): void {
    const inFlight = this.#inFlight.get(id)
    if (inFlight === undefined) return
    this.#inFlight.delete(id)
    inFlight.sink.close()
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } })
  }
}
