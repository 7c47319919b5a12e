/**
 * `--token`: the verdict is the server's own (same app, same configuration), the fix is
 * the provider's, and every tool says whether the token's scopes allow it.
 */
import { test, type Test } from 'tap'
import { Type } from 'typebox'
import { loadConfig } from '../../../lib/config.ts'
import type { Check, DoctorReport } from '../../../lib/doctor/report.ts'
import { runDoctor } from '../../../lib/doctor/run-doctor.ts'
import { defineTool, type ToolDefinition } from '../../../lib/tool.ts'
import echo from '../../../tools/echo.ts'
import { build } from '../../helper.ts'
import { generateKey, issuerFor as startIssuer, type TestIssuer, type TestIssuerOptions } from '../../support/test-issuer.ts'

const PUBLIC_URL = 'https://localhost:1'
const RESOURCE = `${PUBLIC_URL}/mcp`
const now = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

async function issuerFor (t: Test, options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const issuer = await startIssuer(t, options)
  issuer.metadataOverrides = { registration_endpoint: `${issuer.issuer}/register`, scopes_supported: ['openid', 'read:profile', 'execute:tools'] }
  return issuer
}

function env (issuer: TestIssuer, extra: Record<string, string> = {}): Record<string, string> {
  return { NODE_ENV: 'test', LOG_LEVEL: 'silent', PUBLIC_URL, OAUTH_ISSUER: issuer.issuer, ...extra }
}

function doctor (issuer: TestIssuer, token: string, extra: Record<string, string> = {}, tools?: readonly ToolDefinition[]): Promise<DoctorReport> {
  return runDoctor({ config: loadConfig(env(issuer, extra)), token, tools })
}

function tokenChecks (report: DoctorReport): Check[] {
  return report.checks.filter((check) => check.section === 'Token')
}

function verdict (t: Test, report: DoctorReport): Check {
  const found = report.checks.find((check) => check.id === 'token')
  if (found === undefined) t.fail('no token check')
  return found ?? { id: 'token', section: 'Token', status: 'skip', message: '' }
}

