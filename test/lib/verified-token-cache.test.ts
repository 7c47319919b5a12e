import { test } from 'tap'
import { VerifiedTokenCache } from '../../lib/auth/verified-token-cache.ts'
import { testCaller } from '../support/tool-context.ts'

function withClock (t: { teardown: (fn: () => void) => void }): (ms: number) => void {
  const realNow = Date.now
  let offset = 0
  Date.now = () => realNow() + offset
  t.teardown(() => { Date.now = realNow })
  return (ms) => { offset += ms }
}

test('a cached caller is served only inside its token\'s validity window', async (t) => {
  const advance = withClock(t)
  const cache = new VerifiedTokenCache(10, 30_000)
  const now = Math.floor(Date.now() / 1000)
  cache.set('a', testCaller({ sub: 'a', expiresAt: now + 60 }))
  cache.set('b', testCaller({ sub: 'b', expiresAt: now + 600, claims: { nbf: now + 100 } }))
  t.equal(cache.get('a')?.sub, 'a')
  t.equal(cache.get('b'), undefined, 'not before nbf (minus tolerance)')
  advance(75_000)
  t.equal(cache.get('a')?.sub, 'a', 'within the clock tolerance past exp')
  t.equal(cache.get('b')?.sub, 'b', 'within the tolerance before nbf')
  advance(20_000)
  t.equal(cache.get('a'), undefined, 'past exp + tolerance')
})

test('entries live at most ten minutes, however long the token', async (t) => {
  const advance = withClock(t)
  const cache = new VerifiedTokenCache(10, 0)
  cache.set('long', testCaller({ expiresAt: Math.floor(Date.now() / 1000) + 86_400 }))
  advance(9 * 60_000)
  t.ok(cache.get('long'))
  advance(2 * 60_000)
  t.equal(cache.get('long'), undefined)
})

test('bounded: the least recently used entry goes first; size 0 caches nothing', async (t) => {
  const cache = new VerifiedTokenCache(2, 0)
  const expiresAt = Math.floor(Date.now() / 1000) + 600
  cache.set('1', testCaller({ sub: '1', expiresAt }))
  cache.set('2', testCaller({ sub: '2', expiresAt }))
  t.equal(cache.get('1')?.sub, '1', 'used: now the most recent')
  cache.set('3', testCaller({ sub: '3', expiresAt }))
  t.equal(cache.get('2'), undefined, '2 was the least recently used')
  t.equal(cache.get('1')?.sub, '1')
  t.equal(cache.get('3')?.sub, '3')
  const off = new VerifiedTokenCache(0, 0)
  off.set('x', testCaller({ expiresAt }))
  t.equal(off.get('x'), undefined)
})
