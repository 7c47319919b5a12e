import { test } from 'tap'
import { ConfigError, embeddedIssuer, loadConfig, usesEmbeddedIssuer } from '../../lib/config.ts'

test('without OAUTH_ISSUER, outside production, the issuer is the embedded server at PUBLIC_URL/oauth', async (t) => {
  const laptop = loadConfig({})
  t.equal(laptop.OAUTH_ISSUER, 'http://localhost:3000/oauth')
  t.ok(usesEmbeddedIssuer(laptop))
  t.equal(loadConfig({ PORT: '4000' }).OAUTH_ISSUER, 'http://localhost:4000/oauth', 'it follows PORT')
  const tunnel = loadConfig({ PUBLIC_URL: 'https://Dev-Box.trycloudflare.com/' })
  t.equal(tunnel.OAUTH_ISSUER, 'https://dev-box.trycloudflare.com/oauth', 'and the normalised PUBLIC_URL')
  t.equal(embeddedIssuer('http://127.0.0.1:1234'), 'http://127.0.0.1:1234/oauth')
  t.equal(laptop.DEV_AUTH_DATA_DIR, '.data/dev-auth')
  t.equal(laptop.DEV_AUTH_TOKEN_TTL_S, 3600)
})

test('with OAUTH_ISSUER set, that identity provider is used', async (t) => {
  const config = loadConfig({ OAUTH_ISSUER: 'https://example.auth0.com/' })
  t.equal(config.OAUTH_ISSUER, 'https://example.auth0.com/')
  t.notOk(usesEmbeddedIssuer(config))
})

test('production never runs the embedded server', async (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), new ConfigError('OAUTH_ISSUER',
    "OAUTH_ISSUER is missing: set it to your identity provider's issuer, e.g. OAUTH_ISSUER=https://example.auth0.com/ (the embedded development authorization server never runs with NODE_ENV=production)"))
  t.throws(() => loadConfig({ NODE_ENV: 'production', PUBLIC_URL: 'https://mcp.example.com', OAUTH_ISSUER: 'https://mcp.example.com/oauth' }),
    { name: 'ConfigError', variable: 'OAUTH_ISSUER', message: /is this server's own \/oauth.*never runs with NODE_ENV=production/ })
  t.equal(loadConfig({ NODE_ENV: 'production', OAUTH_ISSUER: 'https://example.auth0.com/' }).OAUTH_ISSUER, 'https://example.auth0.com/')
})

test('the token lifetime is bounded', async (t) => {
  t.throws(() => loadConfig({ DEV_AUTH_TOKEN_TTL_S: '10' }), { name: 'ConfigError', message: /DEV_AUTH_TOKEN_TTL_S="10" is invalid: expected an integer from 60 to 86400/ })
})
