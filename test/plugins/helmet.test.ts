import Fastify, { type FastifyInstance } from 'fastify'
import { test } from 'tap'
import { loadConfig } from '../../lib/config.ts'
import configPlugin from '../../plugins/app/config.ts'
import fastifyHelmet, { autoConfig } from '../../plugins/external/helmet.ts'
import { build } from '../helper.ts'

const OAUTH_ISSUER = 'https://idp.example.test/'

test('JSON responses carry headers for an API that nothing may frame, embed or sniff', async (t) => {
  const { app } = await build(t, { env: { OAUTH_ISSUER, PUBLIC_URL: 'https://mcp.example.test' } })
  const response = await app.inject('/healthz')
  t.equal(response.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'")
  t.equal(response.headers['x-frame-options'], 'DENY')
  t.equal(response.headers['x-content-type-options'], 'nosniff')
  t.equal(response.headers['referrer-policy'], 'no-referrer', 'authorization codes travel in URLs')
  t.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains')
  t.equal(response.headers['x-powered-by'], undefined)
  t.equal(response.headers['cross-origin-resource-policy'], 'same-origin')
  for (const name of ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection']) {
    t.equal(response.headers[name], undefined, `no ${name}: for documents or obsolete browsers, not a JSON API`)
  }

  const mcp = await app.inject({ method: 'POST', url: '/mcp', payload: {} })
  t.equal(mcp.statusCode, 401)
  t.equal(mcp.headers['x-frame-options'], 'DENY', 'errors too')
})

test('HSTS is only sent when PUBLIC_URL is https', async (t) => {
  const { app } = await build(t, { env: { OAUTH_ISSUER, PUBLIC_URL: 'http://localhost:3000' } })
  t.equal((await app.inject('/healthz')).headers['strict-transport-security'], undefined)
})

test('a route that sets its own Content-Security-Policy (an HTML page) keeps it', async (t) => {
  const config = loadConfig({ NODE_ENV: 'test', OAUTH_ISSUER })
  const fastify = Fastify()
  await fastify.register(configPlugin, { config })
  await fastify.register(fastifyHelmet, (parent) => autoConfig(parent as FastifyInstance))
  const pagePolicy = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"
  fastify.get('/json', async () => ({ ok: true }))
  fastify.get('/page', async (_request, reply) => reply.header('content-security-policy', pagePolicy).type('text/html').send('<form method="post"></form>'))
  fastify.get('/raw', async (_request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': pagePolicy })
    reply.raw.end('<p>raw</p>')
  })
  t.after(() => fastify.close())

  t.match((await fastify.inject('/json')).headers['content-security-policy'], /^default-src 'none'/)
  for (const url of ['/page', '/raw']) {
    const response = await fastify.inject(url)
    t.equal(response.headers['content-security-policy'], pagePolicy, `${url}: one header, the route's`)
    t.equal(response.headers['x-frame-options'], 'DENY', `${url}: the other headers stay`)
  }
})
