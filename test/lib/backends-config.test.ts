/** BACKENDS, BACKEND_SIGNING_KEYS and OAUTH_CLIENT_PRIVATE_KEY: read at boot, every mistake named. */
import { test } from 'tap'
import { ConfigError, DEV_NOTES_BACKEND, backendSigningKeys, clientPrivateKey, loadConfig } from '../../lib/config.ts'
import { generatePrivateJwk } from '../../lib/backends/jws.ts'

const external = { OAUTH_ISSUER: 'https://idp.example/', OAUTH_CLIENT_ID: 'mcp-gateway', OAUTH_CLIENT_SECRET: 's3cret' }
const notes = { name: 'notes', baseUrl: 'https://notes.internal/api', audience: 'https://notes.internal', scopes: ['notes:read', 'notes:write'], mode: 'token-exchange' }
const backends = (...entries: unknown[]) => JSON.stringify(entries)

test('a valid BACKENDS is read as given', async (t) => {
  const config = loadConfig({ ...external, BACKENDS: backends(notes, { name: 'crm', baseUrl: 'http://localhost:8080', audience: 'crm', mode: 'signed-assertion', timeoutMs: 2500, retries: 0, resource: 'https://crm.internal/' }) })
  t.same(config.BACKENDS, [notes, { name: 'crm', baseUrl: 'http://localhost:8080', audience: 'crm', mode: 'signed-assertion', timeoutMs: 2500, retries: 0, resource: 'https://crm.internal/' }])
  t.same(loadConfig({ ...external, BACKENDS: '[]' }).BACKENDS, [], 'an empty list: no backends')
})

test('in development with nothing configured, the notes example is the backend', async (t) => {
  t.same(loadConfig({}).BACKENDS, [DEV_NOTES_BACKEND], '`npm start` + `npm run example:notes` work together')
  t.same(DEV_NOTES_BACKEND, { name: 'notes', baseUrl: 'http://localhost:4000', audience: 'http://localhost:4000', scopes: ['notes:read', 'notes:write'], mode: 'token-exchange' })
  t.same(loadConfig({ BACKENDS: '[]' }).BACKENDS, [], 'BACKENDS=[] turns it off')
  t.equal(loadConfig({ NODE_ENV: 'test' }).BACKENDS, undefined, 'not in tests')
  t.equal(loadConfig({ OAUTH_ISSUER: 'https://idp.example/' }).BACKENDS, undefined, 'not with an identity provider of your own (it would need a client there)')
  t.equal(loadConfig(external).BACKENDS, undefined)
})

test('mistakes in BACKENDS name the entry and the field', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['{not json', 'BACKENDS', /^BACKENDS is not valid JSON \(.*\): expected a JSON array, see the README$/],
    ['{"name":"notes"}', 'BACKENDS', /^BACKENDS is invalid: expected a JSON array \(see the README\)\.$/],
    [backends({ ...notes, mode: undefined }), 'BACKENDS', /^BACKENDS\[0\] is invalid: mode is required\.$/],
    [backends(notes, { ...notes, name: 'crm', mode: 'passthrough' }), 'BACKENDS', /^BACKENDS\[1\]\.mode is invalid: must be one of token-exchange, signed-assertion\.$/],
    [backends({ ...notes, token: 'x' }), 'BACKENDS', /^BACKENDS\[0\]\.token is not an accepted field\.$/],
    [backends({ ...notes, timeoutMs: 10 }), 'BACKENDS', /^BACKENDS\[0\]\.timeoutMs is invalid: must be >= 100\.$/],
    [backends({ ...notes, retries: 9 }), 'BACKENDS', /^BACKENDS\[0\]\.retries is invalid: must be <= 5\.$/],
    [backends({ ...notes, name: 'Notes API' }), 'BACKENDS', /^BACKENDS\[0\]\.name "Notes API" must be lowercase letters, digits, - and _, starting with a letter/],
    [backends(notes, notes), 'BACKENDS', /^BACKENDS\[1\]\.name notes is listed twice/],
    [backends({ ...notes, baseUrl: 'notes.internal' }), 'BACKENDS', /^BACKENDS\[0\]\.baseUrl "notes\.internal" is not an http\(s\) URL/],
    [backends({ ...notes, baseUrl: 'https://notes.internal/?key=1' }), 'BACKENDS', /^BACKENDS\[0\]\.baseUrl must not carry a query, a fragment or credentials/],
    [backends({ ...notes, baseUrl: 'https://user:pw@notes.internal/' }), 'BACKENDS', /must not carry a query, a fragment or credentials/],
    [backends({ ...notes, resource: 'https://notes.internal/#x' }), 'BACKENDS', /^BACKENDS\[0\]\.resource .* must be an absolute URI without a fragment \(RFC 8707\)$/],
    [backends({ ...notes, scopes: ['notes read'] }), 'BACKENDS', /^BACKENDS\[0\]\.scopes: "notes read" is not a valid OAuth scope$/]
  ]
  for (const [value, variable, message] of cases) {
    const error = t.throws(() => loadConfig({ ...external, BACKENDS: value }), value) as ConfigError
    t.ok(error instanceof ConfigError)
    t.equal(error.variable, variable)
    t.match(error.message, message)
    t.notMatch(error.message, /\n/, 'one line')
  }
})

