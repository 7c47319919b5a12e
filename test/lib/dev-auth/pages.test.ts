import { test } from 'tap'
import { consentPage, describeRedirect, escapeHtml, formTargetOf, loginPage, pageCsp, PROVIDER_CSP } from '../../../lib/dev-auth/pages.ts'

test('form-action follows the answer to where the client waits for it', async (t) => {
  t.equal(formTargetOf('http://127.0.0.1:33418/callback'), 'http://127.0.0.1:33418')
  t.equal(formTargetOf('https://chatgpt.com/connector/oauth/x'), 'https://chatgpt.com')
  t.equal(formTargetOf('cursor://anysphere.cursor-mcp/oauth/callback'), 'cursor:', 'an app link: its scheme')
  t.equal(formTargetOf(undefined), undefined)
  t.equal(formTargetOf('not a url'), undefined)
  t.match(pageCsp(['cursor:']), /form-action 'self' cursor:;/)
  t.match(pageCsp(), /form-action 'self';/)
  t.notMatch(PROVIDER_CSP, /form-action/, 'oidc-provider\'s own pages post to redirect URIs')
  t.match(PROVIDER_CSP, /script-src 'self'/, 'a script-src for oidc-provider to add its inline script hash to')
})

test('where the person returns, as they would recognise it', async (t) => {
  t.equal(describeRedirect('http://127.0.0.1:41234/callback'), '127.0.0.1:41234')
  t.equal(describeRedirect('https://claude.ai/api/mcp/auth_callback'), 'claude.ai')
  t.equal(describeRedirect('cursor://anysphere.cursor-mcp/oauth/callback'), 'cursor://anysphere.cursor-mcp')
  t.equal(describeRedirect(42), 'the app')
})

test('everything shown is escaped', async (t) => {
  t.equal(escapeHtml('<a href="x">\'&</a>'), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&lt;/a&gt;')
  const login = loginPage({ action: '/a', abortAction: '/b', clientName: '<img src=x>', resourceName: 'R"', returnsTo: '<x>', username: '"><script>' })
  t.notMatch(login, /<img|<script|<x>/)
  const consent = consentPage({
    action: '/a', abortAction: '/b', clientName: 'C', resourceName: 'R', accountId: '<b>me</b>', returnsTo: 'x',
    scopes: [{ scope: 'read:profile', description: '<i>d</i>', checked: false }], unknownScopes: ['<u>']
  })
  t.notMatch(consent, /<b>me|<i>d|<u>/)
  t.match(consent, /<input type="checkbox" id="scope-0" name="scope" value="read:profile" aria-describedby="scope-0-description">/, 'unchecked when not pre-ticked')
  t.match(consent, /not offered by this server \(not granted\): <code>&lt;u&gt;<\/code>/, 'unknown scopes are shown, not hidden')
})
