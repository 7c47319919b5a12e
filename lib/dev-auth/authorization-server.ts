/**
 * The development authorization server as one encapsulated Fastify plugin: oidc-provider
 * (a Koa app) mounted at the issuer's path, plus the sign-in and consent pages.
 *
 * Register it without a prefix: every path comes from the issuer (`/oauth/...`, and the
 * RFC 8414 metadata at `/.well-known/oauth-authorization-server/oauth`). The app mounts it
 * from routes/oauth when OAUTH_ISSUER is unset; tests also run it alone, as an external IdP.
 */
import type { EventEmitter } from 'node:events'
import { parse as parseQuery } from 'node:querystring'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import createError from '@fastify/error'
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider'
import type { ToolSummary } from '../tool.ts'
import { FileStore } from './file-adapter.ts'
import { loadOrCreateKeys } from './keys.ts'
import {
  consentPage,
  describeRedirect,
  errorPage,
  formTargetOf,
  loginPage,
  pageCsp,
  PROVIDER_CSP,
  type ScopeChoice
} from './pages.ts'
import { createDevProvider, loadOidcProvider, mountPathOf, OIDC_SCOPES, type DevTokenExchange, type OidcProviderModule, type Provider } from './provider.ts'

export interface AuthorizationServerOptions {
  /** The issuer, e.g. `http://localhost:3000/oauth`: the origin URLs are built from, and the mount path. */
  readonly issuer: string
  /** Resource indicators clients may request (token audiences); the first is the default. */
  readonly resources: readonly string[]
  /** The tools, for the scopes to offer and what each one unlocks. */
  readonly tools: readonly ToolSummary[]
  /** Keys, clients, grants, sessions (absolute path). */
  readonly dataDir: string
  readonly accessTokenTtlSeconds: number
  /** How the consent page names what is being accessed. */
  readonly resourceName: string
  /** Replaces the dynamic import of oidc-provider (tests of the missing-package message). */
  readonly loadProvider?: () => Promise<OidcProviderModule>
  /** Replaces the fetch of Client ID Metadata Documents (tests: no internet). */
  readonly fetchClientMetadata?: typeof fetch
  /** Token exchange (RFC 8693) for `token-exchange` backends, by the MCP server's own client. */
  readonly tokenExchange?: DevTokenExchange | undefined
}

const InteractionExpiredError = createError(
  'MCPGW_DEV_AUTH_INTERACTION_EXPIRED',
  'This sign-in has expired, was finished already, or was started in another browser. Go back to the app and connect again.',
  400
)
const InteractionStepError = createError('MCPGW_DEV_AUTH_INTERACTION_STEP', 'This sign-in is at the %s step, not at %s: reload the page.', 400)
const ScopeNotOfferedError = createError('MCPGW_DEV_AUTH_SCOPE_NOT_OFFERED', 'The form grants scopes that were not requested: %s', 400)

const USERNAME = /^[^\p{C}]{1,100}$/u
/** Remembers the last name typed, to prefill the login page (sessions do not outlive an authorization). */
const NAME_COOKIE = 'mcpgw_dev_auth_name'

