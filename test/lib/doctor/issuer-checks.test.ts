/**
 * The doctor against issuers on loopback that serve deliberately broken metadata and
 * keys: each problem is a ✗ (or, where it does not block clients, a !) whose fix says
 * what to change. A healthy issuer is all green.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type Test } from 'tap'
import { loadConfig } from '../../../lib/config.ts'
import type { Check, DoctorReport } from '../../../lib/doctor/report.ts'
import { runDoctor } from '../../../lib/doctor/run-doctor.ts'
import { checkPublicUrl } from '../../../lib/doctor/server-checks.ts'
import { startTestIssuer, type TestIssuer, type TestIssuerOptions } from '../../support/test-issuer.ts'

// HTTPS on loopback: passes the HTTPS check, and nothing answers there (no outside network).
const PUBLIC_URL = 'https://localhost:1'
const TOOL_SCOPES = ['read:profile', 'execute:tools']

async function healthyIssuer (t: Test, options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const issuer = await startTestIssuer(options)
  t.after(() => issuer.stop())
  issuer.metadataOverrides = { registration_endpoint: `${issuer.issuer}/register`, scopes_supported: ['openid', ...TOOL_SCOPES] }
  return issuer
}

function doctor (issuer: string, env: Record<string, string> = {}): Promise<DoctorReport> {
  return runDoctor({ config: loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PUBLIC_URL, OAUTH_ISSUER: issuer, ...env }) })
}

function check (t: Test, report: DoctorReport, id: string): Check {
  const found = report.checks.find((candidate) => candidate.id === id)
  if (found === undefined) t.fail(`no ${id} check in ${report.checks.map((c) => c.id).join(', ')}`)
  return found ?? { id, section: '', status: 'skip', message: '' }
}

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('a healthy issuer is all green', async (t) => {
  const issuer = await healthyIssuer(t)
  const report = await doctor(issuer.issuer)
  t.ok(report.ok)
  t.same(report.checks.filter((c) => c.status === 'fail' || c.status === 'warn').map((c) => `${c.id}: ${c.message}`), [])
  for (const id of ['public-url', 'resources', 'issuer-metadata', 'issuer-match', 'jwks', 'pkce', 'registration', 'scopes']) {
    t.equal(check(t, report, id).status, 'pass', id)
  }
  t.match(check(t, report, 'issuer-metadata').message, `${issuer.issuer}/.well-known/oauth-authorization-server (RFC 8414`)
  t.match(check(t, report, 'jwks').message, /1 usable key at http:\/\/127\.0\.0\.1:\d+\/jwks/)
  t.same(check(t, report, 'resources').details?.slice(0, 2), [
    `connector URL ${PUBLIC_URL}/mcp → resource=${PUBLIC_URL}/mcp`,
    `connector URL ${PUBLIC_URL} → resource=${PUBLIC_URL}`
  ], 'the PRM resource values clients will send are shown')
})

test('issuer mismatch: a trailing slash is enough, and the fix names the exact value', async (t) => {
  const issuer = await healthyIssuer(t)
  issuer.metadataOverrides.issuer = `${issuer.issuer}/`
  const report = await doctor(issuer.issuer)
  t.notOk(report.ok)
  const mismatch = check(t, report, 'issuer-match')
  t.equal(mismatch.status, 'fail')
  t.match(mismatch.message, `names the issuer "${issuer.issuer}/", not the configured "${issuer.issuer}"`)
  t.equal(mismatch.fix, `set OAUTH_ISSUER=${issuer.issuer}/ (exactly as the IdP writes it: the trailing slash differs; tokens carry this value in "iss").`)
  t.equal(check(t, report, 'jwks').status, 'pass', 'the rest of the document is still checked')
  t.match(check(t, report, 'jwks').message, /the jwks_uri of the document found/)
})

test('unreachable issuer', async (t) => {
  const report = await doctor(`http://127.0.0.1:${await closedPort()}`)
  const metadata = check(t, report, 'issuer-metadata')
  t.equal(metadata.status, 'fail')
  t.match(metadata.message, /metadata cannot be fetched: .*unreachable/)
  t.match(metadata.fix, /check that OAUTH_ISSUER is the issuer URL .* and that this host can reach it/)
  t.equal(check(t, report, 'jwks').status, 'skip', 'keys are not checked without a way to find them')
  t.equal(check(t, report, 'issuer-capabilities').status, 'skip')
})

test('an issuer on this server\'s own origin (the development server) that does not answer: start the server', async (t) => {
  const port = await closedPort()
  const report = await doctor(`http://127.0.0.1:${port}/oauth`, { PUBLIC_URL: `http://127.0.0.1:${port}` })
  t.match(check(t, report, 'issuer-metadata').fix, /served by this server itself: start it \(npm start\)/)
})

test('an issuer that publishes no metadata at all', async (t) => {
  const issuer = await healthyIssuer(t)
  issuer.metadataServed = false
  const metadata = check(t, await doctor(issuer.issuer), 'issuer-metadata')
  t.equal(metadata.status, 'fail')
  t.match(metadata.message, `publishes no metadata (HTTP 404 at ${issuer.issuer}/.well-known/oauth-authorization-server, ${issuer.issuer}/.well-known/openid-configuration)`)
  t.ok(metadata.fix)
})

test('metadata without the endpoints clients need', async (t) => {
  const issuer = await healthyIssuer(t)
  Object.assign(issuer.metadataOverrides, { token_endpoint: undefined, response_types_supported: ['token'] })
  const endpoints = check(t, await doctor(issuer.issuer), 'issuer-endpoints')
  t.equal(endpoints.status, 'fail')
  t.match(endpoints.message, 'lacks token_endpoint, response_types_supported with "code"')
  t.ok(endpoints.fix)
})

test('no jwks_uri', async (t) => {
  const issuer = await healthyIssuer(t)
  issuer.metadataOverrides.jwks_uri = undefined
  const jwks = check(t, await doctor(issuer.issuer), 'jwks')
  t.equal(jwks.status, 'fail')
  t.match(jwks.message, 'has no jwks_uri')
  t.match(jwks.fix, /^set JWKS_URI to the issuer's key set URL/)

  const overridden = check(t, await doctor(issuer.issuer, { JWKS_URI: `${issuer.issuer}/jwks` }), 'jwks')
  t.equal(overridden.status, 'pass', 'JWKS_URI fixes it, as the fix says')
})

test('JWKS unreachable', async (t) => {
  const issuer = await healthyIssuer(t)
  const dead = `http://127.0.0.1:${await closedPort()}/keys`
  issuer.metadataOverrides.jwks_uri = dead
  const jwks = check(t, await doctor(issuer.issuer), 'jwks')
  t.equal(jwks.status, 'fail')
  t.match(jwks.message, `The key set cannot be fetched: ${dead}: unreachable`)
  t.match(jwks.fix, `make ${dead} reachable from this host`)
})

test('JWKS without usable signing keys', async (t) => {
  const issuer = await healthyIssuer(t)
  const encryptionOnly = { keys: [{ ...issuer.currentKey.publicKey.export({ format: 'jwk' }), kid: 'enc', use: 'enc' }, { kty: 'oct', k: 'c2VjcmV0', kid: 'hs' }] }
  for (const [name, document] of [['no keys', { keys: [] }], ['encryption and symmetric keys only', encryptionOnly], ['not a JWKS', { hello: 'world' }]] as const) {
    issuer.jwksDocument = document
    const jwks = check(t, await doctor(issuer.issuer), 'jwks')
    t.equal(jwks.status, 'fail', name)
    t.match(jwks.message, /The key set holds no usable signing key: .*(no usable signing key|not a JWKS)/, name)
    t.match(jwks.fix, /asymmetric key \(RS256, ES256, EdDSA\)/, name)
  }
})

test('PKCE: S256 missing is a failure; not advertised at all is a warning', async (t) => {
  const issuer = await healthyIssuer(t)
  issuer.metadataOverrides.code_challenge_methods_supported = ['plain']
  const plain = check(t, await doctor(issuer.issuer), 'pkce')
  t.equal(plain.status, 'fail')
  t.match(plain.message, 'lists plain, not S256')
  t.match(plain.fix, /enable S256 PKCE/)

  issuer.metadataOverrides.code_challenge_methods_supported = undefined
  const absent = await doctor(issuer.issuer)
  t.equal(check(t, absent, 'pkce').status, 'warn')
  t.match(check(t, absent, 'pkce').fix, /code_challenge_methods_supported: \["S256"\]/)
  t.ok(absent.ok, 'a warning does not fail the run')
})

test('no registration and no Client ID Metadata Documents: how to pre-register ChatGPT and Claude', async (t) => {
  const issuer = await healthyIssuer(t)
  issuer.metadataOverrides.registration_endpoint = undefined
  const registration = check(t, await doctor(issuer.issuer), 'registration')
  t.equal(registration.status, 'warn')
  t.match(registration.message, 'neither a registration_endpoint nor Client ID Metadata Document support')
  t.match(registration.fix, 'https://claude.ai/api/mcp/auth_callback')
  t.match(registration.fix, 'https://chatgpt.com/connector/oauth/')

  issuer.metadataOverrides.client_id_metadata_document_supported = true
  const cimd = check(t, await doctor(issuer.issuer), 'registration')
  t.equal(cimd.status, 'pass')
  t.match(cimd.message, 'Client ID Metadata Documents are supported')
})

test('tool scopes missing from scopes_supported', async (t) => {
  const issuer = await healthyIssuer(t)
  issuer.metadataOverrides.scopes_supported = ['openid', 'profile', 'read:profile']
  const scopes = check(t, await doctor(issuer.issuer), 'scopes')
  t.equal(scopes.status, 'fail')
  t.match(scopes.message, 'execute:tools is not in the IdP\'s scopes_supported')
  t.match(scopes.fix, 'define the scopes execute:tools in the IdP')

  issuer.metadataOverrides.scopes_supported = undefined
  t.equal(check(t, await doctor(issuer.issuer), 'scopes').status, 'skip', 'an IdP that does not publish the list is not judged')
})

test('PUBLIC_URL: HTTPS passes, plain HTTP fails, except on localhost where it warns', async (t) => {
  const config = (PUBLIC_URL: string) => loadConfig({ NODE_ENV: 'test', OAUTH_ISSUER: 'https://idp.example.com/', PUBLIC_URL })
  t.equal(checkPublicUrl(config('https://mcp.example.com')).status, 'pass')
  const plain = checkPublicUrl(config('http://mcp.example.com'))
  t.equal(plain.status, 'fail')
  t.match(plain.message, 'ChatGPT refuses it')
  t.equal(plain.fix, 'serve the MCP endpoint over HTTPS (a TLS-terminating proxy is fine) and set PUBLIC_URL=https://mcp.example.com.')
  for (const local of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
    t.equal(checkPublicUrl(config(local)).status, 'warn', local)
  }

  const issuer = await healthyIssuer(t)
  const report = await doctor(issuer.issuer, { PUBLIC_URL: 'http://localhost:1' })
  t.equal(check(t, report, 'public-url').status, 'warn')
  t.ok(report.ok, 'local development is not a failure')
})

test('provider-specific advice on provider-shaped issuers', async (t) => {
  await t.test('Keycloak (realm path): missing scopes name client scopes and registration policies', async (t) => {
    const issuer = await healthyIssuer(t, { path: '/realms/mcp' })
    issuer.metadataOverrides.scopes_supported = ['openid']
    const report = await doctor(issuer.issuer)
    t.match(check(t, report, 'provider').message, 'Provider: Keycloak')
    t.match(check(t, report, 'scopes').fix, /create client scopes named read:profile execute:tools/)
    t.match(check(t, report, 'registration').details?.join(), /Trusted Hosts/)
    t.match(check(t, report, 'provider').details?.join(), /"Audience" protocol mapper with Included Custom Audience https:\/\/localhost:1\/mcp/)
  })

  await t.test('Okta: the org authorization server fails; its registration endpoint is not open', async (t) => {
    const org = await healthyIssuer(t)
    org.metadataOverrides.authorization_endpoint = `${org.issuer}/oauth2/v1/authorize`
    const report = await doctor(org.issuer)
    t.equal(check(t, report, 'okta-org-server').status, 'fail')
    t.match(check(t, report, 'okta-org-server').fix, /custom authorization server .* OAUTH_ISSUER=https:\/\/<your-okta-domain>\/oauth2\/default/)
    t.equal(check(t, report, 'registration').status, 'warn')
    t.match(check(t, report, 'registration').fix, /okta\.clients\.register.*https:\/\/claude\.ai\/api\/mcp\/auth_callback/)

    const custom = await healthyIssuer(t, { path: '/oauth2/default' })
    custom.metadataOverrides.authorization_endpoint = `${custom.issuer}/v1/authorize`
    custom.metadataOverrides.scopes_supported = ['openid']
    const customReport = await doctor(custom.issuer)
    t.equal(customReport.checks.find((c) => c.id === 'okta-org-server'), undefined)
    t.equal(check(t, customReport, 'scopes').status, 'warn', 'Okta does not publish unpublished custom scopes: a warning')
    t.match(check(t, customReport, 'scopes').fix, /Include in public metadata/)
  })

  await t.test('Entra ID v2: no S256 advertised is a warning; an audience is required', async (t) => {
    const tenant = '9188040d-6c67-4c5b-b112-36a304b66dad'
    const entra = await healthyIssuer(t, { path: `/${tenant}/v2.0` })
    const origin = new URL(entra.issuer).origin
    Object.assign(entra.metadataOverrides, {
      authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
      code_challenge_methods_supported: undefined,
      registration_endpoint: undefined,
      scopes_supported: ['openid', 'profile', 'email', 'offline_access']
    })
    const report = await doctor(entra.issuer)
    t.match(check(t, report, 'provider').message, 'Microsoft Entra ID (v2)')
    t.equal(check(t, report, 'pkce').status, 'warn')
    t.match(check(t, report, 'pkce').fix, /supports S256 but does not say so/)
    t.equal(check(t, report, 'registration').status, 'warn')
    t.match(check(t, report, 'registration').fix, /Entra ID has no open registration: create an app registration per client/)
    t.equal(check(t, report, 'scopes').status, 'warn')
    t.match(check(t, report, 'scopes').fix, /Expose an API/)
    t.equal(check(t, report, 'entra-audience').status, 'fail')
    t.match(check(t, report, 'entra-audience').fix, /OAUTH_AUDIENCE=<Application \(client\) ID/)
    t.equal(check(t, report, 'entra-scopes').status, 'warn')

    const configured = await doctor(entra.issuer, { OAUTH_AUDIENCE: '3f2a4c1e-0000-4000-8000-000000000001' })
    t.equal(configured.checks.find((c) => c.id === 'entra-audience'), undefined, 'OAUTH_AUDIENCE with the client ID clears it')
    t.ok(configured.ok)
  })

  await t.test('Auth0 (custom domain): the settings to verify are listed', async (t) => {
    const auth0 = await healthyIssuer(t)
    auth0.metadataOverrides.mfa_challenge_endpoint = `${auth0.issuer}/mfa/challenge`
    const report = await doctor(auth0.issuer)
    t.match(check(t, report, 'provider').message, 'Provider: Auth0')
    t.match(check(t, report, 'provider').details?.join('\n'), /Resource Parameter Compatibility Profile.*Default Audience/)
    t.match(check(t, report, 'registration').details?.join(), /lists this endpoint even while registration is off/)
  })
})
