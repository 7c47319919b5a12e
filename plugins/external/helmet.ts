/**
 * Security headers from helmet, for a JSON API. Responses may not load, frame or submit
 * anything (`Content-Security-Policy: default-src 'none'`, `X-Frame-Options: DENY`), leak
 * URLs in Referer (authorization codes travel in them), or be sniffed as another type; HSTS
 * is sent when PUBLIC_URL is https.
 *
 * helmet works out the headers once, at start-up: they do not depend on the request.
 * (@fastify/helmet builds helmet's middleware anew on every request, which measured at
 * about 6% of the CPU of an authenticated tool call.) They are written onto the raw
 * response in onRequest, as helmet itself writes them, so hijacked replies carry them
 * too, and a route that sets its own header — the development login and consent pages
 * set their own Content-Security-Policy — wins (test/plugins/helmet.test.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'
import type { FastifyInstance, FastifyPluginCallback } from 'fastify'

/** The headers `helmet(options)` sets on every response, worked out once. */
export function helmetHeaders (options: HelmetOptions): Array<[string, string]> {
  const headers = new Map<string, string>()
  const recorder = {
    setHeader (name: string, value: string | number | readonly string[]) { headers.set(name.toLowerCase(), String(value)) },
    removeHeader (name: string) { headers.delete(name.toLowerCase()) }
  }
  let failure: unknown
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => { failure = error })
  if (failure !== undefined) throw failure
  return [...headers]
}

export const autoConfig = (fastify: FastifyInstance): HelmetOptions => ({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  // Browsers ignore HSTS over plain http; not sending it there keeps local setups honest.
  strictTransportSecurity: fastify.config.PUBLIC_URL.startsWith('https:') ? { maxAge: 365 * 24 * 3600, includeSubDomains: true } : false,
  // Not sent: headers for browsing contexts and plug-ins this API's JSON never creates, or
  // obsolete ones (IE8 downloads, Flash and Acrobat policy files, the retired XSS auditor).
  // Every header costs bytes on every response.
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false
})

const securityHeaders: FastifyPluginCallback<HelmetOptions> = (fastify, options, done) => {
  const headers = helmetHeaders(options)
  fastify.addHook('onRequest', (_request, reply, next) => {
    const raw = reply.raw
    for (const [name, value] of headers) raw.setHeader(name, value)
    next()
  })
  done()
}

export default fp(securityHeaders, { name: 'helmet', dependencies: ['config'] })
