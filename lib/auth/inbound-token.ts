/**
 * The raw access token of an authenticated request, kept aside for exactly one reader.
 *
 * Token exchange (RFC 8693) needs the inbound token as its `subject_token`, and the
 * outgoing-request guard needs it to recognise it. Nothing else may hold it: it is not on
 * `request.caller` (tools see the Caller, and the verified-token cache shares Callers
 * between requests), not on the Exchange or anything a tool handler receives, and not in
 * the SDK's AuthInfo. So the auth plugin files it here, in a WeakMap keyed by the request
 * (gone with the request, invisible to anyone holding only the request), and the MCP
 * route takes it out once, into that request's BackendSession, where it lives in a
 * private field.
 */
import type { FastifyRequest } from 'fastify'

const inboundTokens = new WeakMap<FastifyRequest, string>()

/** Called by the auth plugin once the token is verified. */
export function keepInboundToken (request: FastifyRequest, token: string): void {
  inboundTokens.set(request, token)
}

/** The verified token of `request`, handed out once: a second call gets undefined. */
export function takeInboundToken (request: FastifyRequest): string | undefined {
  const token = inboundTokens.get(request)
  inboundTokens.delete(request)
  return token
}
