import t from 'tap'
import {
  bestRound,
  evaluateTargets,
  markdownTable,
  percentile,
  problemsOf,
  requestsPerCpuSecond,
  saturationWarning,
  scenarioTable,
  summariseLatencies,
  targetTable,
  TARGETS,
  verdictOf,
  type ScenarioResult
} from '../../bench/report.ts'

function scenario (id: string, rps: number, p99: number, overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  const expectedStatus = overrides.expectedStatus ?? 200
  const requests = Math.round(rps * 10)
  return {
    id,
    title: `title of ${id}`,
    expectedStatus,
    requests,
    durationS: 10,
    rps,
    latency: { mean: p99 / 3, p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2 },
    errors: 0,
    timeouts: 0,
    mismatches: 0,
    non2xx: expectedStatus === 200 ? 0 : requests,
    statusCounts: { [expectedStatus]: requests },
    checkFailures: [],
    notes: [],
    ...overrides
  }
}

/** A run where every scenario sits at `factor` × its target's threshold. */
function run (overrides: Record<string, Partial<ScenarioResult>> = {}): ScenarioResult[] {
  const make = (id: string, rps: number, p99: number, extra: Partial<ScenarioResult> = {}) => scenario(id, rps, p99, { ...extra, ...overrides[id] })
  return [
    make('baseline', 10_000, 2),
    make('whoami-2025', 3_000, 6),
    make('whoami-2026', 2_600, 7),
    make('whoami-cold', 2_500, 8),
    make('tools-list', 3_000, 6),
    make('no-token', 6_000, 3, { expectedStatus: 401 }),
    make('bad-signature', 5_500, 3, { expectedStatus: 401 })
  ]
}

const goodProcess = { peakRssMb: 120, coldStartMs: 600 }

t.test('percentile is nearest-rank on sorted values', async (t) => {
  const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  t.equal(percentile(values, 50), 5)
  t.equal(percentile(values, 99), 10)
  t.equal(percentile(values, 10), 1)
  t.equal(percentile([], 99), 0)
})

t.test('latency summary sorts and reads percentiles at sub-millisecond resolution', async (t) => {
  const values = Float64Array.from({ length: 1000 }, (_, i) => (1000 - i) / 1000)
  const summary = summariseLatencies(values)
  t.equal(summary.p50, 0.5)
  t.equal(summary.p99, 0.99)
  t.equal(summary.max, 1)
  t.ok(Math.abs(summary.mean - 0.5005) < 1e-9)
})

t.test('every target passes on a run that meets them', async (t) => {
  const checks = evaluateTargets(run(), goodProcess)
  t.same(checks.map((check) => check.status), TARGETS.map(() => 'PASS'))
  t.equal(verdictOf(run(), checks).ok, true)
})

t.test('relative targets compare ratios against the right reference', async (t) => {
  const results = run({ 'whoami-cold': { rps: 2_300 } }) // 2,300 / 3,000 = 0.77 < 0.8
  const checks = evaluateTargets(results, goodProcess)
  const cold = checks.find((check) => check.id === 'whoami-cold-rps')
  t.equal(cold?.status, 'FAIL')
  t.ok(Math.abs((cold?.value ?? 0) - 2_300 / 3_000) < 1e-9)
  t.match(cold?.detail, /2,300 req\/s vs 3,000 req\/s/)
  const verdict = verdictOf(results, checks)
  t.equal(verdict.ok, false)
  t.equal(verdict.valid, true, 'a missed target does not make the run invalid')
  t.match(verdict.reasons.join('\n'), /target missed: \(3\)/)
})

t.test('the p99 target is a ceiling on the latency ratio', async (t) => {
  const at = (p99: number) => evaluateTargets(run({ 'whoami-2025': { latency: { mean: 1, p50: 1, p90: 1, p99, max: p99 } } }), goodProcess)
    .find((check) => check.id === 'whoami-2025-p99')?.status
  t.equal(at(8), 'PASS', 'exactly 4 × the baseline p99 passes')
  t.equal(at(8.01), 'FAIL')
})

