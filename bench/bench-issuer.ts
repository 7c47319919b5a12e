/**
 * The benchmark's token issuer: RFC 8414 metadata and a JWKS on loopback, like
 * test/support/test-issuer.ts, but over HTTPS, because the server under test runs
 * with NODE_ENV=production, where only an https OAUTH_ISSUER is accepted. The TLS
 * certificate and the RS256 signing key are made for each run and never written
 * anywhere but a temporary folder that `stop()` removes. The server under test
 * trusts the certificate through NODE_EXTRA_CA_CERTS (`caFile`).
 *
 * Minting thousands of tokens (the cache-cold scenario) signs on libuv's thread
 * pool, so both cores share the RSA work.
 */
import { createServer, type Server } from 'node:https'
import { execFileSync } from 'node:child_process'
import { sign } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { generateKey, type TestKey } from '../test/support/test-issuer.ts'

export interface TokenClaims {
  sub: string
  aud: string
  scope?: string
  [claim: string]: unknown
}

function base64url (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** A self-signed certificate for 127.0.0.1 (openssl CLI: node:crypto cannot issue X.509 certificates). */
function makeCertificate (dir: string): { key: Buffer, cert: Buffer, certFile: string } {
  const keyFile = join(dir, 'tls-key.pem')
  const certFile = join(dir, 'tls-cert.pem')
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (error) {
    throw new Error(`could not create the loopback issuer's TLS certificate with openssl (apt-get install -y openssl): ${(error as Error).message}`)
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile }
}

export class BenchIssuer {
  readonly #dir: string
  readonly #server: Server
  /** PEM file of the issuer's certificate, for the server under test's NODE_EXTRA_CA_CERTS. */
  readonly caFile: string
  readonly key: TestKey = generateKey('RS256')
  issuer = ''
  jwksFetches = 0

  constructor () {
    this.#dir = mkdtempSync(join(tmpdir(), 'mcp-gateway-bench-'))
    const { key, cert, certFile } = makeCertificate(this.#dir)
    this.caFile = certFile
    this.#server = createServer({ key, cert }, (request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      const path = new URL(request.url ?? '/', this.issuer).pathname
      if (path === '/.well-known/oauth-authorization-server') {
        return send(200, {
          issuer: this.issuer,
          jwks_uri: `${this.issuer}/jwks`,
          authorization_endpoint: `${this.issuer}/authorize`,
          token_endpoint: `${this.issuer}/token`,
          code_challenge_methods_supported: ['S256']
        })
      }
      if (path === '/jwks') {
        this.jwksFetches++
        return send(200, { keys: [{ ...this.key.publicKey.export({ format: 'jwk' }), kid: this.key.kid, alg: 'RS256', use: 'sig' }] })
      }
      send(404, { error: 'not found' })
    })
  }

  async start (): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.issuer = `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  async stop (): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
    this.removeFiles()
  }

  /** Deletes the certificate and key files now (also safe on an abort path, where nothing async runs). */
  removeFiles (): void {
    rmSync(this.#dir, { recursive: true, force: true })
  }

  #payload (claims: TokenClaims, lifetimeS: number): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000)
    return { iss: this.issuer, iat: now, exp: now + lifetimeS, scope: 'read:profile execute:tools', client_id: 'bench-client', ...claims }
  }

  /** One RS256 access token, signed with the issuer's published key. */
  mint (claims: TokenClaims, lifetimeS = 3600): Promise<string> {
    const signingInput = `${base64url({ alg: 'RS256', typ: 'JWT', kid: this.key.kid })}.${base64url(this.#payload(claims, lifetimeS))}`
    return new Promise((resolve, reject) => {
      sign('sha256', Buffer.from(signingInput), this.key.privateKey, (error, signature) => {
        if (error !== null) reject(error)
        else resolve(`${signingInput}.${signature.toString('base64url')}`)
      })
    })
  }

  /** `count` tokens for distinct users (`sub` = `${prefix}<n>`), signed in parallel. */
  async mintMany (count: number, aud: string, prefix = 'user-'): Promise<string[]> {
    const tokens = new Array<string>(count)
    const inFlight = 64
    let next = 0
    await Promise.all(Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) {
        const index = next++
        tokens[index] = await this.mint({ sub: `${prefix}${index}`, aud })
      }
    }))
    return tokens
  }
}

/**
 * The same token with its signature altered (one character in the middle of the
 * signature segment): well formed, known `kid`, payload intact, signature wrong.
 */
export function withBadSignature (token: string): string {
  const dot = token.lastIndexOf('.')
  const at = dot + Math.floor((token.length - dot) / 2)
  const replacement = token[at] === 'A' ? 'B' : 'A'
  return token.slice(0, at) + replacement + token.slice(at + 1)
}
