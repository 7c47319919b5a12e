/**
 * serverOptions(): the client address behind proxies (TRUST_PROXY), timeouts chosen
 * against the load balancer, and size limits.
 */
import { connect } from 'node:net'
import { test, type Test } from 'tap'
import { build } from './helper.ts'
import { callTool } from './support/mcp-http.ts'
import { issuerFor } from './support/test-issuer.ts'

const PUBLIC_URL = 'https://mcp.example.test'


/** The per-address budget (2 requests) tells which address the server took as the client's. */
async function statuses (t: Test, env: Record<string, string>, requests: Array<{ remoteAddress: string, forwardedFor?: string }>): Promise<number[]> {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, RATE_LIMIT_IP_MAX: '2', ...env } })
  const result: number[] = []
  for (const { remoteAddress, forwardedFor } of requests) {
    const response = await app.inject({ url: '/.well-known/oauth-protected-resource', remoteAddress, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } })
    result.push(response.statusCode)
  }
  return result
}

test('without TRUST_PROXY, X-Forwarded-For is ignored: the TCP peer is the client', async (t) => {
  t.same(await statuses(t, {}, [
    { remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.1' },
    { remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.2' },
    { remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.3' }
  ]), [200, 200, 429])
})

test('TRUST_PROXY=1 (Cloud Run): the client is the address the proxy appended, not one the client wrote', async (t) => {
  t.same(await statuses(t, { TRUST_PROXY: '1' }, [
    { remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.1' },
    { remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.2' },
    { remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.2' },
    // A client that forges the left of the header is still counted by what the proxy appended.
    { remoteAddress: '10.0.0.1', forwardedFor: '203.0.113.99, 198.51.100.1' },
    { remoteAddress: '10.0.0.1', forwardedFor: '203.0.113.98, 198.51.100.1' }
  ]), [200, 200, 200, 200, 429])
})

test('TRUST_PROXY with addresses believes only those proxies', async (t) => {
  t.same(await statuses(t, { TRUST_PROXY: '10.0.0.0/8' }, [
    { remoteAddress: '10.1.2.3', forwardedFor: '198.51.100.1' },
    { remoteAddress: '10.1.2.4', forwardedFor: '198.51.100.2' },
    // Not a trusted proxy: its header is ignored, so these three count for 192.0.2.1.
    { remoteAddress: '192.0.2.1', forwardedFor: '198.51.100.3' },
    { remoteAddress: '192.0.2.1', forwardedFor: '198.51.100.4' },
    { remoteAddress: '192.0.2.1', forwardedFor: '198.51.100.5' }
  ]), [200, 200, 200, 200, 429])
})

test('trusting the proxy never lets it choose the URLs the server emits', async (t) => {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, PUBLIC_URL, TRUST_PROXY: '1' } })
  const forwarded = { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }
  const challenge = await callTool(app, { headers: forwarded })
  t.equal(challenge.statusCode, 401)
  t.match(challenge.headers['www-authenticate'], `resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp"`)
  const metadata = await app.inject({ url: '/.well-known/oauth-protected-resource/mcp', headers: forwarded })
  t.equal(metadata.json().resource, `${PUBLIC_URL}/mcp`)
})

test('timeouts: keep-alive outlives the load balancer, slow requests are cut, long responses are not', async (t) => {
  const issuer = await issuerFor(t)
  const { app } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer } })
  const server = app.server
  t.ok(server.keepAliveTimeout > 600_000, `keep-alive ${server.keepAliveTimeout} ms > Google front ends' 600 s`)
  t.equal(server.headersTimeout, 10_000)
  t.equal(server.requestTimeout, 30_000)
  t.ok(server.headersTimeout < server.requestTimeout, 'Node requires headers to be due before the whole request')
  t.equal(server.timeout, 0, 'no inactivity timeout: a tool may think for minutes without a byte on the wire')
  t.equal(app.initialConfig.bodyLimit, 128 * 1024)
})

test('size limits: an oversized header block is refused with 431, an oversized MCP message with 413', async (t) => {
  const issuer = await issuerFor(t)
  const { app, url } = await build(t, { listen: true, env: { OAUTH_ISSUER: issuer.issuer } })
  const { port } = new URL(url)

  const status = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1')
    let data = ''
    socket.on('data', (chunk) => { data += chunk.toString() })
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
    socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(20 * 1024)}\r\n\r\n`)
  })
  t.equal(status, 'HTTP/1.1 431 Request Header Fields Too Large')

  const token = issuer.mint(`${url}/mcp`)
  const large = await callTool(app, { token, args: { message: 'x'.repeat(1024 * 1024 + 1) } })
  t.equal(large.statusCode, 413)
  t.match(large.json(), { jsonrpc: '2.0', error: { code: -32000 } })
  const fits = await callTool(app, { token, args: { message: 'x'.repeat(9000) } })
  t.equal(fits.statusCode, 200, 'a large but reasonable tool argument passes (1 MiB on the MCP route)')
})