test('what each mode needs', async (t) => {
  const signed = backends({ ...notes, mode: 'signed-assertion' })
  const production = { ...external, NODE_ENV: 'production' }
  t.throws(() => loadConfig({ ...production, BACKENDS: signed }), {
    name: 'ConfigError', variable: 'BACKEND_SIGNING_KEYS', message: /BACKEND_SIGNING_KEYS is missing: BACKENDS\[0\] \(notes\) uses signed-assertion, and in production every instance must sign with the same configured keys/
  })
  const keys = JSON.stringify({ keys: [generatePrivateJwk('ES256', 'k1')] })
  t.same(loadConfig({ ...production, BACKENDS: signed, BACKEND_SIGNING_KEYS: keys }).BACKENDS?.[0]?.mode, 'signed-assertion')
  t.ok(loadConfig({ ...external, BACKENDS: signed }), 'outside production a key is generated')
  t.throws(() => loadConfig({ ...production, BACKENDS: backends({ ...notes, baseUrl: 'http://notes.internal' }) }), { message: /must be an https URL in production/ })
  t.ok(loadConfig({ ...production, BACKENDS: backends({ ...notes, baseUrl: 'http://127.0.0.1:4000' }) }), 'plain http on loopback (a sidecar) is fine')

  t.throws(() => loadConfig({ OAUTH_ISSUER: 'https://idp.example/', BACKENDS: backends(notes) }), {
    variable: 'OAUTH_CLIENT_ID', message: /OAUTH_CLIENT_ID is missing: BACKENDS\[0\] \(notes\) uses token-exchange, for which this server authenticates at the IdP as its own confidential client/
  })
  t.throws(() => loadConfig({ OAUTH_ISSUER: 'https://idp.example/', OAUTH_CLIENT_ID: 'gw', BACKENDS: backends(notes) }), {
    variable: 'OAUTH_CLIENT_SECRET', message: /OAUTH_CLIENT_ID has neither OAUTH_CLIENT_SECRET nor OAUTH_CLIENT_PRIVATE_KEY/
  })
  t.ok(loadConfig({ OAUTH_ISSUER: 'https://idp.example/', OAUTH_CLIENT_ID: 'gw', OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(generatePrivateJwk('RS256')), BACKENDS: backends(notes) }), 'private_key_jwt instead of a secret')
  t.ok(loadConfig({ BACKENDS: backends(notes) }), 'the embedded development server provisions the client itself')
})

