import { test } from 'tap'
import { callerFromClaims, scopesOf } from '../../lib/auth/token-claims.ts'

const base = { iss: 'https://idp.example/', sub: 'alice', aud: 'https://mcp.example/mcp', exp: 2_000_000_000 }

test('the client is read from azp, client_id or (Okta) cid', async (t) => {
  t.equal(callerFromClaims({ ...base, azp: 'from-azp', client_id: 'from-client-id' }).clientId, 'from-azp')
  t.equal(callerFromClaims({ ...base, client_id: 'from-client-id' }).clientId, 'from-client-id')
  t.equal(callerFromClaims({ ...base, cid: '0oa1okta' }).clientId, '0oa1okta')
  t.equal(callerFromClaims(base).clientId, undefined)
})

test('scopes are the union of scope, scp and permissions', async (t) => {
  t.same([...scopesOf({ scope: 'a b', scp: ['b', 'c'], permissions: ['d'] })].sort(), ['a', 'b', 'c', 'd'])
  t.same([...scopesOf({ scope: 42, scp: [1, 'x'] })], ['x'], 'non-strings are ignored')
})
