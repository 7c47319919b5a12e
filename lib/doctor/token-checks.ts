/**
 * `--token`: what this server does with a token, found by asking it. The token goes to
 * POST /mcp of an app built exactly as production builds it (same plugins, same
 * configuration; injected, never listening), so the verdict and its reason are the
 * server's own. `whoami` through the same path then lists what each tool needs. The
 * doctor only adds the decoded claims and the fix for the provider.
 */
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.ts'
import { missingScopes } from '../caller.ts'
import { audiencesOf, scopesOf } from '../auth/token-claims.ts'
import { decodeJwt } from '../auth/token-diagnosis.ts'
import type { ToolRegistry } from '../tool-registry.ts'
import * as advice from './advice.ts'
import type { Provider } from './providers.ts'
import type { Check } from './report.ts'

const SECTION = 'Token'

export interface TokenCheckOptions {
  readonly app: FastifyInstance
  readonly config: Config
  readonly registry: ToolRegistry
  readonly trustedIssuers: readonly string[]
  /** The provider of an issuer (undefined when not recognised). */
  readonly providerFor: (issuer: string | undefined) => Provider | undefined
  readonly advice: advice.AdviceContext
}

interface RpcAnswer { status: number, headers: Record<string, unknown>, body: Record<string, unknown> | undefined }

interface Permission { tool: string, allowed: boolean, requiredScopes: string[], missingScopes: string[] }

interface Identity { sub: unknown, issuer: unknown, clientId: unknown, scopes: string[], expiresInSeconds: unknown, permissions: Permission[] }

function isIdentity (value: unknown): value is Identity {
  const candidate = value as Partial<Identity> | undefined
  return Array.isArray(candidate?.scopes) && Array.isArray(candidate.permissions) &&
    candidate.permissions.every((p) => typeof p?.tool === 'string' && typeof p.allowed === 'boolean' && Array.isArray(p.requiredScopes) && Array.isArray(p.missingScopes))
}

