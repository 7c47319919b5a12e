/**
 * The backends tools call as the user (BACKENDS): their credentials — a token exchanger
 * for `token-exchange` backends, this server's assertion signer for `signed-assertion`
 * ones — and `fastify.backends`, from which the MCP route opens one BackendSession per
 * request. See lib/backends/.
 */
import { resolve } from 'node:path'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { backendSigningKeys, clientPrivateKey, DEV_NOTES_BACKEND, usesEmbeddedIssuer, type Config } from '../../lib/config.ts'
import { Backends } from '../../lib/backends/backends.ts'
import { AssertionSigner, loadOrCreateDevSigningKeys } from '../../lib/backends/signed-assertion.ts'
import { postForm, TokenExchanger, type ClientCredentials, type ExchangeIssuer, type FormPoster } from '../../lib/backends/token-exchange.ts'
import type { TrustedIssuer } from '../../lib/auth/trusted-issuer.ts'
import { devGatewayClient } from '../../lib/dev-auth/gateway-client.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The configured backends; `session(caller, token)` gives one request's access to them. */
    backends: Backends
  }
}

/**
 * Token requests to this server's own origin (the embedded development authorization
 * server) go through `fastify.inject`, as the issuer's documents do (plugins/app/oauth-issuers.ts):
 * PUBLIC_URL may be a tunnel, or not answer yet.
 */
function inProcessPoster (fastify: FastifyInstance, publicUrl: string): FormPoster {
  return async (url, form, headers, signal) => {
    const target = new URL(url)
    if (target.origin !== publicUrl) return postForm(url, form, headers, signal)
    const response = await fastify.inject({
      method: 'POST',
      url: target.pathname + target.search,
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      payload: form.toString()
    })
    let body: unknown
    try {
      body = response.json()
    } catch {}
    return { status: response.statusCode, body }
  }
}

/** This server's client at the primary issuer: private_key_jwt when a key is configured, else client_secret_basic. */
function primaryClient (config: Config): ClientCredentials | undefined {
  if (config.OAUTH_CLIENT_ID === undefined) return undefined
  const privateKey = clientPrivateKey(config)
  if (privateKey !== undefined) return { clientId: config.OAUTH_CLIENT_ID, privateKey }
  return config.OAUTH_CLIENT_SECRET === undefined ? undefined : { clientId: config.OAUTH_CLIENT_ID, clientSecret: config.OAUTH_CLIENT_SECRET }
}

function exchangeIssuer (trusted: TrustedIssuer, client: ClientCredentials | undefined): ExchangeIssuer {
  return {
    issuer: trusted.issuer,
    client,
    tokenEndpoint: async () => {
      const { metadata, url } = await trusted.metadata()
      if (typeof metadata.token_endpoint !== 'string') throw new Error(`${url} names no token_endpoint`)
      const grantTypes = Array.isArray(metadata.grant_types_supported) ? metadata.grant_types_supported.filter((grant): grant is string => typeof grant === 'string') : undefined
      return { url: metadata.token_endpoint, grantTypes }
    }
  }
}

const backendsPlugin: FastifyPluginAsync = async (fastify) => {
  const { config, issuers } = fastify
  const configured = config.BACKENDS ?? []

  let keys = backendSigningKeys(config)
  if (keys === undefined && configured.some((backend) => backend.mode === 'signed-assertion')) {
    // Never in production: loadConfig requires BACKEND_SIGNING_KEYS there.
    const dataDir = resolve(config.DEV_AUTH_DATA_DIR)
    keys = await loadOrCreateDevSigningKeys(dataDir)
    fastify.log.info({ dataDir }, 'signed-assertion backends: signing with a development key kept in the data folder (production needs BACKEND_SIGNING_KEYS)')
  }
  const signer = keys === undefined ? undefined : new AssertionSigner(config.PUBLIC_URL, keys)

  let exchanger: TokenExchanger | undefined
  if (configured.some((backend) => backend.mode === 'token-exchange')) {
    const byIssuer = new Map<string, ExchangeIssuer>()
    for (const [index, trusted] of issuers.entries()) {
      let client: ClientCredentials | undefined
      if (index === 0) {
        client = usesEmbeddedIssuer(config) ? await devGatewayClient(config) : primaryClient(config)
      } else {
        const extra = config.OAUTH_EXTRA_ISSUERS?.find((candidate) => candidate.issuer === trusted.issuer)
        client = extra?.clientId !== undefined && extra.clientSecret !== undefined ? { clientId: extra.clientId, clientSecret: extra.clientSecret } : undefined
        if (client === undefined) fastify.log.warn({ issuer: trusted.issuer }, 'users of this trusted issuer cannot use token-exchange backends: OAUTH_EXTRA_ISSUERS gives no clientId and clientSecret for it')
      }
      byIssuer.set(trusted.issuer, exchangeIssuer(trusted, client))
    }
    exchanger = new TokenExchanger({ issuers: byIssuer, post: inProcessPoster(fastify, config.PUBLIC_URL) })
    fastify.addHook('onClose', async () => { exchanger?.clear() })
  }

  fastify.decorate('backends', new Backends({ backends: configured, exchanger, signer }))
  for (const backend of configured) {
    fastify.log.info({ backend: backend.name, baseUrl: backend.baseUrl, mode: backend.mode }, `backend ${backend.name}: ${backend.baseUrl} (${backend.mode})`)
    if (config.NODE_ENV === 'development' && backend.name === DEV_NOTES_BACKEND.name && backend.baseUrl === DEV_NOTES_BACKEND.baseUrl) {
      fastify.log.info('The notes example: run `npm run example:notes` in another terminal, then call notes_add and notes_list as two different people')
    }
  }
}

export default fp(backendsPlugin, { name: 'backends', dependencies: ['config', 'oauth-issuers'] })