t.test('absolute targets: peak RSS and cold start', async (t) => {
  const checks = evaluateTargets(run(), { peakRssMb: 150, coldStartMs: 1000 })
  t.equal(checks.find((check) => check.id === 'peak-rss')?.status, 'FAIL', '150 MB is not below 150 MB')
  t.equal(checks.find((check) => check.id === 'cold-start')?.status, 'FAIL', '1 s is not below 1 s')
  const unmeasured = evaluateTargets(run(), {})
  t.equal(unmeasured.find((check) => check.id === 'peak-rss')?.status, 'NOT RUN')
})

t.test('a scenario that did not run leaves its targets NOT RUN without failing the run', async (t) => {
  const results = run().filter((result) => result.id !== 'tools-list')
  const checks = evaluateTargets(results, goodProcess)
  t.equal(checks.find((check) => check.id === 'tools-list-rps')?.status, 'NOT RUN')
  t.equal(verdictOf(results, checks).ok, true)
})

t.test('unexpected statuses, errors and bodies make a run invalid, and its targets INVALID', async (t) => {
  const results = run({
    'whoami-2025': { statusCounts: { 200: 29_990, 500: 10 }, non2xx: 10 },
    'no-token': { statusCounts: { 401: 59_000, 429: 1_000 } },
    'tools-list': { errors: 3, timeouts: 1 },
    'whoami-cold': { mismatches: 2 }
  })
  t.match(problemsOf(results[1] as ScenarioResult), [/unexpected statuses: 10 × 500 \(expected 200\)/])
  t.match(problemsOf(results[5] as ScenarioResult), [/1000 × 429 \(expected 401\)/])
  t.match(problemsOf(results[4] as ScenarioResult), [/3 connection errors \(1 timeouts\)/])
  t.match(problemsOf(results[3] as ScenarioResult), [/2 responses with an unexpected body/])
  const checks = evaluateTargets(results, goodProcess)
  t.equal(checks.find((check) => check.id === 'whoami-2025-rps')?.status, 'INVALID')
  t.equal(checks.find((check) => check.id === 'whoami-cold-rps')?.status, 'INVALID', 'invalid through either side of the ratio')
  const verdict = verdictOf(results, checks)
  t.equal(verdict.valid, false)
  t.equal(verdict.ok, false)
})

t.test('401 scenarios expect 401: their non-2xx responses are not problems', async (t) => {
  t.same(problemsOf(scenario('no-token', 5000, 2, { expectedStatus: 401 })), [])
  t.match(problemsOf(scenario('no-token', 5000, 2, { expectedStatus: 401, statusCounts: { 200: 50_000 } })), [/50000 × 200 \(expected 401\)/])
})

t.test('failed correctness checks and an empty run are problems', async (t) => {
  t.match(problemsOf(scenario('whoami-2025', 0, 0, { requests: 0, statusCounts: {}, checkFailures: ['check: HTTP 500'] })), ['check: HTTP 500', 'no responses'])
})

t.test('profiling: targets are reported but only validity decides', async (t) => {
  const results = run({ 'whoami-2025': { rps: 100 } })
  const checks = evaluateTargets(results, goodProcess)
  t.equal(verdictOf(results, checks, false).ok, true)
  t.equal(verdictOf(results, checks, true).ok, false)
})

t.test('saturation: a server that was not busy makes its req/s a floor', async (t) => {
  t.equal(saturationWarning(scenario('baseline', 1, 1, { serverCpuPercent: 97, loaderCpuPercent: 99 })), undefined)
  t.match(saturationWarning(scenario('baseline', 1, 1, { serverCpuPercent: 70, loaderCpuPercent: 99 })), /load generator .* bottleneck.*every ratio look better/)
  t.match(saturationWarning(scenario('whoami-2025', 1, 1, { serverCpuPercent: 60, loaderCpuPercent: 30 })), /other work on the machine/)
  t.equal(saturationWarning(scenario('baseline', 1, 1)), undefined, 'no CPU figures, no claim')
})

t.test('markdown tables: padded columns, right-aligned numbers', async (t) => {
  t.equal(markdownTable(['Name', ' n'], [['a', '1'], ['long name', '1,000']]), [
    '| Name      |     n |',
    '|-----------|------:|',
    '| a         |     1 |',
    '| long name | 1,000 |'
  ].join('\n'))
})

