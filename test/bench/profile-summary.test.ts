import t from 'tap'
import { formatProfileSummary, locationOf, summariseProfile, type CpuProfile, type ProfileNode } from '../../bench/profile-summary.ts'

const root = '/srv/mcp-gateway'

t.test('frames are named by project file, npm package, Node core or V8', async (t) => {
  t.same(locationOf({ functionName: 'serve', url: `file://${root}/lib/mcp/dispatcher.ts` }, root), { file: 'lib/mcp/dispatcher.ts', pkg: 'mcp-gateway' })
  t.same(locationOf({ functionName: 'x', url: `file://${root}/node_modules/@modelcontextprotocol/server/dist/a.mjs` }, root), { file: '@modelcontextprotocol/server/dist/a.mjs', pkg: '@modelcontextprotocol/server' })
  t.same(locationOf({ functionName: 'x', url: `file://${root}/node_modules/fastify/node_modules/pino/lib/proto.js` }, root), { file: 'pino/lib/proto.js', pkg: 'pino' }, 'the innermost node_modules wins')
  t.same(locationOf({ functionName: 'emit', url: 'node:events' }, root), { file: 'node:events', pkg: 'node core' })
  t.same(locationOf({ functionName: 'writeUtf8String', url: '' }, root), { file: '(native)', pkg: 'V8/native' })
  t.same(locationOf({ functionName: '(garbage collector)', url: '' }, root), { file: '(garbage collector)', pkg: '(garbage collector)' })
})

function node (id: number, functionName: string, url: string, children: number[] = [], lineNumber = 0): ProfileNode {
  return { id, callFrame: { functionName, url, lineNumber, columnNumber: 0 }, children }
}

/**
 * (root) → handler (project) → verify (fast-jwt) → sign (native)
 *        → (idle)
 *        → (garbage collector)
 * Samples every 100 µs from t = 1000: 10 before the window, then inside it
 * 4 × sign, 2 × verify, 1 × handler, 2 × idle, 1 × GC.
 */
function profile (): CpuProfile {
  const nodes = [
    node(1, '(root)', '', [2, 5, 6]),
    node(2, 'handler', `file://${root}/routes/mcp/index.ts`, [3], 68),
    node(3, 'verify', `file://${root}/node_modules/fast-jwt/src/verifier.js`, [4], 9),
    node(4, 'sign', ''),
    node(5, '(idle)', ''),
    node(6, '(garbage collector)', '')
  ]
  const before = Array<number>(10).fill(2) // outside the window: all in handler
  const inside = [4, 4, 4, 4, 3, 3, 2, 5, 5, 6]
  const samples = [...before, ...inside]
  return { nodes, startTime: 1000, endTime: 1000 + samples.length * 100, samples, timeDeltas: samples.map(() => 100) }
}

t.test('self time, inclusive time and idle are counted inside the window only', async (t) => {
  // Sample i is at 1000 + (i + 1) × 100: the window [2050, 3000] holds samples 10–19.
  const summary = summariseProfile(profile(), { root, window: [2050, 3000] })
  t.equal(summary.windowed, true)
  t.equal(summary.samples, 10)
  t.equal(summary.idleSamples, 2)
  t.equal(summary.intervalUs, 100)
  // 8 busy samples.
  t.same(summary.functions.map((e) => [e.name, e.samples]), [
    ['sign', 4],
    ['verify  fast-jwt/src/verifier.js:10', 2],
    ['(garbage collector)', 1],
    ['handler  routes/mcp/index.ts:69', 1]
  ])
  t.equal(summary.functions[0]?.percent, 50)
  t.same(summary.packages.map((e) => [e.name, e.samples]), [['V8/native', 4], ['fast-jwt', 2], ['(garbage collector)', 1], ['mcp-gateway', 1]])
  t.same(summary.packagesInclusive.map((e) => [e.name, e.samples]), [['mcp-gateway', 7], ['fast-jwt', 6], ['(garbage collector)', 1]], 'natives left out of the inclusive list')
  t.same(summary.projectInclusive.map((e) => [e.name, e.samples]), [['handler  routes/mcp/index.ts:69', 7]])
})

t.test('without a window, or with one that matches nothing, the whole profile counts', async (t) => {
  const whole = summariseProfile(profile(), { root })
  t.equal(whole.samples, 20)
  t.equal(whole.windowMissed, false)
  t.match(formatProfileSummary(whole, 'x'), /every ~100 µs \(whole profile\);/)
  const missed = summariseProfile(profile(), { root, window: [10, 20] })
  t.equal(missed.windowed, false)
  t.equal(missed.windowMissed, true)
  t.equal(missed.samples, 20)
  t.match(formatProfileSummary(missed, 'x'), /the measured window matched no sample/)
})

t.test('the formatted summary says what it counted and names socket writes', async (t) => {
  const text = formatProfileSummary(summariseProfile(profile(), { root, window: [2050, 3000] }), 'whoami')
  t.match(text, /^#### whoami\n/)
  t.match(text, /10 samples every ~100 µs in the measured window; idle 20\.0 %; shares below are of the 8 busy samples/)
  t.match(text, /\| +50\.0 % \| sign +\|/)
  t.match(text, /Inclusive time by project function/)
  const writes = formatProfileSummary(summariseProfile({ ...profile(), nodes: profile().nodes.map((n) => n.id === 4 ? node(4, 'writeUtf8String', '') : n) }, { root }), 'x')
  t.match(writes, /writeUtf8String \(socket write: mostly kernel TCP time on loopback\)/)
})