test('BACKEND_SIGNING_KEYS: a private JWK set, each key checked, no key material in any message', async (t) => {
  const rsa = generatePrivateJwk('RS256', 'rsa-1')
  const ec = generatePrivateJwk('ES256', 'ec-1')
  const ed = generatePrivateJwk('EdDSA', 'ed-1')
  const keys = backendSigningKeys(loadConfig({ ...external, BACKEND_SIGNING_KEYS: JSON.stringify({ keys: [ec, rsa, ed] }) }))
  t.same(keys?.map((key) => [key.kid, key.alg]), [['ec-1', 'ES256'], ['rsa-1', 'RS256'], ['ed-1', 'EdDSA']], 'every kind, the first one signing')
  t.same(keys?.[0]?.publicJwk.d, undefined, 'only public halves are published')
  t.equal(backendSigningKeys(loadConfig(external)), undefined)

  const { d, ...publicOnly } = rsa
  const cases: Array<[unknown, RegExp]> = [
    ['"a string"', /^BACKEND_SIGNING_KEYS is invalid: expected a JSON object \(see the README\)\.$/],
    [{}, /^BACKEND_SIGNING_KEYS is invalid: keys is required\.$/],
    [{ keys: [] }, /^BACKEND_SIGNING_KEYS\.keys is invalid: must not have fewer than 1 items\.$/],
    [{ keys: [{ ...rsa, kid: undefined }] }, /^BACKEND_SIGNING_KEYS\.keys\[0\] has no "kid"/],
    [{ keys: [ec, publicOnly] }, /^BACKEND_SIGNING_KEYS\.keys\[1\] \(kid rsa-1\): it is not a private key \(no "d"\)/],
    [{ keys: [{ kty: 'oct', kid: 'h', k: 'c2VjcmV0', d: 'x' }] }, /a oct key cannot sign here: use RSA \(RS256, PS256\), EC P-256 \(ES256\) or OKP Ed25519 \(EdDSA\)/],
    [{ keys: [{ ...ec, alg: 'RS256' }] }, /"alg": "RS256" does not fit a EC key \(use ES256\)/],
    [{ keys: [{ ...rsa, use: 'enc' }] }, /"use": "enc" is not a signing key/],
    [{ keys: [rsa, { ...ec, kid: 'rsa-1' }] }, /^BACKEND_SIGNING_KEYS has two keys with kid rsa-1: every kid once$/],
    [{ keys: [{ ...rsa, n: 'AQAB' }] }, /^BACKEND_SIGNING_KEYS\.keys\[0\] \(kid rsa-1\): it is not a usable private JWK/]
  ]
  for (const [value, message] of cases) {
    const raw = typeof value === 'string' ? value : JSON.stringify(value)
    const error = t.throws(() => loadConfig({ ...external, BACKEND_SIGNING_KEYS: raw }), raw.slice(0, 60)) as ConfigError
    t.equal(error.variable, 'BACKEND_SIGNING_KEYS')
    t.match(error.message, message)
    t.notMatch(error.message, String(d), 'the private key is never quoted')
  }
})

test('OAUTH_CLIENT_PRIVATE_KEY: one private JWK for OAUTH_CLIENT_ID', async (t) => {
  const jwk = generatePrivateJwk('PS256', 'client-key')
  t.match(clientPrivateKey(loadConfig({ ...external, OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(jwk) })), { kid: 'client-key', alg: 'PS256' })
  const { kid, ...withoutKid } = generatePrivateJwk('ES256')
  t.match(clientPrivateKey(loadConfig({ ...external, OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(withoutKid) }))?.kid, /^[\w-]{43}$/, 'without a kid, the RFC 7638 thumbprint')
  t.ok(kid)
  t.throws(() => loadConfig({ OAUTH_ISSUER: 'https://idp.example/', OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(jwk) }), { variable: 'OAUTH_CLIENT_ID', message: /OAUTH_CLIENT_PRIVATE_KEY is set but OAUTH_CLIENT_ID is not/ })
  const { d, ...publicOnly } = jwk
  const error = t.throws(() => loadConfig({ ...external, OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify(publicOnly) })) as ConfigError
  t.equal(error.message, 'OAUTH_CLIENT_PRIVATE_KEY: it is not a private key (no "d"): give the private JWK; its public half is what gets published')
  const bad = t.throws(() => loadConfig({ ...external, OAUTH_CLIENT_PRIVATE_KEY: JSON.stringify([jwk]) })) as ConfigError
  t.equal(bad.message, 'OAUTH_CLIENT_PRIVATE_KEY is invalid: expected a JSON object (see the README).', 'not quoted back')
  t.notMatch(bad.message, String(d))
})