t.test('the scenario table shows ratios to the baseline, statuses and validity', async (t) => {
  const results = run({ 'no-token': { statusCounts: { 401: 59_000, 429: 1_000 } } })
  const table = scenarioTable(results)
  const lines = table.split('\n')
  t.equal(lines.length, 2 + results.length)
  t.match(lines[0], /\| Scenario +\| +req\/s \| × baseline \| p50 ms \| p99 ms \|/)
  t.match(lines[2], /title of baseline +\| +10,000 \| +1\.00 × \|/)
  t.match(lines[3], /title of whoami-2025 +\| +3,000 \| +0\.30 × \| +1\.50 \| +6\.00 \|.*\| ok +\|$/)
  t.match(lines[7], /59,000 × 401, 1,000 × 429 \| INVALID \|$/)
})

t.test('the target table has one row per target with its result', async (t) => {
  const checks = evaluateTargets(run({ 'bad-signature': { rps: 4_000 } }), { peakRssMb: 200, coldStartMs: 700 })
  const lines = targetTable(checks).split('\n')
  t.equal(lines.length, 2 + TARGETS.length)
  t.match(lines.find((line) => line.includes('bad signature')), /0\.40 × \| +≥ 0\.50 × \| +– \| 4,000 req\/s vs 10,000 req\/s +\| FAIL +\|$/)
  t.match(lines.find((line) => line.includes('peak RSS')), /200\.0 MB \| +< 150 MB \| +– \| +\| FAIL +\|$/)
  t.match(lines.find((line) => line.includes('cold start')), /700 ms \| < 1,000 ms \| +– \| +\| PASS +\|$/)
})

t.test('rounds: the fastest valid round counts, with the highest peak RSS of all', async (t) => {
  const rounds = [
    scenario('whoami-2025', 2_000, 9, { peakRssMb: 300 }),
    scenario('whoami-2025', 2_600, 7, { peakRssMb: 250 }),
    scenario('whoami-2025', 2_400, 8, { peakRssMb: 260 })
  ]
  const best = bestRound(rounds)
  t.equal(best.rps, 2_600)
  t.equal(best.latency.p99, 7, 'latency from the same round')
  t.equal(best.peakRssMb, 300)
  t.match(best.notes, [/best of 3 rounds \(req\/s per round: 2,000, 2,600, 2,400\)/])
  t.equal(bestRound([rounds[0] as ScenarioResult]), rounds[0], 'one round is returned as is')
  t.throws(() => bestRound([]))
})

t.test('rounds: an invalid round is never hidden by a faster valid one', async (t) => {
  const best = bestRound([
    scenario('no-token', 6_000, 3, { expectedStatus: 401 }),
    scenario('no-token', 5_000, 3, { expectedStatus: 401, statusCounts: { 401: 49_000, 429: 1_000 } })
  ])
  t.equal(best.rps, 5_000)
  t.match(problemsOf(best), [/1000 × 429/])
  t.match(best.notes, [/round 2 of 2 is invalid/])
})

t.test('requests per CPU-second normalise throughput by the CPU the server got', async (t) => {
  t.equal(requestsPerCpuSecond(scenario('baseline', 5_000, 1, { serverCpuPercent: 50 })), 10_000)
  t.equal(requestsPerCpuSecond(scenario('baseline', 5_000, 1)), undefined)
  const table = scenarioTable([
    scenario('baseline', 5_000, 1, { serverCpuPercent: 50 }),
    scenario('whoami-2025', 2_000, 4, { serverCpuPercent: 100 })
  ])
  t.match(table.split('\n')[3], /\| +2,000 \(0\.20 ×\) \|/)
  const checks = evaluateTargets(run({ baseline: { serverCpuPercent: 50 }, 'whoami-2025': { serverCpuPercent: 100 } }), goodProcess)
  const whoami = checks.find((check) => check.id === 'whoami-2025-rps')
  t.equal(whoami?.value, 0.3)
  t.equal(whoami?.perCpuValue, 0.15, '3,000 per CPU-s against 20,000 per CPU-s')
  t.equal(checks.find((check) => check.id === 'whoami-2025-p99')?.perCpuValue, undefined, 'latency targets have no per-CPU form')
  t.match(targetTable(checks).split('\n').find((line) => line.includes('whoami, 2025-06-18: req/s')), /0\.30 × \| +≥ 0\.25 × \| +0\.15 × \|/)
})
