/** The traffic-protection settings: bad values stop the boot with a line naming the variable. */
import { test } from 'tap'
import { ConfigError, loadConfig, originAllowList, trustProxySetting } from '../../lib/config.ts'

const base = { OAUTH_ISSUER: 'https://idp.example.test/' }

function errorOf (env: Record<string, string>): ConfigError | undefined {
  try {
    loadConfig({ ...base, ...env })
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  return undefined
}

test('defaults: in-memory counters, fail open, one-minute windows, event-loop delay shedding', async (t) => {
  const config = loadConfig(base)
  t.match(config, {
    REDIS_URL: undefined,
    RATE_LIMIT_FAIL: 'open',
    RATE_LIMIT_WINDOW_S: 60,
    RATE_LIMIT_CALLER_MAX: 600,
    RATE_LIMIT_IP_MAX: 600,
    RATE_LIMIT_AUTH_FAILURE_MAX: 30,
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: 1000,
    OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: 0
  })
  t.equal(trustProxySetting(config.TRUST_PROXY), false)
  t.same(originAllowList(config), ['localhost'])
})

test('TRUST_PROXY takes a hop count or proxy addresses, never "true"', async (t) => {
  const oneHop = trustProxySetting('1')
  t.equal(typeof oneHop, 'function')
  if (typeof oneHop === 'function') t.same([oneHop('10.0.0.1', 0), oneHop('10.0.0.2', 1)], [true, false], 'trusts the TCP peer only')
  t.same(trustProxySetting('10.0.0.0/8, 192.168.1.7,loopback, fd00::/8'), ['10.0.0.0/8', '192.168.1.7', 'loopback', 'fd00::/8'])
  t.equal(trustProxySetting('0'), false)
  t.match(errorOf({ TRUST_PROXY: 'true' }), { variable: 'TRUST_PROXY', message: /any client claim any address.*TRUST_PROXY=1/ })
  t.match(errorOf({ TRUST_PROXY: '10.0.0.0/33' }), { variable: 'TRUST_PROXY', message: /"10\.0\.0\.0\/33" is neither a hop count nor an IP address or CIDR/ })
  t.match(errorOf({ TRUST_PROXY: 'proxy.internal' }), { variable: 'TRUST_PROXY' })
})

test('ALLOWED_ORIGINS takes origins (and extension wildcards), PUBLIC_URL\'s is always in', async (t) => {
  t.same(originAllowList({ PUBLIC_URL: 'https://mcp.example.test', ALLOWED_ORIGINS: 'https://inspector.example.test, http://localhost:6274 moz-extension://*,chrome-extension://abcdefgh' }),
    ['mcp.example.test', 'inspector.example.test', 'localhost', 'moz-extension://*', 'abcdefgh'])
  t.match(errorOf({ ALLOWED_ORIGINS: 'inspector.example.test' }), { variable: 'ALLOWED_ORIGINS', message: /is not an origin: expected e\.g\./ })
  t.match(errorOf({ ALLOWED_ORIGINS: 'https://example.test/app' }), { variable: 'ALLOWED_ORIGINS' })
  t.match(errorOf({ ALLOWED_ORIGINS: 'https://*' }), { variable: 'ALLOWED_ORIGINS', message: /cannot be admitted by wildcard/ })
  t.match(errorOf({ ALLOWED_ORIGINS: '*' }), { variable: 'ALLOWED_ORIGINS' })
})

test('REDIS_URL must be a redis:// or rediss:// URL; limits are whole numbers; the fail mode is open or closed', async (t) => {
  t.equal(loadConfig({ ...base, REDIS_URL: 'rediss://:secret@10.0.0.3:6378/2' }).REDIS_URL, 'rediss://:secret@10.0.0.3:6378/2')
  t.match(errorOf({ REDIS_URL: 'http://10.0.0.3:6379' }), { variable: 'REDIS_URL', message: /not a Redis URL/ })
  t.match(errorOf({ RATE_LIMIT_CALLER_MAX: '-1' }), { variable: 'RATE_LIMIT_CALLER_MAX' })
  t.match(errorOf({ RATE_LIMIT_WINDOW_S: '0' }), { variable: 'RATE_LIMIT_WINDOW_S' })
  t.match(errorOf({ RATE_LIMIT_FAIL: 'maybe' }), { variable: 'RATE_LIMIT_FAIL', message: /one of open, closed/ })
  t.match(errorOf({ OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '1.5' }), { variable: 'OVERLOAD_MAX_EVENT_LOOP_UTILIZATION', message: /a number from 0 to 1/ })
})
