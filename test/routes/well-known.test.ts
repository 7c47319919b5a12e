/**
 * Discovery documents: Protected Resource Metadata for / and /mcp, the issuer's own
 * metadata mirrored (never invented), readable cross-origin.
 */
import { test } from 'tap'
import { build } from '../helper.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

test('Protected Resource Metadata for each MCP path', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL: 'https://MCP.example.com/', RESOURCE_NAME: 'Team tools' } })

  const suffixed = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' })
  t.equal(suffixed.statusCode, 200)
  t.same(JSON.parse(suffixed.body), {
    resource: 'https://mcp.example.com/mcp',
    authorization_servers: [issuer.issuer],
    scopes_supported: ['read:profile', 'execute:tools'],
    bearer_methods_supported: ['header'],
    resource_name: 'Team tools'
  }, 'canonical resource (lower-case host, no trailing slash) built from PUBLIC_URL')
  t.equal(suffixed.headers['access-control-allow-origin'], '*')

  const root = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } })
  t.equal(JSON.parse(root.body).resource, 'https://mcp.example.com', 'never built from request headers')

  const preflight = await app.inject({ method: 'OPTIONS', url: '/.well-known/oauth-protected-resource/mcp', headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' } })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], '*')
  t.match(preflight.headers['access-control-allow-headers'], /mcp-protocol-version/)
  t.match(preflight.headers['access-control-allow-methods'], /GET/)
})

test('the issuer\'s metadata is mirrored as it is, and only what it serves', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  issuer.metadataOverrides = { registration_endpoint: `${issuer.issuer}/register`, custom_field: 'kept' }
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer } })

  const oauth = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(oauth.statusCode, 200)
  const document = JSON.parse(oauth.body)
  t.equal(document.issuer, issuer.issuer)
  t.equal(document.registration_endpoint, `${issuer.issuer}/register`)
  t.equal(document.custom_field, 'kept', 'fields are passed through untouched')
  t.equal(oauth.headers['access-control-allow-origin'], '*')
  const oidc = await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })
  t.equal(JSON.parse(oidc.body).subject_types_supported[0], 'public', 'the OIDC document is the issuer\'s OIDC document')

  const fetches = issuer.metadataFetches
  await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(issuer.metadataFetches, fetches, 'cached')

  issuer.down = true
  const stale = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(stale.statusCode, 200, 'served from cache while the IdP is down')
})

test('a mirror the issuer does not serve is a 404, an unreachable issuer a 502', async (t) => {
  const { createServer } = await import('node:http')
  // An issuer that only publishes OIDC discovery.
  const server = createServer((request, response) => {
    if (request.url === '/.well-known/openid-configuration') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ issuer: `http://127.0.0.1:${(server.address() as { port: number }).port}`, jwks_uri: 'x' }))
    } else {
      response.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const issuerUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuerUrl } })

  const missing = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(missing.statusCode, 404)
  t.match(JSON.parse(missing.body).message, /does not publish oauth-authorization-server/)
  t.equal((await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).statusCode, 200)

  const gone = await build(t, { env: { OAUTH_ISSUER: 'http://127.0.0.1:9' } })
  const unreachable = await gone.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })
  t.equal(unreachable.statusCode, 502)
  t.match(JSON.parse(unreachable.body).message, /could not be fetched: http:\/\/127\.0\.0\.1:9\/\.well-known\/openid-configuration: unreachable/)
})

test('health probes', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer } })
  t.same(JSON.parse((await app.inject({ method: 'GET', url: '/healthz' })).body), { status: 'ok' })
  issuer.down = true
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness never depends on the IdP')
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503, 'readiness does')
})
