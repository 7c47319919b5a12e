/**
 * The configured backends and, per MCP request, a BackendSession: the one object that
 * holds the caller's inbound token, in a private field, for two uses only — as the
 * `subject_token` of a token exchange sent to the issuer that issued it, and as the
 * needle the guard looks for in every outgoing request. Tools get BackendClients from
 * it (`ctx.backend(name)`), which never expose a token.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Caller } from '../caller.ts'
import type { BackendConfig } from '../config.ts'
import { HttpBackendClient, type BackendClient, type BackendCredentials } from './backend-client.ts'
import { InboundTokenLeakError } from './errors.ts'
import type { AssertionSigner } from './signed-assertion.ts'
import type { TokenExchanger } from './token-exchange.ts'

export interface BackendsOptions {
  readonly backends: readonly BackendConfig[]
  /** Needed when a backend uses token-exchange. */
  readonly exchanger?: TokenExchanger | undefined
  /** Needed when a backend uses signed-assertion; also what /.well-known/jwks.json publishes. */
  readonly signer?: AssertionSigner | undefined
  /** How requests go out (tests). */
  readonly fetch?: typeof fetch
}

export interface BackendClientOptions {
  /** The tool call's signal. */
  readonly signal: AbortSignal
  readonly log: FastifyBaseLogger
}

export class Backends {
  readonly exchanger: TokenExchanger | undefined
  readonly signer: AssertionSigner | undefined
  readonly #byName: ReadonlyMap<string, BackendConfig>
  readonly #fetch: typeof fetch | undefined

  constructor ({ backends, exchanger, signer, fetch }: BackendsOptions) {
    this.#byName = new Map(backends.map((backend) => [backend.name, backend]))
    for (const backend of backends) {
      if (backend.mode === 'token-exchange' && exchanger === undefined) throw new Error(`backend ${backend.name} uses token-exchange but no token exchanger is configured`)
      if (backend.mode === 'signed-assertion' && signer === undefined) throw new Error(`backend ${backend.name} uses signed-assertion but no signing keys are configured`)
    }
    this.exchanger = exchanger
    this.signer = signer
    this.#fetch = fetch
  }

  get names (): string[] {
    return [...this.#byName.keys()]
  }

  get (name: string): BackendConfig | undefined {
    return this.#byName.get(name)
  }

  /** The backends of one request, on behalf of `caller`. */
  session (caller: Caller, inboundToken: string | undefined): BackendSession {
    return new BackendSession(this, caller, inboundToken, this.#fetch)
  }
}

export class BackendSession {
  readonly #backends: Backends
  readonly #caller: Caller
  // Private (#) so that nothing outside this class, tools included, can read it.
  readonly #inboundToken: string | undefined
  readonly #fetch: typeof fetch | undefined

  constructor (backends: Backends, caller: Caller, inboundToken: string | undefined, fetcher?: typeof fetch) {
    this.#backends = backends
    this.#caller = caller
    this.#inboundToken = inboundToken
    this.#fetch = fetcher
  }

  /** A client for the backend `name`; throws when it is not configured. */
  client (name: string, { signal, log }: BackendClientOptions): BackendClient {
    const backend = this.#backends.get(name)
    if (backend === undefined) throw new Error(`no backend named ${name} is configured (BACKENDS names ${this.#backends.names.join(', ') || 'none'})`)
    return new HttpBackendClient({ backend, credentials: this.#credentials(backend, log), signal, log, ...(this.#fetch !== undefined && { fetch: this.#fetch }) })
  }

  #credentials (backend: BackendConfig, log: FastifyBaseLogger): BackendCredentials {
    const caller = this.#caller
    const inboundToken = this.#inboundToken
    const { exchanger, signer } = this.#backends
    return {
      authorization: async (fresh, signal) => {
        if (backend.mode === 'signed-assertion') {
          // A new assertion (new jti, full 60 s) for every attempt: nothing to renew.
          return { value: `Bearer ${(signer as AssertionSigner).sign(caller, backend)}`, renewable: false }
        }
        if (inboundToken === undefined) throw new Error(`backend ${backend.name}: token exchange needs the caller's inbound token, which this request does not carry`)
        const exchanged = await (exchanger as TokenExchanger).token({ caller, subjectToken: inboundToken, backend, log, signal, fresh })
        return { value: `Bearer ${exchanged.accessToken}`, renewable: exchanged.cached }
      },
      guard: (where, text) => {
        if (inboundToken !== undefined && inboundToken !== '' && text.includes(inboundToken)) throw new InboundTokenLeakError(backend.name, where)
      }
    }
  }
}
