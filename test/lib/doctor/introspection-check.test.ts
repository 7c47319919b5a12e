/**
 * The introspection endpoint check, for deployments with opaque tokens: an RFC 7662
 * endpoint on loopback that checks the client credentials, and endpoints that are not
 * one. The check calls the server's own introspection client.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { text } from 'node:stream/consumers'
import { test, type Test } from 'tap'
import { loadConfig, type Config } from '../../../lib/config.ts'
import type { DoctorReport } from '../../../lib/doctor/report.ts'
import { introspectionSettings } from '../../../lib/doctor/introspection-check.ts'
import { runDoctor } from '../../../lib/doctor/run-doctor.ts'
import { startTestIssuer, type TestIssuer } from '../../support/test-issuer.ts'

const CLIENT_ID = 'mcp-gateway'
// Characters that must be form-encoded before Basic authentication (RFC 6749 §2.3.1).
const CLIENT_SECRET = 's3cret:with/+&chars'

type Answer = (request: IncomingMessage, body: URLSearchParams) => [number, unknown]

async function endpoint (t: Test, answer: Answer): Promise<{ url: string, requests: URLSearchParams[] }> {
  const requests: URLSearchParams[] = []
  const server = createServer(async (request, response) => {
    const body = new URLSearchParams(await text(request))
    requests.push(body)
    const [status, document] = answer(request, body)
    response.writeHead(status, { 'content-type': 'application/json' })
    response.end(typeof document === 'string' ? document : JSON.stringify(document))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`, requests }
}

/** RFC 7662: client authentication, then `{"active": false}` for anything unknown. */
const rfc7662: Answer = (request) => {
  const expected = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`
  if (request.method !== 'POST' || request.headers.authorization !== expected) return [401, { error: 'invalid_client' }]
  return [200, { active: false }]
}

async function issuer (t: Test): Promise<TestIssuer> {
  const started = await startTestIssuer()
  t.after(() => started.stop())
  started.metadataOverrides = { registration_endpoint: `${started.issuer}/register`, scopes_supported: ['read:profile', 'execute:tools'] }
  return started
}

function doctor (issuerUrl: string, settings: Record<string, string>): Promise<DoctorReport> {
  const config = { ...loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PUBLIC_URL: 'https://localhost:1', OAUTH_ISSUER: issuerUrl }), ...settings } as Config
  return runDoctor({ config })
}

const introspection = (report: DoctorReport) => report.checks.filter((check) => check.section === 'Introspection (opaque tokens)')

test('settings come from the configuration and are optional', async (t) => {
  const base = loadConfig({ OAUTH_ISSUER: 'https://idp.example.com/' })
  t.equal(introspectionSettings(base), undefined)
  t.same(introspectionSettings({ ...base, OAUTH_INTROSPECTION_URL: 'https://idp.example.com/introspect', OAUTH_CLIENT_ID: 'a' }), { url: 'https://idp.example.com/introspect', clientId: 'a', clientSecret: undefined })
})

test('an RFC 7662 endpoint that accepts the credentials passes; nothing real is introspected', async (t) => {
  const idp = await issuer(t)
  const { url, requests } = await endpoint(t, rfc7662)
  const report = await doctor(idp.issuer, { OAUTH_INTROSPECTION_URL: url, OAUTH_CLIENT_ID: CLIENT_ID, OAUTH_CLIENT_SECRET: CLIENT_SECRET })
  t.same(introspection(report).map((check) => [check.id, check.status]), [['introspection', 'pass']])
  t.ok(report.ok)
  t.match(requests[0]?.get('token'), /^mcp-gateway-doctor-[0-9a-f-]{36}$/, 'a made-up token')
  t.equal(requests[0]?.get('token_type_hint'), 'access_token')
})

test('each broken introspection setup fails with its fix', async (t) => {
  const idp = await issuer(t)
  const good = await endpoint(t, rfc7662)
  const tokeninfo = await endpoint(t, () => [400, { error: 'invalid_token', error_description: 'Invalid Value' }])
  const html = await endpoint(t, () => [200, '<html>login</html>'])
  const permissive = await endpoint(t, () => [200, { active: true, sub: 'anyone' }])
  const credentials = { OAUTH_CLIENT_ID: CLIENT_ID, OAUTH_CLIENT_SECRET: CLIENT_SECRET }
  const cases: Array<[string, Record<string, string>, RegExp, RegExp]> = [
    ['wrong secret', { OAUTH_INTROSPECTION_URL: good.url, OAUTH_CLIENT_ID: CLIENT_ID, OAUTH_CLIENT_SECRET: 'nope' }, /refuses the client credentials \(HTTP 401\)/, /set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET to a confidential client/],
    ['no secret', { OAUTH_INTROSPECTION_URL: good.url, OAUTH_CLIENT_ID: CLIENT_ID }, /OAUTH_CLIENT_SECRET is not/, /OAUTH_CLIENT_SECRET/],
    ['not RFC 7662 (tokeninfo-like)', { OAUTH_INTROSPECTION_URL: tokeninfo.url, ...credentials }, /does not answer as an RFC 7662 introspection endpoint \(HTTP 400, no "active" member\)/, /RFC 7662 endpoint/],
    ['not JSON', { OAUTH_INTROSPECTION_URL: html.url, ...credentials }, /HTTP 200, not JSON/, /RFC 7662 endpoint/],
    ['says everything is active', { OAUTH_INTROSPECTION_URL: permissive.url, ...credentials }, /made-up token is active/, /real RFC 7662 endpoint/],
    ['unreachable', { OAUTH_INTROSPECTION_URL: 'http://127.0.0.1:1/introspect', ...credentials }, /cannot be reached/, /check OAUTH_INTROSPECTION_URL/]
  ]
  for (const [name, settings, message, fix] of cases) {
    const report = await doctor(idp.issuer, settings)
    const [check] = introspection(report)
    t.equal(check?.status, 'fail', name)
    t.match(check?.message, message, name)
    t.match(check?.fix, fix, name)
    t.notOk(report.ok, name)
  }
})

test('the issuer\'s advertised endpoint is compared; with introspection, missing JWT keys only warn', async (t) => {
  const idp = await issuer(t)
  const good = await endpoint(t, rfc7662)
  idp.metadataOverrides.introspection_endpoint = `${idp.issuer}/oauth/introspect`
  idp.metadataOverrides.jwks_uri = undefined
  const report = await doctor(idp.issuer, { OAUTH_INTROSPECTION_URL: good.url, OAUTH_CLIENT_ID: CLIENT_ID, OAUTH_CLIENT_SECRET: CLIENT_SECRET })
  const [mismatch] = introspection(report)
  t.equal(mismatch?.status, 'warn')
  t.match(mismatch?.fix, `set OAUTH_INTROSPECTION_URL=${idp.issuer}/oauth/introspect`)
  const jwks = report.checks.find((check) => check.id === 'jwks')
  t.equal(jwks?.status, 'warn', 'opaque tokens still get in')
  t.match(jwks?.message, /opaque ones still go through introspection/)
  t.ok(report.ok)
})
