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

export function generateKey (alg: TestKey['alg'] = 'RS256', kid: string = randomUUID()): TestKey {
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
  /** A path for the issuer URL, as Keycloak (`/realms/<realm>`) or Okta (`/oauth2/default`) have. */
  path?: string
  /** Serve over https with this PEM key and certificate (production mode refuses an http issuer off loopback). */
  tls?: { key: string, cert: string }
}

export class TestIssuer {
  readonly server: Server
  issuer = ''
  keys: TestKey[] = [generateKey()]
  /** Answer 503 to everything while true. */
  down = false
  jwksFetches = 0
  metadataFetches = 0
  /** Extra or replaced metadata fields (undefined removes a field). */
  metadataOverrides: Record<string, unknown> = {}
  /** RFC 7662: the client allowed to introspect, and what each opaque token stands for. */
  readonly introspectionClient = { id: 'mcp-gateway', secret: `secret-${randomUUID()}` }
  readonly opaqueTokens = new Map<string, Record<string, unknown>>()
  introspections = 0
  /** False: every metadata URL answers 404. */
  metadataServed = true
  /** Served at /jwks instead of the keys (a broken key set). */
  jwksDocument: unknown = undefined
  /** The issuer's path (e.g. `/realms/mcp`): metadata is then served where clients probe for a path issuer. */
  readonly path: string
  readonly #scheme: 'http' | 'https'

  constructor ({ path = '', tls }: TestIssuerOptions = {}) {
    this.path = path.replace(/\/$/, '')
    this.#scheme = tls === undefined ? 'http' : 'https'
    const handler: RequestListener = (request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      if (this.down) return send(503, { error: 'down' })
      const path = new URL(request.url ?? '/', this.issuer).pathname
      const metadataPaths = [`/.well-known/oauth-authorization-server${this.path}`, `/.well-known/openid-configuration${this.path}`, `${this.path}/.well-known/openid-configuration`]
      if (this.metadataServed && metadataPaths.includes(path)) {
        this.metadataFetches++
        return send(200, {
          issuer: this.issuer,
          jwks_uri: `${this.issuer}/jwks`,
          authorization_endpoint: `${this.issuer}/authorize`,
          token_endpoint: `${this.issuer}/token`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          ...(path.includes('openid') && { subject_types_supported: ['public'] }),
          ...this.metadataOverrides
        })
      }
      if (path === `${this.path}/introspect` && request.method === 'POST') {
        this.introspections++
        const expected = `Basic ${Buffer.from(`${this.introspectionClient.id}:${this.introspectionClient.secret}`).toString('base64')}`
        if (request.headers.authorization !== expected) return send(401, { error: 'invalid_client' })
        let body = ''
        request.on('data', (chunk) => { body += chunk })
        request.on('end', () => {
          const token = new URLSearchParams(body).get('token') ?? ''
          const claims = this.opaqueTokens.get(token)
          send(200, claims === undefined ? { active: false } : { active: true, ...claims })
        })
        return
      }
      if (path === `${this.path}/jwks`) {
        this.jwksFetches++
        if (this.jwksDocument !== undefined) return send(200, this.jwksDocument)
        return send(200, { keys: this.keys.map((key) => ({ ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' })) })
      }
      send(404, { error: 'not found' })
    }
    this.server = tls === undefined ? createServer(handler) : createHttpsServer(tls, handler)
  }

  async start (): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.issuer = `${this.#scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.path}`
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
      // fast-jwt drops a given iat under noTimestamp: keep the claims exactly as given.
      noTimestamp: claims.iat === undefined,
      header: header as SignerOptions['header']
    }
    const token = createSigner(options)(claims)
    // The suite-wide log check looks for every token ever signed here.
    issuedTokens.add(token)
    return token
  }

  /** An opaque (non-JWT) token the introspection endpoint vouches for, with claim overrides. */
  opaque (audience: string | string[], claims: Record<string, unknown> = {}): string {
    const token = `opaque-${randomUUID()}`
    const now = Math.floor(Date.now() / 1000)
    this.opaqueTokens.set(token, { iss: this.issuer, sub: 'alice', aud: audience, exp: now + 600, scope: 'read:profile execute:tools', client_id: 'test-client', ...claims })
    issuedTokens.add(token)
    return token
  }

  /** A valid access token for `audience`, with claim overrides. */
  mint (audience: string | string[], claims: Record<string, unknown> = {}, options: MintOptions = {}): string {
    const now = Math.floor(Date.now() / 1000)
    return this.sign({ iss: this.issuer, sub: 'alice', aud: audience, iat: now, exp: now + 600, scope: 'read:profile execute:tools', client_id: 'test-client', ...claims }, options)
  }
}

/** A started test issuer that stops when the test ends. */
export async function issuerFor (t: { after: (fn: () => unknown) => void }, options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const issuer = await startTestIssuer(options)
  t.after(() => issuer.stop())
  return issuer
}

export async function startTestIssuer (options: TestIssuerOptions = {}): Promise<TestIssuer> {
  return new TestIssuer(options).start()
}