function relative (seconds: number): string {
  const abs = Math.abs(seconds)
  const amount = abs < 120 ? `${abs} s` : abs < 7200 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`
  return seconds >= 0 ? `in ${amount}` : `${amount} ago`
}

/** The claims worth showing, one per line; the token itself is never printed. */
function describe (token: string, decoded: ReturnType<typeof decodeJwt>): string[] {
  if (decoded === undefined) {
    const parts = token.split('.').length
    return [parts === 5 ? 'format   JWE (encrypted: 5 parts), claims unreadable' : `format   not a JWT (${parts} part${parts === 1 ? '' : 's'}, ${token.length} characters): opaque to this server`]
  }
  const { header, payload } = decoded
  const now = Math.floor(Date.now() / 1000)
  const scopes = [...scopesOf(payload)]
  const client = payload.azp ?? payload.client_id ?? payload.appid
  const lines = [
    `issuer   ${JSON.stringify(payload.iss)}`,
    `audience ${audiencesOf(payload).join(', ') || '(none)'}`,
    `subject  ${JSON.stringify(payload.sub)}`,
    ...(client === undefined ? [] : [`client   ${JSON.stringify(client)}`]),
    `scopes   ${scopes.length > 0 ? scopes.join(' ') : '(none)'}`
  ]
  if (typeof payload.exp === 'number') lines.push(`expires  ${new Date(payload.exp * 1000).toISOString()} (${relative(payload.exp - now)})`)
  lines.push(`signed   ${JSON.stringify(header.alg)}${header.kid === undefined ? ', no kid' : `, kid ${JSON.stringify(header.kid)}`}`)
  return lines
}

function parse (payload: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(payload) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

export async function checkToken (token: string, options: TokenCheckOptions): Promise<Check[]> {
  const { app, config, registry } = options
  const decoded = decodeJwt(token)
  const claims = decoded?.payload
  const provider = options.providerFor(typeof claims?.iss === 'string' ? claims.iss : undefined)
  const details = describe(token, decoded)

  let nextId = 1
  const rpc = async (method: string, params: Record<string, unknown>): Promise<RpcAnswer> => {
    const response = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: {
        host: new URL(config.PUBLIC_URL).host,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
        authorization: `Bearer ${token}`
      },
      payload: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params })
    })
    return { status: response.statusCode, headers: response.headers, body: parse(response.body) }
  }

  // tools/list needs no scope: its answer is purely the authentication verdict.
  const verdict = await rpc('tools/list', {})
  if (verdict.status !== 200) {
    const body = verdict.body ?? {}
    const reason = String(body.error_description ?? body.message ?? `HTTP ${verdict.status}`).replace(/^The access token was rejected: /, '')
    const challenge = verdict.headers['www-authenticate']
    const problem = advice.tokenProblem(verdict.status, reason)
    const what = verdict.status === 503 ? 'The server cannot verify tokens right now' : 'The server refuses this token'
    return [{
      id: 'token',
      section: SECTION,
      status: 'fail',
      message: `${what} (HTTP ${verdict.status}${typeof body.error === 'string' && verdict.status !== 503 ? `, ${body.error}` : ''}): ${reason}.`,
      fix: advice.tokenFix(provider, options.advice, { problem, claims, audiences: claims === undefined ? [] : audiencesOf(claims), trustedIssuers: options.trustedIssuers }),
      // The description is already the message above: the rest is what clients act on.
      details: [...details, ...(typeof challenge === 'string' ? [`answer   WWW-Authenticate: ${challenge.replace(/, error_description="[^"]*"/, '')}`] : [])]
    }]
  }

  // Accepted. Per-tool permissions from whoami when it can answer (the server's view of
  // the granted scopes, whatever the token format); from the decoded claims otherwise.
  const me = registry.get('whoami') === undefined ? undefined : await rpc('tools/call', { name: 'whoami', arguments: {} })
  const result = me?.status === 200 ? me.body?.result as { structuredContent?: unknown, isError?: boolean } | undefined : undefined
  const identity = result?.isError !== true && isIdentity(result?.structuredContent) ? result.structuredContent : undefined

  const checks: Check[] = [{
    id: 'token',
    section: SECTION,
    status: 'pass',
    message: `The server accepts this token${identity === undefined ? '' : ` for ${JSON.stringify(identity.sub)}${typeof identity.clientId === 'string' ? ` (client ${identity.clientId})` : ''}`}`,
    details
  }]

  let permissions: Permission[] | undefined = identity?.permissions
  const source = identity === undefined ? 'the token\'s claims' : 'whoami'
  if (permissions === undefined && claims !== undefined) {
    const held = scopesOf(claims)
    permissions = registry.tools.map((tool) => {
      const missing = missingScopes(tool.requiredScopes, held)
      return { tool: tool.name, allowed: missing.length === 0, requiredScopes: [...tool.requiredScopes], missingScopes: missing }
    })
  }
  if (permissions === undefined) {
    checks.push({ id: 'tools', section: SECTION, status: 'skip', message: 'Tools: the token is opaque and whoami is not available, so the granted scopes are unknown' })
    return checks
  }
  for (const permission of permissions) {
    checks.push(permission.allowed
      ? { id: `tool:${permission.tool}`, section: SECTION, status: 'pass', message: `${permission.tool}: allowed (needs ${permission.requiredScopes.join(' ')})` }
      : {
          id: `tool:${permission.tool}`,
          section: SECTION,
          status: 'warn',
          message: `${permission.tool}: not allowed, the token lacks ${permission.missingScopes.join(' ')} (per ${source}).`,
          fix: advice.toolScopeFix(provider, permission.missingScopes)
        })
  }
  if (!permissions.some((permission) => permission.allowed)) {
    checks.push({ id: 'tools', section: SECTION, status: 'fail', message: 'No tool is allowed with this token\'s scopes: clients will list no tools.', fix: advice.toolScopeFix(provider, registry.scopes) })
  }
  return checks
}