function lastNameFrom (cookieHeader: string | undefined): string | undefined {
  for (const pair of cookieHeader?.split(';') ?? []) {
    const at = pair.indexOf('=')
    if (at === -1 || pair.slice(0, at).trim() !== NAME_COOKIE) continue
    try {
      const name = decodeURIComponent(pair.slice(at + 1).trim())
      return USERNAME.test(name) ? name : undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/** Request-scoped details of a page being answered. */
interface InteractionView {
  uid: string
  promptName: string
  accountId: string | undefined
  clientId: string
  clientName: string
  redirectUri: unknown
  requestedScopes: string[]
  resources: string[]
}

function listOf (value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value]
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}

const authorizationServer: FastifyPluginAsync<AuthorizationServerOptions> = async (fastify, opts) => {
  const { issuer, resources, tools, dataDir, accessTokenTtlSeconds, resourceName } = opts
  const oidc = await loadOidcProvider(opts.loadProvider)
  const keys = await loadOrCreateKeys(dataDir)
  const store = new FileStore(dataDir)
  fastify.addHook('onClose', () => store.close())

  const toolScopes = [...new Set(tools.flatMap((tool) => tool.requiredScopes))]
  const log = fastify.log.child({ component: 'dev-authorization-server' })

  const renderError: NonNullable<Configuration['renderError']> = async (ctx, out) => {
    ctx.type = 'html'
    ctx.body = errorPage({
      title: 'The authorization request failed',
      message: 'The development authorization server could not go on with this request. The app that sent you here needs to fix it or start again.',
      details: Object.entries(out).map(([name, value]) => [name, String(value)])
    })
  }

  const provider = createDevProvider(oidc, {
    issuer, resources, scopes: toolScopes, keys, adapter: store.adapter, accessTokenTtlSeconds, renderError, fetch: opts.fetchClientMetadata, tokenExchange: opts.tokenExchange
  })
  watchProvider(provider, log)
  const mount = mountPathOf(issuer)
  const publicOrigin = new URL(issuer)
  // Koa builds absolute URLs from the request; with proxy mode on, the forwarded headers
  // set below pin them to the issuer's origin whatever Host the request came with.
  provider.proxy = true
  const callback = provider.callback()

  /** Hands the request to oidc-provider as `providerPath`, on the raw Node objects. */
  async function toProvider (request: FastifyRequest, reply: FastifyReply, providerPath: string): Promise<void> {
    reply.hijack()
    const req = request.raw
    const res = reply.raw
    // Headers set by earlier hooks (security headers, CORS, request id) go out with the provider's answer.
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) res.setHeader(name, value)
    }
    res.setHeader('content-security-policy', PROVIDER_CSP)
    const original = req.url ?? '/'
    const queryAt = original.indexOf('?')
    req.url = providerPath + (queryAt === -1 ? '' : original.slice(queryAt))
    // Express' convention, which oidc-provider reads to build its endpoint URLs under the mount path.
    Object.assign(req, { baseUrl: mount })
    req.headers['x-forwarded-proto'] = publicOrigin.protocol.slice(0, -1)
    req.headers['x-forwarded-host'] = publicOrigin.host
    try {
      await callback(req, res)
    } finally {
      req.url = original
    }
  }

  // oidc-provider reads request bodies itself: in this scope Fastify leaves them unread.
  await fastify.register(async function providerRoutes (bridge: FastifyInstance) {
    bridge.removeAllContentTypeParsers()
    bridge.addContentTypeParser('*', (_request, _payload, done) => { done(null) })

    bridge.route({
      method: ['GET', 'POST', 'OPTIONS'],
      url: `${mount}/*`,
      handler: (request, reply) => {
        const url = request.raw.url ?? '/'
        const queryAt = url.indexOf('?')
        return toProvider(request, reply, (queryAt === -1 ? url : url.slice(0, queryAt)).slice(mount.length) || '/')
      }
    })

    // Browser-based clients (MCP Inspector) register from another origin; oidc-provider has no CORS there.
    const registration = `${mount}/reg`
    bridge.options(registration, async (_request, reply) => reply.code(204).headers({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type, authorization, mcp-protocol-version',
      'access-control-max-age': '3600'
    }).send())
    bridge.post(registration, (request, reply) => {
      reply.header('access-control-allow-origin', '*')
      return toProvider(request, reply, '/reg')
    })

    // RFC 8414 §3.1: metadata of an issuer with a path is also found by inserting the well-known segment.
    if (mount !== '') {
      for (const document of ['oauth-authorization-server', 'openid-configuration']) {
        bridge.route({
          method: ['GET', 'OPTIONS'],
          url: `/.well-known/${document}${mount}`,
          handler: (request, reply) => toProvider(request, reply, `/.well-known/${document}`)
        })
      }
    }
  })

  await fastify.register(async function interactionPages (pages: FastifyInstance) {
    pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
      done(null, parseQuery(body as string))
    })
    pages.addHook('onRequest', async (_request, reply) => {
      reply.headers({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' })
    })
    pages.setErrorHandler(async (error: Error & { statusCode?: number }, request, reply) => {
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
      if (status === 500) request.log.error({ err: error }, 'development authorization server page failed')
      return reply.code(status).type('text/html; charset=utf-8').header('content-security-policy', pageCsp()).send(errorPage({
        title: status === 500 ? 'Something went wrong' : 'This page cannot continue',
        message: status === 500 ? 'The development authorization server failed; its log says why.' : error.message
      }))
    })

    async function viewOf (request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply): Promise<InteractionView> {
      let interaction
      try {
        interaction = await provider.interactionDetails(request.raw, reply.raw)
      } catch (error) {
        if (error instanceof oidc.errors.SessionNotFound) throw new InteractionExpiredError()
        throw error
      }
      if (interaction.uid !== request.params.uid) throw new InteractionExpiredError()
      const clientId = String(interaction.params.client_id)
      const client = await provider.Client.find(clientId)
      return {
        uid: interaction.uid,
        promptName: interaction.prompt.name,
        accountId: interaction.session?.accountId,
        clientId,
        clientName: client?.clientName ?? clientId,
        redirectUri: interaction.params.redirect_uri,
        requestedScopes: listOf(interaction.params.scope).flatMap((scope) => scope.split(' ')).filter((scope) => scope !== ''),
        resources: listOf(interaction.params.resource)
      }
    }

    function sendPage (reply: FastifyReply, status: number, html: string, view: InteractionView): FastifyReply {
      const target = formTargetOf(view.redirectUri)
      return reply.code(status).type('text/html; charset=utf-8').header('content-security-policy', pageCsp(target === undefined ? [] : [target])).send(html)
    }

    const actions = (uid: string) => ({ base: `${mount}/interaction/${encodeURIComponent(uid)}` })

    function renderLogin (request: FastifyRequest, reply: FastifyReply, view: InteractionView, status = 200, username?: string, error?: string): FastifyReply {
      const { base } = actions(view.uid)
      return sendPage(reply, status, loginPage({
        action: `${base}/login`,
        abortAction: `${base}/abort`,
        clientName: view.clientName,
        resourceName,
        returnsTo: describeRedirect(view.redirectUri),
        username: username ?? lastNameFrom(request.headers.cookie),
        error
      }), view)
    }

    /** Requested scopes this server offers, tool scopes first (registry order), then OpenID ones; and the rest. */
    function scopeChoices (view: InteractionView): { offered: ScopeChoice[], unknown: string[] } {
      const requested = new Set(view.requestedScopes)
      const offered: ScopeChoice[] = []
      for (const scope of toolScopes) {
        if (!requested.has(scope)) continue
        const unlocks = tools.filter((tool) => tool.requiredScopes.includes(scope)).map((tool) => `${tool.title} (${tool.name})`)
        offered.push({ scope, description: `Lets it use: ${unlocks.join(', ')}.`, checked: true })
      }
      const oidcDescriptions: Record<(typeof OIDC_SCOPES)[number], string> = {
        openid: 'Tells the app who you are (an ID token naming you).',
        offline_access: 'Stays connected: a refresh token lets the app renew its access without asking you again.'
      }
      for (const scope of OIDC_SCOPES) {
        if (requested.has(scope)) offered.push({ scope, description: oidcDescriptions[scope], checked: true })
      }
      const known = new Set(offered.map((choice) => choice.scope))
      return { offered, unknown: view.requestedScopes.filter((scope) => !known.has(scope)) }
    }

    function renderConsent (reply: FastifyReply, view: InteractionView): FastifyReply {
      const { base } = actions(view.uid)
      const { offered, unknown } = scopeChoices(view)
      return sendPage(reply, 200, consentPage({
        action: `${base}/consent`,
        abortAction: `${base}/abort`,
        clientName: view.clientName,
        resourceName,
        accountId: view.accountId ?? '(unknown)',
        returnsTo: describeRedirect(view.redirectUri),
        scopes: offered,
        unknownScopes: unknown
      }), view)
    }

    pages.get<{ Params: { uid: string } }>(`${mount}/interaction/:uid`, async (request, reply) => {
      const view = await viewOf(request, reply)
      if (view.promptName === 'login') return renderLogin(request, reply, view)
      if (view.promptName === 'consent') return renderConsent(reply, view)
      throw new InteractionStepError(view.promptName, 'sign-in or consent')
    })

    pages.post<{ Params: { uid: string }, Body: Record<string, unknown> | undefined }>(`${mount}/interaction/:uid/login`, async (request, reply) => {
      const view = await viewOf(request, reply)
      if (view.promptName !== 'login') throw new InteractionStepError(view.promptName, 'sign-in')
      const typed = request.body?.username
      const username = typeof typed === 'string' ? typed.trim() : ''
      if (!USERNAME.test(username)) {
        const error = username === '' ? 'Type a name to sign in as.' : 'Use at most 100 characters, without control characters.'
        return renderLogin(request, reply, view, 400, typeof typed === 'string' ? typed : '', error)
      }
      const returnTo = await provider.interactionResult(request.raw, reply.raw, { login: { accountId: username } }, { mergeWithLastSubmission: false })
      reply.header('set-cookie', `${NAME_COOKIE}=${encodeURIComponent(username)}; Path=${mount}/interaction; Max-Age=${30 * 24 * 60 * 60}; HttpOnly; SameSite=Lax${publicOrigin.protocol === 'https:' ? '; Secure' : ''}`)
      return reply.redirect(returnTo, 303)
    })

    pages.post<{ Params: { uid: string }, Body: Record<string, unknown> | undefined }>(`${mount}/interaction/:uid/consent`, async (request, reply) => {
      const view = await viewOf(request, reply)
      if (view.promptName !== 'consent') throw new InteractionStepError(view.promptName, 'consent')
      if (view.accountId === undefined) throw new InteractionExpiredError()
      const offered = scopeChoices(view).offered.map((choice) => choice.scope)
      const chosen = listOf(request.body?.scope)
      const strays = chosen.filter((scope) => !offered.includes(scope))
      if (strays.length > 0) throw new ScopeNotOfferedError(strays.join(' '))

      const granted = offered.filter((scope) => chosen.includes(scope))
      const declined = offered.filter((scope) => !chosen.includes(scope))
      const grant = new provider.Grant({ accountId: view.accountId, clientId: view.clientId })
      // Tool scopes are both OpenID scopes (so discovery and registration know them) and resource scopes.
      if (granted.length > 0) grant.addOIDCScope(granted.join(' '))
      if (declined.length > 0) grant.rejectOIDCScope(declined.join(' '))
      for (const resource of view.resources) {
        const grantedTools = granted.filter((scope) => toolScopes.includes(scope))
        const declinedTools = declined.filter((scope) => toolScopes.includes(scope))
        if (grantedTools.length > 0) grant.addResourceScope(resource, grantedTools.join(' '))
        if (declinedTools.length > 0) grant.rejectResourceScope(resource, declinedTools.join(' '))
      }
      const grantId = await grant.save()
      const returnTo = await provider.interactionResult(request.raw, reply.raw, { consent: { grantId } }, { mergeWithLastSubmission: true })
      return reply.redirect(returnTo, 303)
    })

    pages.post<{ Params: { uid: string } }>(`${mount}/interaction/:uid/abort`, async (request, reply) => {
      await viewOf(request, reply)
      const returnTo = await provider.interactionResult(request.raw, reply.raw, {
        error: 'access_denied',
        error_description: 'The user declined at the development authorization server'
      }, { mergeWithLastSubmission: false })
      return reply.redirect(returnTo, 303)
    })
  })
}