test('a valid token: accepted, every tool allowed, the claims shown (never the token)', async (t) => {
  const issuer = await issuerFor(t)
  const token = issuer.mint(RESOURCE)
  const report = await doctor(issuer, token)
  t.ok(report.ok)
  const accepted = verdict(t, report)
  t.equal(accepted.status, 'pass')
  t.equal(accepted.message, 'The server accepts this token for "alice" (client test-client)')
  t.match(accepted.details?.join('\n'), /audience https:\/\/localhost:1\/mcp\n.*subject  "alice"[\s\S]*scopes   read:profile execute:tools\nexpires  .* \(in 10 min\)\nsigned   "RS256", kid "/)
  t.same(tokenChecks(report).filter((check) => check.id.startsWith('tool:')).map((check) => [check.id, check.status, check.message]), [
    ['tool:whoami', 'pass', 'whoami: allowed (needs read:profile)'],
    ['tool:echo', 'pass', 'echo: allowed (needs execute:tools)']
  ])
  t.notOk(JSON.stringify(report).includes(token), 'the token is not in the report')
})

test('the refusal is the server\'s own, word for word', async (t) => {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: env(issuer) })
  const cases = {
    expired: issuer.mint(RESOURCE, { exp: now() - 3600, iat: now() - 7200 }),
    'wrong audience': issuer.mint('https://other.example/api'),
    JWE: `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`,
    'unknown kid': issuer.mint(RESOURCE, {}, { key: generateKey() })
  }
  for (const [name, token] of Object.entries(cases)) {
    const server = await app.inject({ method: 'POST', url: '/mcp', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, payload: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' })
    const reason = (JSON.parse(server.body).error_description as string).replace('The access token was rejected: ', '')
    const refused = verdict(t, await doctor(issuer, token))
    t.equal(refused.status, 'fail', name)
    t.equal(refused.message, `The server refuses this token (HTTP 401, invalid_token): ${reason}.`, name)
    t.match(refused.details?.join('\n'), /answer   WWW-Authenticate: Bearer resource_metadata="https:\/\/localhost:1\/\.well-known\/oauth-protected-resource\/mcp", scope="read:profile execute:tools", error="invalid_token"$/, `${name}: what clients get`)
  }
})

test('each refusal comes with its fix', async (t) => {
  const issuer = await issuerFor(t)
  const cases: Array<[string, string, RegExp, RegExp]> = [
    ['expired', issuer.mint(RESOURCE, { exp: now() - 3600, iat: now() - 7200 }), /the token expired at/, /get a fresh token/],
    ['wrong audience', issuer.mint('https://other.example/api'), /audience is https:\/\/other\.example\/api but this server accepts https:\/\/localhost:1\/mcp/,
      /make the IdP issue tokens whose aud is https:\/\/localhost:1\/mcp .*or add https:\/\/other\.example\/api to OAUTH_AUDIENCE/],
    ['JWE', `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, /encrypted \(a JWE\)/, /encrypted token because no API audience was requested: configure an API\/resource https:\/\/localhost:1\/mcp/],
    ['unknown kid', issuer.mint(RESOURCE, {}, { key: generateKey() }), /signing key ".*" is not in the JWKS/, /signed with a key .* does not publish: it comes from another tenant or environment/],
    ['wrong issuer', issuer.mint(RESOURCE, { iss: 'https://old-idp.example/' }), /issued by "https:\/\/old-idp\.example\/"/, /get the token from that issuer, or set OAUTH_ISSUER=https:\/\/old-idp\.example\//],
    ['opaque', 'ya29.a0AfH6SMBx-opaque-token-value', /not a JWT/, /opaque \(non-JWT\) token: .*OAUTH_INTROSPECTION_URL, OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET/]
  ]
  for (const [name, token, reason, fix] of cases) {
    const refused = verdict(t, await doctor(issuer, token))
    t.equal(refused.status, 'fail', name)
    t.match(refused.message, reason, name)
    t.match(refused.fix, fix, name)
  }
  const jwe = verdict(t, await doctor(issuer, `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`))
  t.match(jwe.details, ['format   JWE (encrypted: 5 parts), claims unreadable'])
})

test('missing scopes are reported per tool; no usable tool at all fails', async (t) => {
  const issuer = await issuerFor(t)
  const partial = await doctor(issuer, issuer.mint(RESOURCE, { scope: 'read:profile openid' }))
  t.ok(partial.ok, 'a token that can use some tools is not a failure')
  t.same(tokenChecks(partial).filter((check) => check.id.startsWith('tool:')).map((check) => [check.id, check.status]), [['tool:whoami', 'pass'], ['tool:echo', 'warn']])
  const echoCheck = partial.checks.find((check) => check.id === 'tool:echo')
  t.equal(echoCheck?.message, 'echo: not allowed, the token lacks execute:tools (per whoami).')
  t.equal(echoCheck?.fix, 'grant execute:tools to this client and user in the IdP, then reconnect so the client asks for it again.')

  const none = await doctor(issuer, issuer.mint(RESOURCE, { scope: 'openid email' }))
  t.notOk(none.ok)
  t.same(tokenChecks(none).map((check) => [check.id, check.status]), [['token', 'pass'], ['tool:whoami', 'warn'], ['tool:echo', 'warn'], ['tools', 'fail']])
  t.match(none.checks.find((check) => check.id === 'tool:whoami')?.message, '(per the token\'s claims)', 'whoami itself is not allowed: the claims tell')
  t.match(none.checks.find((check) => check.id === 'tools')?.message, 'clients will list no tools')
})

test('without a whoami tool, permissions come from the token\'s claims', async (t) => {
  const issuer = await issuerFor(t)
  const admin = defineTool({
    name: 'admin',
    title: 'Admin',
    description: 'An administrative task.',
    requiredScopes: ['admin'],
    input: Type.Object({}),
    output: Type.Object({}),
    async handler () { return {} }
  })
  const report = await doctor(issuer, issuer.mint(RESOURCE, { scope: 'admin' }), {}, [echo, admin] as ToolDefinition[])
  t.same(tokenChecks(report).map((check) => [check.id, check.status]), [['token', 'pass'], ['tool:echo', 'warn'], ['tool:admin', 'pass']])
  t.equal(report.checks.find((check) => check.id === 'tool:echo')?.message, 'echo: not allowed, the token lacks execute:tools (per the token\'s claims).')
})

test('provider-specific fixes for refused tokens', async (t) => {
  await t.test('Auth0: a token for /userinfo means the API audience was not requested', async (t) => {
    const auth0 = await issuerFor(t)
    auth0.metadataOverrides.mfa_challenge_endpoint = `${auth0.issuer}/mfa/challenge`
    const refused = verdict(t, await doctor(auth0, auth0.mint(`${auth0.issuer}/userinfo`)))
    t.match(refused.fix, /Auth0 ignored the resource the client asked for: create an API with identifier https:\/\/localhost:1\/mcp and enable the "Resource Parameter Compatibility Profile"/)
    const jwe = verdict(t, await doctor(auth0, `${b64({ alg: 'dir', enc: 'A256GCM', iss: auth0.issuer })}.a.b.c.d`))
    t.match(jwe.fix, /Auth0 encrypts tokens issued without an API audience/)
  })

  await t.test('Keycloak: aud "account" needs an audience mapper', async (t) => {
    const keycloak = await issuerFor(t, { path: '/realms/mcp' })
    const refused = verdict(t, await doctor(keycloak, keycloak.mint('account')))
    t.match(refused.fix, /Keycloak does not put the requested resource in aud: add an "Audience" mapper with Included Custom Audience https:\/\/localhost:1\/mcp/)
  })

  await t.test('Entra ID: a client ID in aud goes to OAUTH_AUDIENCE; a v1 token needs accessTokenAcceptedVersion 2', async (t) => {
    const tenant = '9188040d-6c67-4c5b-b112-36a304b66dad'
    const clientId = '3f2a4c1e-0000-4000-8000-000000000001'
    const entra = await issuerFor(t, { path: `/${tenant}/v2.0` })
    entra.metadataOverrides.authorization_endpoint = `${new URL(entra.issuer).origin}/${tenant}/oauth2/v2.0/authorize`
    const v2 = verdict(t, await doctor(entra, entra.mint(clientId, { scp: 'read:profile', scope: undefined })))
    t.match(v2.fix, `Entra ID v2 puts the API's client ID in aud: set OAUTH_AUDIENCE=${clientId}`)
    const accepted = await doctor(entra, entra.mint(clientId, { scp: 'read:profile execute:tools', scope: undefined }), { OAUTH_AUDIENCE: clientId })
    t.equal(verdict(t, accepted).status, 'pass', 'and then it is accepted (scp read like the server reads it)')
    t.equal(accepted.checks.find((check) => check.id === 'tool:echo')?.status, 'pass')

    const v1 = verdict(t, await doctor(entra, entra.mint(`api://${clientId}`, { iss: `https://sts.windows.net/${tenant}/` })))
    t.match(v1.fix, /this is a v1 token: set "accessTokenAcceptedVersion": 2/)
  })
})
