/**
 * Browsers and the MCP endpoint: the DNS-rebinding checks the MCP transport spec asks for
 * (Origin; Host when bound to loopback), and CORS for browser-based clients such as MCP
 * Inspector on an allowed origin.
 *
 * The checks use the MCP SDK's validators, which compare hostnames only (no scheme, no
 * port). That is enough here: the endpoint's credential is a Bearer token a page cannot
 * obtain by itself (no cookies), so the threat is a rebinding page on a foreign hostname,
 * which a hostname comparison refuses; and on a laptop it lets MCP Inspector
 * (http://localhost:6274) reach http://localhost:3000 without configuration.
 *
 * CORS is answered here rather than by @fastify/cors, which would add an `OPTIONS *` route
 * matching every path of the service (and clash with another scope's registration).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { localhostAllowedHostnames, validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server'
import { HostNotAllowedError, OriginNotAllowedError } from '../errors.ts'

/** Request headers MCP clients send; `Mcp-Param-*` (2026-07-28 parameter headers) are allowed by prefix. */
const ALLOWED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id', 'last-event-id']
/** `Mcp-Param-{Name}`, Name an RFC 9110 token (as the SDK's codec requires), lower-cased as browsers send it. */
const MCP_PARAM_HEADER = /^mcp-param-[!#$%&'*+\-.^_`|~0-9a-z]+$/
/** Response headers a browser client must be able to read: the auth challenge and the rate-limit state. */
const EXPOSED_RESPONSE_HEADERS = 'WWW-Authenticate, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset'
/** GET and DELETE answer 405, which a browser client must see as such, not as a CORS failure. */
const ALLOWED_METHODS = 'GET, POST, DELETE'
/** Chromium caps preflight caching at two hours. */
const PREFLIGHT_MAX_AGE_S = '7200'

export function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)
}

/** onRequest: a present Origin must be allowed (absent passes: server-side clients send none). */
export function originCheck (allowList: readonly string[]) {
  const allowed = [...allowList]
  return async function checkOrigin (request: FastifyRequest): Promise<void> {
    const result = validateOriginHeader(request.headers.origin, allowed)
    if (!result.ok) throw new OriginNotAllowedError(`Origin ${request.headers.origin ?? ''} is not allowed`)
  }
}

/** onRequest: the Host must name this server (localhost-class names and PUBLIC_URL's host). */
export function hostCheck (publicUrl: string) {
  const allowed = [...new Set([...localhostAllowedHostnames(), new URL(publicUrl).hostname])]
  return async function checkHost (request: FastifyRequest): Promise<void> {
    const result = validateHostHeader(request.headers.host, allowed)
    if (!result.ok) throw new HostNotAllowedError(result.message)
  }
}

function vary (reply: FastifyReply, name: string): void {
  const current = reply.getHeader('vary')
  reply.header('vary', current === undefined ? name : `${String(current)}, ${name}`)
}

/** onRequest, after originCheck: lets the (allowed) origin read the response. */
export async function allowCrossOrigin (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  vary(reply, 'Origin')
  const { origin } = request.headers
  if (origin === undefined) return
  reply.header('access-control-allow-origin', origin)
  reply.header('access-control-expose-headers', EXPOSED_RESPONSE_HEADERS)
}

/** The OPTIONS handler: a CORS preflight, or a plain OPTIONS request. */
export async function answerPreflight (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  reply.header('allow', `${ALLOWED_METHODS}, OPTIONS`)
  const method = request.headers['access-control-request-method']
  if (request.headers.origin === undefined || method === undefined) return reply.code(204).send()
  // Echo what was asked for when it is allowed: the list of Mcp-Param-* names is open-ended.
  const requested = String(request.headers['access-control-request-headers'] ?? '').split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '')
  const extra = requested.filter((name) => MCP_PARAM_HEADER.test(name))
  vary(reply, 'Access-Control-Request-Method, Access-Control-Request-Headers')
  return reply.code(204).headers({
    'access-control-allow-methods': ALLOWED_METHODS,
    'access-control-allow-headers': [...ALLOWED_REQUEST_HEADERS, ...extra].join(', '),
    'access-control-max-age': PREFLIGHT_MAX_AGE_S
  }).send()
}
