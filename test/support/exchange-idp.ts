/**
 * A token endpoint under the test's control, for the token exchanger: RFC 8414 metadata
 * naming it, every request recorded (headers and form), and an answer the test chooses
 * (by default a fresh exchanged token per request). Loopback only.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedTokenRequest {
  headers: IncomingHttpHeaders
  form: URLSearchParams
}

export interface TokenAnswer {
  status: number
  body: unknown
  /** Milliseconds to wait before answering. */
  delayMs?: number
}

export class ExchangeIdp {
  readonly server: Server
  issuer = ''
  readonly requests: RecordedTokenRequest[] = []
  /** What the token endpoint answers; the default issues `exchanged-<n>` for 300 s. */
  answer: (request: RecordedTokenRequest, count: number) => TokenAnswer = (_request, count) => ({
    status: 200,
    body: { access_token: `exchanged-${count}`, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 300 }
  })

  metadataOverrides: Record<string, unknown> = {}

  constructor () {
    this.server = createServer((request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      const path = new URL(request.url ?? '/', 'http://localhost').pathname
      if (path === '/.well-known/oauth-authorization-server') {
        return send(200, { issuer: this.issuer, token_endpoint: `${this.issuer}/token`, jwks_uri: `${this.issuer}/jwks`, ...this.metadataOverrides })
      }
      if (path === '/token' && request.method === 'POST') {
        let body = ''
        request.on('data', (chunk) => { body += chunk })
        request.on('end', () => {
          const recorded = { headers: request.headers, form: new URLSearchParams(body) }
          this.requests.push(recorded)
          const { status, body: answer, delayMs = 0 } = this.answer(recorded, this.requests.length)
          setTimeout(() => send(status, answer), delayMs)
        })
        return
      }
      send(404, { error: 'not_found' })
    })
  }

  async start (): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }
}
