/**
 * A minimal, fully controllable token issuer for verification tests: RFC 8414
 * metadata, a JWKS whose keys can be rotated or withdrawn, an on/off switch to
 * simulate an outage, and a signer that mints any token (valid or forged).
 * Keys are generated per run. Loopback only.
 */
import { createServer, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { createSigner, type SignerOptions } from 'fast-jwt'
import { issuedTokens } from './log-capture.ts'

export interface TestKey {
  kid: string
  alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA'
  privateKey: KeyObject
  publicKey: KeyObject
}

export function generateKey (alg: TestKey['alg'] = 'RS256', kid = randomUUID()): TestKey {
  const pair = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey }
}

export interface MintOptions {
  key?: TestKey
  /** Header overrides (alg, kid, …). */
  header?: Record<string, unknown>
  /** Omit the kid header. */
  noKid?: boolean
}

export interface TestIssuerOptions {
  /** Serve over https with this PEM key and certificate (production mode refuses an http issuer). */
  tls?: { key: string, cert: string }
}

export class TestIssuer {
  readonly server: Server
  readonly #scheme: 'http' | 'https'
  issuer = ''
  keys: TestKey[] = [generateKey()]
  /** Answer 503 to everything while true. */
  down = false
  jwksFetches = 0
  metadataFetches = 0
  /** Extra or replaced metadata fields. */
  metadataOverrides: Record<string, unknown> = {}

  constructor ({ tls }: TestIssuerOptions = {}) {
    this.#scheme = tls === undefined ? 'http' : 'https'
    const handler: RequestListener = (request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      if (this.down) return send(503, { error: 'down' })
      const path = new URL(request.url ?? '/', this.issuer).pathname
      if (path === '/.well-known/oauth-authorization-server' || path === '/.well-known/openid-configuration') {
        this.metadataFetches++
        return send(200, {
          issuer: this.issuer,
          jwks_uri: `${this.issuer}/jwks`,
          authorization_endpoint: `${this.issuer}/authorize`,
          token_endpoint: `${this.issuer}/token`,
          code_challenge_methods_supported: ['S256'],
          ...(path.includes('openid') && { subject_types_supported: ['public'] }),
          ...this.metadataOverrides
        })
      }
      if (path === '/jwks') {
        this.jwksFetches++
        return send(200, { keys: this.keys.map((key) => ({ ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' })) })
      }
      send(404, { error: 'not found' })
    }
    this.server = tls === undefined ? createServer(handler) : createHttpsServer(tls, handler)
  }

  async start (): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.issuer = `${this.#scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }

  /** Adds a new current key (kept first) and keeps the old ones published. */
  rotate (alg: TestKey['alg'] = 'RS256'): TestKey {
    const key = generateKey(alg)
    this.keys = [key, ...this.keys]
    return key
  }

  get currentKey (): TestKey {
    const [key] = this.keys
    if (key === undefined) throw new Error('no key')
    return key
  }

  /** Signs `claims` as given (no defaults added). */
  sign (claims: Record<string, unknown>, { key = this.currentKey, header = {}, noKid = false }: MintOptions = {}): string {
    const options: Partial<SignerOptions & { key: string }> = {
      key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      algorithm: key.alg,
      ...(noKid ? {} : { kid: key.kid }),
      noTimestamp: true,
      header: header as SignerOptions['header']
    }
    const token = createSigner(options)(claims)
    // The suite-wide log check looks for every token ever signed here.
    issuedTokens.add(token)
    return token
  }

  /** A valid access token for `audience`, with claim overrides. */
  mint (audience: string | string[], claims: Record<string, unknown> = {}, options: MintOptions = {}): string {
    const now = Math.floor(Date.now() / 1000)
    return this.sign({ iss: this.issuer, sub: 'alice', aud: audience, iat: now, exp: now + 600, scope: 'read:profile execute:tools', client_id: 'test-client', ...claims }, options)
  }
}

export async function startTestIssuer (options: TestIssuerOptions = {}): Promise<TestIssuer> {
  return new TestIssuer(options).start()
}