/** oidc-provider reports refusals as events; a developer wants to see why a client was turned away. */
function watchProvider (provider: Provider, log: FastifyInstance['log']): void {
  // Koa's `error` and the `*.error` events are plain EventEmitter events its typings do not list.
  const events = provider as unknown as EventEmitter
  // A listener replaces Koa's default of printing errors to stderr.
  events.on('error', (error: Error) => log.error({ err: error }, 'development authorization server failed'))
  events.on('server_error', (_ctx: KoaContextWithOIDC, error: Error) => log.error({ err: error }, 'development authorization server failed'))
  const refusals = [
    'authorization.error', 'grant.error', 'registration_create.error', 'registration_read.error', 'revocation.error',
    'discovery.error', 'jwks.error', 'end_session.error', 'pushed_authorization_request.error'
  ] as const
  for (const event of refusals) {
    events.on(event, (ctx: KoaContextWithOIDC, error: Error & { error?: string, error_description?: string, error_detail?: string, statusCode?: number }) => {
      if ((error.statusCode ?? 500) >= 500) return
      log.info({ event, path: ctx.path, error: error.error, description: error.error_description, detail: error.error_detail }, `development authorization server refused a request: ${error.error_description ?? error.error ?? error.message}`)
    })
  }
}

export default authorizationServer
