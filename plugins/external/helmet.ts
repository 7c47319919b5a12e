/**
 * @fastify/helmet: security headers for a JSON API. Responses may not load, frame or submit
 * anything (`Content-Security-Policy: default-src 'none'`, `X-Frame-Options: DENY`), leak
 * URLs in Referer (authorization codes travel in them), or be sniffed as another type; HSTS
 * is sent when PUBLIC_URL is https.
 *
 * Pages that render HTML (the development login and consent pages) set their own
 * Content-Security-Policy with `reply.header()`: helmet writes its headers onto the raw
 * response in onRequest, and Node lets headers passed at write time (Fastify's) replace
 * those, so the route's policy is the one sent (test/plugins/helmet.test.ts). The route
 * option `helmet: { contentSecurityPolicy: … }` works as well.
 */
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

export const autoConfig = (fastify: FastifyInstance): FastifyHelmetOptions => ({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  // Browsers ignore HSTS over plain http; not sending it there keeps local setups honest.
  hsts: fastify.config.PUBLIC_URL.startsWith('https:') ? { maxAge: 365 * 24 * 3600, includeSubDomains: true } : false
})

export default fastifyHelmet
