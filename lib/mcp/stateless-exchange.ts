/**
 * One HTTP exchange of 2025-era stateless Streamable HTTP, as an MCP SDK `Transport`.
 *
 * The SDK's protocol layer (a fresh `McpServer` per request) does everything JSON-RPC —
 * validation, dispatch, error objects; this class only carries one request in and its
 * answer out, straight onto the Fastify reply, with none of the web Request/Response
 * conversions the SDK's WebStandard transport needs (they cost more than the protocol).
 *
 * - The terminal response becomes the JSON body of the reply.
 * - A message related to the request that arrives before it (progress, logging, a
 *   server-to-client request) upgrades the reply to an SSE stream when the client
 *   accepts `text/event-stream`; otherwise it is dropped with a debug log line, which
 *   is what the spec allows a server answering with plain JSON.
 * - The client going away closes the transport, which aborts the running handler.
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

export class StatelessExchangeTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void

  readonly #reply: FastifyReply
  readonly #acceptsEventStream: boolean
  #requestId: RequestId | undefined
  #settle: ((outcome: ExchangeOutcome) => void) | undefined
  #streaming = false
  #keepAlive: NodeJS.Timeout | undefined
  #settled = false
  #closed = false

  constructor (reply: FastifyReply, acceptsEventStream: boolean) {
    this.#reply = reply
    this.#acceptsEventStream = acceptsEventStream
  }

  async start (): Promise<void> {}

  /** Delivers the request to the connected server and resolves once its answer is ready (or written, when streamed). */
  exchange (request: JSONRPCRequest, extra: MessageExtraInfo): Promise<ExchangeOutcome> {
    if (this.onmessage === undefined) throw new Error('connect a server to the transport before exchanging messages')
    this.#requestId = request.id
    const outcome = new Promise<ExchangeOutcome>((resolve) => { this.#settle = resolve })
    this.#reply.raw.once('close', () => {
      if (!this.#reply.raw.writableFinished) void this.close()
    })
    this.onmessage(request, extra)
    return outcome
  }

  async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.#settled) return
    if (isTerminal(message)) {
      if (message.id !== this.#requestId) return
      if (this.#streaming) {
        this.#writeFrame(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
        this.#reply.raw.end()
        this.#finish({ kind: 'streamed' })
      } else {
        this.#finish({ kind: 'json', message })
      }
      return
    }
    if (options?.relatedRequestId !== this.#requestId) return
    if (!this.#acceptsEventStream) {
      this.#reply.log.debug({ method: 'method' in message ? message.method : undefined }, 'dropped a mid-call MCP message: the client does not accept text/event-stream')
      return
    }
    if (!this.#streaming) this.#upgradeToEventStream()
    this.#writeFrame(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#finish({ kind: 'closed' })
    this.onclose?.()
  }

  #upgradeToEventStream (): void {
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
    this.#keepAlive = setInterval(() => this.#writeFrame(': keepalive\n\n'), SSE_KEEP_ALIVE_MS).unref()
  }

  #writeFrame (frame: string): void {
    const raw = this.#reply.raw
    if (!raw.writableEnded && !raw.destroyed) raw.write(frame)
  }

  #finish (outcome: ExchangeOutcome): void {
    if (this.#settled) return
    this.#settled = true
    clearInterval(this.#keepAlive)
    this.#settle?.(outcome)
  }
}
