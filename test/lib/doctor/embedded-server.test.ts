/**
 * The doctor against the embedded development authorization server, running as
 * `npm start` runs it: every check green (the one expected warning: a plain-http
 * localhost PUBLIC_URL, which ChatGPT would refuse), and a token it issued passes.
 */
import { test } from 'tap'
import { mintDevToken } from '../../../lib/dev-auth/token-cli.ts'
import { runDoctor } from '../../../lib/doctor/run-doctor.ts'
import { build } from '../../helper.ts'

test('doctor: all green against the embedded authorization server', async (t) => {
  const { config } = await build(t, { listen: true })
  t.equal(config.OAUTH_ISSUER, `${config.PUBLIC_URL}/oauth`, 'no OAUTH_ISSUER: the embedded server is the issuer')

  const report = await runDoctor({ config })
  const notPassing = report.checks.filter((check) => check.status !== 'pass' && check.status !== 'skip')
  t.same(notPassing.map((check) => [check.id, check.status]), [['public-url', 'warn']], 'only the http-on-localhost warning')
  t.ok(report.ok, 'nothing blocks clients')
  for (const id of ['issuer-match', 'jwks']) t.equal(report.checks.find((check) => check.id === id)?.status, 'pass', id)

  const { token } = await mintDevToken(config, { sub: 'doctor-user', scopes: ['read:profile', 'execute:tools'], resource: `${config.PUBLIC_URL}/mcp`, ttlSeconds: 600 })
  const withToken = await runDoctor({ config, token })
  const tokenChecks = withToken.checks.filter((check) => check.section === 'Token')
  t.ok(tokenChecks.length > 0)
  t.same(tokenChecks.filter((check) => check.status !== 'pass').map((check) => check.id), [], 'the token is accepted and allows every tool')
  t.notOk(JSON.stringify(withToken).includes(token), 'the report never contains the token')
})
