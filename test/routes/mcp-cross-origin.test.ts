/**
 * The MCP endpoint and browsers: the Origin check (DNS rebinding), the Host check when
 * bound to loopback, CORS preflights and readable headers — over inject, then in a real
 * Chromium that loads pages from allowed and foreign origins.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type Test } from 'tap'
import { chromium } from 'playwright-core'
import { build } from '../helper.ts'
import { callTool } from '../support/mcp-http.ts'
import { issuerFor } from '../support/test-issuer.ts'

const PUBLIC_URL = 'https://mcp.example.test'
const AUDIENCE = `${PUBLIC_URL}/mcp`


test('Origin: absent passes, allowed passes with CORS headers, anything else is refused with 403 before authentication', async (t) => {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, ALLOWED_ORIGINS: 'https://inspector.example.test' } })
  const token = issuer.mint(AUDIENCE)

  const serverSide = await callTool(app, { token })
  t.equal(serverSide.statusCode, 200, 'server-side clients send no Origin')
  t.equal(serverSide.headers['access-control-allow-origin'], undefined)

  for (const origin of [PUBLIC_URL, 'https://inspector.example.test', 'https://inspector.example.test:8443']) {
    const response = await callTool(app, { token, headers: { origin } })
    t.equal(response.statusCode, 200, `${origin} is allowed`)
    t.equal(response.headers['access-control-allow-origin'], origin)
    t.match(response.headers.vary, /Origin/)
    t.match(response.headers['access-control-expose-headers'], /WWW-Authenticate.*RateLimit-Remaining/)
  }

  for (const origin of ['https://evil.example', 'null', 'https://mcp.example.test.evil.example', 'not a url']) {
    for (const path of ['/mcp', '/']) {
      const response = await callTool(app, { path, headers: { origin } })
      t.equal(response.statusCode, 403, `${origin} on ${path} is refused, without a token too`)
      t.equal(response.headers['access-control-allow-origin'], undefined)
      t.equal(response.headers['www-authenticate'], undefined, 'refused before authentication')
      t.match(response.json(), { jsonrpc: '2.0', id: null, error: { code: -32000, message: /is not allowed.*ALLOWED_ORIGINS/ } })
    }
  }
})

test('CORS preflight of the MCP endpoint answers allowed origins with the MCP headers, and refuses others', async (t) => {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, ALLOWED_ORIGINS: 'http://localhost:6274' } })

  for (const url of ['/mcp', '/']) {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,mcp-protocol-version,mcp-method,mcp-name,mcp-param-region,x-unknown'
      }
    })
    t.equal(preflight.statusCode, 204, url)
    t.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:6274')
    t.match(preflight.headers['access-control-allow-methods'], /POST/)
    t.match(preflight.headers['access-control-allow-methods'], /GET.*DELETE/, 'so a browser sees the 405s as such')
    const allowed = String(preflight.headers['access-control-allow-headers']).split(', ')
    for (const name of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-param-region']) t.ok(allowed.includes(name), `allows ${name}`)
    t.notOk(allowed.includes('x-unknown'), 'does not echo arbitrary headers')
    t.ok(Number(preflight.headers['access-control-max-age']) > 0)
    t.match(preflight.headers.vary, /Origin/)
  }

  const foreign = await app.inject({ method: 'OPTIONS', url: '/mcp', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.equal(foreign.statusCode, 403)
  t.equal(foreign.headers['access-control-allow-origin'], undefined)

  const plain = await app.inject({ method: 'OPTIONS', url: '/mcp' })
  t.equal(plain.statusCode, 204, 'a plain OPTIONS request')
  t.equal(plain.headers.allow, 'GET, POST, DELETE, OPTIONS')

  const unauthenticated = await callTool(app, { headers: { origin: 'http://localhost:6274' } })
  t.equal(unauthenticated.statusCode, 401)
  t.equal(unauthenticated.headers['access-control-allow-origin'], 'http://localhost:6274', 'a browser client can read the challenge')
  t.equal(unauthenticated.headers['access-control-expose-headers'], 'WWW-Authenticate, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset',
    'the challenge adds to the CORS list instead of replacing it: a browser can still read Retry-After on a 429')

  const discovery = await app.inject({ method: 'OPTIONS', url: '/.well-known/oauth-protected-resource/mcp', headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'GET' } })
  t.equal(discovery.statusCode, 204, 'the discovery documents keep their own CORS, open to any origin')
  t.equal(discovery.headers['access-control-allow-origin'], '*')
})

test('bound to loopback, the MCP endpoint answers only to its own host names', async (t) => {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, HOST: '127.0.0.1' } })
  const token = issuer.mint(AUDIENCE)
  for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'mcp.example.test']) {
    t.equal((await callTool(app, { token, headers: { host } })).statusCode, 200, `Host: ${host}`)
  }
  const rebound = await callTool(app, { token, headers: { host: 'attacker.example:3000' } })
  t.equal(rebound.statusCode, 403, 'a rebound name is refused')
  t.match(rebound.json(), { error: { message: /Invalid Host: attacker\.example.*loopback/ } })

  const { app: open } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, HOST: '0.0.0.0' } })
  t.equal((await callTool(open, { token, headers: { host: 'attacker.example:3000' } })).statusCode, 200, 'not checked when bound to all interfaces (behind a load balancer)')
})

/** Serves one page whose script is run by Chromium on the page's origin. */
async function pageServer (t: Test): Promise<number> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' })
    response.end('<!doctype html><title>client</title>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  return (server.address() as AddressInfo).port
}

test('in Chromium, a page on an allowed origin calls the MCP endpoint and reads its headers; a foreign page cannot', async (t) => {
  const issuer = await issuerFor(t)
  const pagePort = await pageServer(t)
  const { app, url } = await build(t, { listen: true, env: { OAUTH_ISSUER: issuer.issuer, ALLOWED_ORIGINS: `http://inspector.test:${pagePort}` } })
  t.ok(app.server.listening)
  const token = issuer.mint(`${url}/mcp`)

  // Two names for the loopback page server: one allowed, one not.
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--host-resolver-rules=MAP inspector.test 127.0.0.1, MAP evil.test 127.0.0.1'] })
  t.after(() => browser.close())
  const page = await browser.newPage()

  const call = (withToken: boolean) => page.evaluate(async ({ endpoint, bearer }) => {
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
          ...(bearer !== undefined && { authorization: `Bearer ${bearer}` })
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'from a browser' } } })
      })
      return { status: response.status, challenge: response.headers.get('www-authenticate'), remaining: response.headers.get('ratelimit-remaining'), body: await response.text() }
    } catch (error) {
      return { error: String(error) }
    }
  }, { endpoint: `${url}/mcp`, bearer: withToken ? token : undefined })

  await page.goto(`http://inspector.test:${pagePort}/`)
  const challenged = await call(false)
  t.equal(challenged.status, 401)
  t.match(challenged.challenge, /^Bearer resource_metadata=/, 'the page can read WWW-Authenticate')
  const answered = await call(true)
  t.equal(answered.status, 200, 'the preflight let Authorization and MCP-Protocol-Version through')
  t.match(answered.body, /from a browser/)
  t.match(answered.remaining, /^\d+$/, 'the page can read the rate-limit headers')

  await page.goto(`http://evil.test:${pagePort}/`)
  const foreign = await call(true)
  t.match(foreign.error, /Failed to fetch/, 'a foreign page gets nothing')
})
