/**
 * An HTTP backend under the test's control: records what it receives and answers as the
 * test says (a status, a delay, silence, a dropped connection). Loopback only.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
  /** Set when the client closed the connection before an answer. */
  closedEarly: boolean
}

export type StubReply = (request: ReceivedRequest, response: ServerResponse, count: number) => void

export class StubBackend {
  readonly server: Server
  url = ''
  readonly received: ReceivedRequest[] = []
  reply: StubReply = (_request, response) => json(response, 200, { ok: true })

  constructor () {
    this.server = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk) => { body += chunk })
      request.on('end', () => {
        const received: ReceivedRequest = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body, closedEarly: false }
        this.received.push(received)
        response.on('close', () => { if (!response.writableFinished) received.closedEarly = true })
        this.reply(received, response, this.received.length)
      })
    })
  }

  async start (): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

export function json (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers })
  response.end(JSON.stringify(body))
}
