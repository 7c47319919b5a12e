import { test } from 'tap'
import whoami from '../../tools/whoami.ts'
import { testCaller, testContext } from '../support/tool-context.ts'

test('whoami reports the verified identity and what its scopes unlock', async (t) => {
  const caller = testCaller({ scopes: new Set(['read:profile', 'openid']), expiresAt: Math.floor(Date.now() / 1000) + 120 })
  const me = await whoami.handler({}, testContext({ caller }))
  t.equal(me.sub, 'alice')
  t.equal(me.issuer, 'https://idp.example/')
  t.same(me.audience, ['https://mcp.example/mcp'])
  t.equal(me.clientId, 'client-1')
  t.same(me.scopes, ['openid', 'read:profile'])
  t.ok(me.expiresInSeconds > 110 && me.expiresInSeconds <= 120)
  t.same(me.permissions, [
    { tool: 'whoami', title: 'Who am I', requiredScopes: ['read:profile'], allowed: true, missingScopes: [] },
    { tool: 'echo', title: 'Echo', requiredScopes: ['execute:tools'], allowed: false, missingScopes: ['execute:tools'] },
    { tool: 'notes_list', title: 'List my notes', requiredScopes: ['notes:read'], allowed: false, missingScopes: ['notes:read'] },
    { tool: 'notes_add', title: 'Add a note', requiredScopes: ['notes:write'], allowed: false, missingScopes: ['notes:write'] }
  ])
  const text = whoami.render?.(me) ?? ''
  t.match(text, /You are alice \(issuer https:\/\/idp\.example\/, via client client-1\)/)
  t.match(text, /✗ echo \(needs execute:tools\)/)
})

test('whoami without a client id and with an expired token', async (t) => {
  const me = await whoami.handler({}, testContext({ caller: testCaller({ clientId: undefined, expiresAt: 0 }) }))
  t.equal(me.clientId, null)
  t.equal(me.expiresInSeconds, 0, 'never negative')
  t.notMatch(whoami.render?.(me) ?? '', /via client/)
})
