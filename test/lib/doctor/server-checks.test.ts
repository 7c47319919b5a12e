/**
 * A server already running at PUBLIC_URL is compared with the configuration the doctor
 * checks: same resource, same authorization servers.
 */
import { test } from 'tap'
import { loadConfig } from '../../../lib/config.ts'
import { checkPublishedMetadata } from '../../../lib/doctor/server-checks.ts'
import { build } from '../../helper.ts'
import { startTestIssuer } from '../../support/test-issuer.ts'

test('the metadata of a running server is compared with this configuration', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const other = await startTestIssuer()
  t.after(() => other.stop())
  const { url } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer }, listen: true })
  const config = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', PUBLIC_URL: url, OAUTH_ISSUER: issuer.issuer, ...env })

  const same = await checkPublishedMetadata(config({}), [issuer.issuer])
  t.equal(same.status, 'pass')
  t.equal(same.message, `The server running at ${url} publishes this same metadata at ${url}/.well-known/oauth-protected-resource/mcp`)

  const otherIssuer = await checkPublishedMetadata(config({ OAUTH_ISSUER: other.issuer }), [other.issuer])
  t.equal(otherIssuer.status, 'warn')
  t.match(otherIssuer.message, `names the authorization servers ${issuer.issuer}, not ${other.issuer}`)
})

test('a server running with another PUBLIC_URL (or behind a proxy that rewrites) is a warning', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { url } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL: 'https://mcp.example.com' }, listen: true })
  const check = await checkPublishedMetadata(loadConfig({ NODE_ENV: 'test', PUBLIC_URL: url, OAUTH_ISSUER: issuer.issuer }), [issuer.issuer])
  t.equal(check.status, 'warn')
  t.match(check.message, `publishes resource "https://mcp.example.com/mcp", not ${url}/mcp`)
  t.match(check.fix, `run the server with PUBLIC_URL=${url}`)
})

test('nothing answering at PUBLIC_URL is not a problem (the server may not run yet)', async (t) => {
  const check = await checkPublishedMetadata(loadConfig({ NODE_ENV: 'test', PUBLIC_URL: 'http://127.0.0.1:1', OAUTH_ISSUER: 'https://idp.example.com/' }), ['https://idp.example.com/'])
  t.equal(check.status, 'skip')
  t.match(check.message, 'No server answers at http://127.0.0.1:1')
})
