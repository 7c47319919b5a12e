/**
 * An MCP client that logs in the way real ones do: the SDK's Client and
 * StreamableHTTPClientTransport with an OAuthClientProvider that keeps everything in
 * memory, plus a loopback HTTP server that receives the authorization redirect.
 * The test plays the person: it takes `nextAuthorizationUrl()` to a browser (or posts
 * the forms itself) and hands the callback to `finishAuth`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  Client,
  StreamableHTTPClientTransport,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens
} from '@modelcontextprotocol/client'

/** Receives authorization redirects on http://127.0.0.1:<port>/callback, like a native MCP client does. */
export class CallbackServer {
  readonly #server: Server
  #waiting: Array<(params: URLSearchParams) => void> = []
  #received: URLSearchParams[] = []
  url = ''

  constructor () {
    this.#server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', this.url)
      if (url.pathname !== '/callback') {
        response.writeHead(404).end()
        return
      }
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      response.end('<!DOCTYPE html><link rel="icon" href="data:,"><title>Signed in</title><p>Signed in: you can close this window.</p>')
      const waiter = this.#waiting.shift()
      if (waiter !== undefined) waiter(url.searchParams)
      else this.#received.push(url.searchParams)
    })
  }

  async start (): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/callback`
    return this
  }

  /** The query of the next redirect that arrives (or has arrived). */
  next (): Promise<URLSearchParams> {
    const early = this.#received.shift()
    if (early !== undefined) return Promise.resolve(early)
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  async stop (): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

/** Everything an OAuth client keeps between calls, in memory, with counters the tests assert on. */
export class MemoryOAuthProvider implements OAuthClientProvider {
  readonly #redirectUrl: string
  clientInfo: StoredOAuthClientInformation | undefined
  storedTokens: StoredOAuthTokens | undefined
  #verifier = ''
  #discovery: OAuthDiscoveryState | undefined
  #pending: Array<(url: URL) => void> = []
  #redirects: URL[] = []
  /** How often the client registered (DCR) and how often it was sent to log in. */
  registrations = 0
  authorizations = 0

  constructor (redirectUrl: string) {
    this.#redirectUrl = redirectUrl
  }

  get redirectUrl (): string {
    return this.#redirectUrl
  }

  get clientMetadata (): OAuthClientMetadata {
    return {
      client_name: 'mcp-gateway test client',
      redirect_uris: [this.#redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none'
    }
  }

  clientInformation (): StoredOAuthClientInformation | undefined {
    return this.clientInfo
  }

  saveClientInformation (information: StoredOAuthClientInformation): void {
    this.registrations++
    this.clientInfo = information
  }

  tokens (): StoredOAuthTokens | undefined {
    return this.storedTokens
  }

  saveTokens (tokens: StoredOAuthTokens): void {
    this.storedTokens = tokens
  }

  redirectToAuthorization (url: URL): void {
    this.authorizations++
    const waiter = this.#pending.shift()
    if (waiter !== undefined) waiter(url)
    else this.#redirects.push(url)
  }

  /** The next authorization URL the client sends its user to. */
  nextAuthorizationUrl (): Promise<URL> {
    const early = this.#redirects.shift()
    if (early !== undefined) return Promise.resolve(early)
    return new Promise((resolve) => this.#pending.push(resolve))
  }

  saveCodeVerifier (verifier: string): void {
    this.#verifier = verifier
  }

  codeVerifier (): string {
    return this.#verifier
  }

  saveDiscoveryState (state: OAuthDiscoveryState): void {
    this.#discovery = state
  }

  discoveryState (): OAuthDiscoveryState | undefined {
    return this.#discovery
  }

  invalidateCredentials (scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'client') this.clientInfo = undefined
    if (scope === 'all' || scope === 'tokens') this.storedTokens = undefined
    if (scope === 'all' || scope === 'discovery') this.#discovery = undefined
  }
}

/** A connected SDK client, or the UnauthorizedError that sent it to log in. */
export async function connectClient (serverUrl: string, provider: OAuthClientProvider): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider })
  const client = new Client({ name: 'mcp-gateway-tests', version: '1.0.0' })
  await client.connect(transport)
  return { client, transport }
}

/** The structured result of a tool call, or the text of its error. */
export async function callTool (client: Client, name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name, arguments: args })
  if (result.isError === true) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`)
  return result.structuredContent as Record<string, unknown>
}
