import { test } from 'tap'
import { redirectUriApplicationType, RedirectUriPolicyError } from '../../../lib/dev-auth/redirect-uri-policy.ts'

test('redirect URIs MCP clients use are accepted, with the application type oidc-provider needs', async (t) => {
  const accepted: Array<[string, string[], unknown, 'web' | 'native']> = [
    ['ChatGPT', ['https://chatgpt.com/connector/oauth/abc123'], undefined, 'web'],
    ['ChatGPT (legacy)', ['https://chatgpt.com/connector_platform_oauth_redirect'], undefined, 'web'],
    ['Claude', ['https://claude.ai/api/mcp/auth_callback'], undefined, 'web'],
    ['MCP Inspector', ['http://localhost:6274/oauth/callback'], undefined, 'web'],
    ['MCP Inspector, declared native', ['http://localhost:6274/oauth/callback'], 'native', 'native'],
    ['VS Code', ['http://127.0.0.1:33418', 'https://vscode.dev/redirect'], undefined, 'web'],
    ['VS Code, declared native (claimed https + loopback)', ['http://127.0.0.1:33418', 'https://vscode.dev/redirect'], 'native', 'native'],
    ['Cursor (custom scheme)', ['cursor://anysphere.cursor-mcp/oauth/callback'], undefined, 'native'],
    ['Cursor, declared web', ['cursor://anysphere.cursor-mcp/oauth/callback'], 'web', 'native'],
    ['IPv6 loopback', ['http://[::1]:8080/cb'], undefined, 'web'],
    ['https on localhost, declared native', ['https://localhost:8443/cb'], 'native', 'web']
  ]
  for (const [client, uris, declared, expected] of accepted) {
    t.equal(redirectUriApplicationType(uris, declared), expected, client)
  }
})

test('refused redirect URIs say which one and what would work', async (t) => {
  const refused: Array<[string, unknown[], RegExp]> = [
    ['http on a public host', ['http://example.com/callback'], /^redirect_uris may use http only on localhost, 127\.0\.0\.1 or \[::1\] \(any port\): http:\/\/example\.com\/callback must use https$/],
    ['http on a LAN address', ['https://ok.example/cb', 'http://192.168.1.20:3000/cb'], /http:\/\/192\.168\.1\.20:3000\/cb must use https/],
    ['javascript:', ['javascript:alert(1)'], /must not use the javascript scheme/],
    ['data:', ['data:text/html,hi'], /must not use the data scheme/],
    ['file:', ['file:///etc/passwd'], /must not use the file scheme/],
    ['a fragment', ['https://app.example/cb#frag'], /must not contain a fragment/],
    ['not a URI', ['/relative/callback'], /must be absolute URIs/],
    ['not a string', [42], /must be strings/],
    ['custom scheme with https on loopback', ['cursor://x/cb', 'https://localhost/cb'], /cannot mix a custom scheme/]
  ]
  for (const [name, uris, message] of refused) {
    t.throws(() => redirectUriApplicationType(uris, undefined), { name: 'RedirectUriPolicyError', message }, name)
  }
  t.ok(new RedirectUriPolicyError('x').message.startsWith('redirect_uris '), 'oidc-provider reports these as invalid_redirect_uri')
})
