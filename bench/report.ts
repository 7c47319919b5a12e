/**
 * The pure half of the benchmark: latency statistics, run validity, the
 * performance targets of issue 8 and the tables that show them. No I/O here,
 * so test/bench/report.test.ts can check it without running a load.
 */

export interface LatencySummary {
  /** Milliseconds. */
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
}

export interface ScenarioResult {
  id: string
  title: string
  /** The HTTP status every response must have (200 for served calls, 401 for rejections). */
  expectedStatus: number
  /** Completed responses in the measured window. */
  requests: number
  durationS: number
  rps: number
  latency: LatencySummary
  /** Connection errors and timeouts (autocannon's `errors`, timeouts included). */
  errors: number
  timeouts: number
  /** Responses whose body failed the scenario's check. */
  mismatches: number
  non2xx: number
  /** Responses per HTTP status. */
  statusCounts: Record<string, number>
  /** The serving process's peak RSS during this scenario's warm-up and load (VmHWM, reset before), MB. */
  peakRssMb?: number | undefined
  /** CPU used by the serving process during the measured load, % of one core (can pass 100: GC and I/O threads). */
  serverCpuPercent?: number | undefined
  /** CPU used by the load generator (autocannon, in the benchmark process), % of one core. */
  loaderCpuPercent?: number | undefined
  /** Failed correctness checks (before or after the load): the answers were wrong. */
  checkFailures: string[]
  /** Free-form facts worth printing next to the numbers (e.g. the token cache being bypassed). */
  notes: string[]
}

/** Percentile of an ascending array (nearest-rank); 0 for an empty one. */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number
}

/** Statistics of response times in milliseconds (sorts the array in place). */
export function summariseLatencies (values: Float64Array): LatencySummary {
  values.sort()
  let total = 0
  for (const value of values) total += value
  return {
    mean: values.length === 0 ? 0 : total / values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length === 0 ? 0 : values[values.length - 1] as number
  }
}

/** Why a scenario's numbers cannot be trusted; empty when they can. */
export function problemsOf (result: ScenarioResult): string[] {
  const problems: string[] = [...result.checkFailures]
  if (result.requests === 0) problems.push('no responses')
  if (result.errors > 0) problems.push(`${result.errors} connection errors${result.timeouts > 0 ? ` (${result.timeouts} timeouts)` : ''}`)
  const unexpected = Object.entries(result.statusCounts).filter(([status]) => Number(status) !== result.expectedStatus)
  if (unexpected.length > 0) {
    problems.push(`unexpected statuses: ${unexpected.map(([status, count]) => `${count} × ${status}`).join(', ')} (expected ${result.expectedStatus})`)
  }
  if (result.mismatches > 0) problems.push(`${result.mismatches} responses with an unexpected body`)
  return problems
}

/**
 * Who limited the throughput. A server that is not busy while the load generator is
 * was not saturated: its req/s is then a floor, and for the baseline that flatters
 * every ratio. Undefined when the server was the bottleneck (or CPU was not measured).
 */
export function saturationWarning (result: ScenarioResult): string | undefined {
  const { serverCpuPercent: server, loaderCpuPercent: loader } = result
  if (server === undefined || loader === undefined || server >= 90) return undefined
  const cause = loader >= 90
    ? 'the load generator used a whole core, so it was the bottleneck'
    : 'neither process used a whole core: other work on the machine took the CPU'
  return `server CPU ${formatNumber(server)} % (not saturated): ${cause}; req/s is a lower bound${result.id === 'baseline' ? ', which makes every ratio look better than it is' : ''}`
}

/**
 * One scenario's result from several interleaved rounds: the round with the most
 * req/s (other work on a shared machine only ever slows a round down), with the
 * highest peak RSS of all rounds. Any invalid round makes the result that round:
 * an invalid run must never be hidden by a good one.
 */
export function bestRound (rounds: readonly ScenarioResult[]): ScenarioResult {
  const [first] = rounds
  if (first === undefined) throw new Error('a scenario without results')
  if (rounds.length === 1) return first
  const invalid = rounds.findIndex((round) => problemsOf(round).length > 0)
  const chosen = invalid !== -1 ? rounds[invalid] as ScenarioResult : rounds.reduce((best, round) => round.rps > best.rps ? round : best)
  const peaks = rounds.map((round) => round.peakRssMb).filter((peak): peak is number => peak !== undefined)
  const perRound = rounds.map((round) => formatNumber(round.rps)).join(', ')
  return {
    ...chosen,
    peakRssMb: peaks.length > 0 ? Math.max(...peaks) : undefined,
    notes: [...chosen.notes, invalid !== -1 ? `round ${invalid + 1} of ${rounds.length} is invalid (req/s per round: ${perRound})` : `best of ${rounds.length} rounds (req/s per round: ${perRound})`]
  }
}

export type Comparator = '>=' | '<=' | '<'

export interface TargetDefinition {
  id: string
  /** What the target says, for the table. */
  label: string
  /** `rps` and `p99` of a scenario, or one of the process measurements. */
  metric: 'rps' | 'p99' | 'peakRssMb' | 'coldStartMs'
  /** The scenario measured (for rps and p99). */
  scenario?: string
  /** Relative targets: the scenario the value is divided by, and the factor it is compared with. */
  relativeTo?: string
  limit: number
  comparator: Comparator
}

/** Issue 8's targets, ratios within one run. */
export const TARGETS: readonly TargetDefinition[] = [
  { id: 'whoami-2025-rps', label: '(2) whoami, 2025-06-18: req/s ≥ 0.25 × baseline', metric: 'rps', scenario: 'whoami-2025', relativeTo: 'baseline', limit: 0.25, comparator: '>=' },
  { id: 'whoami-2025-p99', label: '(2) whoami, 2025-06-18: p99 ≤ 4 × baseline p99', metric: 'p99', scenario: 'whoami-2025', relativeTo: 'baseline', limit: 4, comparator: '<=' },
  { id: 'whoami-2026-rps', label: '(2) whoami, 2026-07-28: req/s ≥ 0.25 × baseline', metric: 'rps', scenario: 'whoami-2026', relativeTo: 'baseline', limit: 0.25, comparator: '>=' },
  { id: 'whoami-2026-p99', label: '(2) whoami, 2026-07-28: p99 ≤ 4 × baseline p99', metric: 'p99', scenario: 'whoami-2026', relativeTo: 'baseline', limit: 4, comparator: '<=' },
  { id: 'whoami-cold-rps', label: '(3) whoami, every token new: req/s ≥ 0.8 × (2)', metric: 'rps', scenario: 'whoami-cold', relativeTo: 'whoami-2025', limit: 0.8, comparator: '>=' },
  { id: 'tools-list-rps', label: '(4) tools/list: req/s ≥ 0.25 × baseline', metric: 'rps', scenario: 'tools-list', relativeTo: 'baseline', limit: 0.25, comparator: '>=' },
  { id: 'no-token-rps', label: '(5) no token → 401: req/s ≥ 0.5 × baseline', metric: 'rps', scenario: 'no-token', relativeTo: 'baseline', limit: 0.5, comparator: '>=' },
  { id: 'bad-signature-rps', label: '(5) bad signature → 401: req/s ≥ 0.5 × baseline', metric: 'rps', scenario: 'bad-signature', relativeTo: 'baseline', limit: 0.5, comparator: '>=' },
  { id: 'peak-rss', label: 'peak RSS under load < 150 MB', metric: 'peakRssMb', limit: 150, comparator: '<' },
  { id: 'cold-start', label: 'cold start (spawn → first tools/call) < 1 s', metric: 'coldStartMs', limit: 1000, comparator: '<' }
]

export interface ProcessMeasurements {
  /** VmHWM of the server under test while it served the load, MB; undefined when not measured. */
  peakRssMb?: number | undefined
  /** Best cold start, ms; undefined when not measured. */
  coldStartMs?: number | undefined
}

export type TargetStatus = 'PASS' | 'FAIL' | 'INVALID' | 'NOT RUN'

export interface TargetCheck {
  id: string
  label: string
  status: TargetStatus
  /** The compared value: a ratio for relative targets, else the measurement. */
  value: number | undefined
  limit: number
  comparator: Comparator
  /** What went into the value, e.g. "4,120 / 13,300 req/s". */
  detail: string
  /** For req/s ratios: the same ratio in requests per CPU-second, when both CPU figures exist. */
  perCpuValue?: number
}

function compare (value: number, comparator: Comparator, limit: number): boolean {
  if (comparator === '>=') return value >= limit
  if (comparator === '<=') return value <= limit
  return value < limit
}

export function formatNumber (value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function metricText (metric: 'rps' | 'p99', value: number): string {
  return metric === 'rps' ? `${formatNumber(value)} req/s` : `${formatNumber(value, 2)} ms`
}

/** Checks every target against one run. A target whose scenarios did not run is NOT RUN; one resting on an invalid scenario is INVALID. */
export function evaluateTargets (
  results: readonly ScenarioResult[],
  processes: ProcessMeasurements,
  targets: readonly TargetDefinition[] = TARGETS
): TargetCheck[] {
  const byId = new Map(results.map((result) => [result.id, result]))
  return targets.map((target): TargetCheck => {
    const base = { id: target.id, label: target.label, limit: target.limit, comparator: target.comparator }
    if (target.metric === 'peakRssMb' || target.metric === 'coldStartMs') {
      const value = processes[target.metric]
      if (value === undefined) return { ...base, status: 'NOT RUN', value: undefined, detail: 'not measured' }
      const detail = target.metric === 'peakRssMb' ? `${formatNumber(value, 1)} MB` : `${formatNumber(value)} ms`
      return { ...base, status: compare(value, target.comparator, target.limit) ? 'PASS' : 'FAIL', value, detail }
    }
    const scenario = target.scenario === undefined ? undefined : byId.get(target.scenario)
    const reference = target.relativeTo === undefined ? undefined : byId.get(target.relativeTo)
    if (scenario === undefined || (target.relativeTo !== undefined && reference === undefined)) {
      return { ...base, status: 'NOT RUN', value: undefined, detail: `needs ${[target.scenario, target.relativeTo].filter(Boolean).join(' and ')}` }
    }
    const invalid = [scenario, reference].filter((r): r is ScenarioResult => r !== undefined && problemsOf(r).length > 0)
    const metric = target.metric
    const read = (r: ScenarioResult): number => metric === 'rps' ? r.rps : r.latency.p99
    if (reference === undefined) {
      const value = read(scenario)
      return { ...base, status: invalid.length > 0 ? 'INVALID' : compare(value, target.comparator, target.limit) ? 'PASS' : 'FAIL', value, detail: metricText(metric, value) }
    }
    const value = read(reference) === 0 ? Number.NaN : read(scenario) / read(reference)
    const detail = `${metricText(metric, read(scenario))} vs ${metricText(metric, read(reference))}`
    const perCpu = [requestsPerCpuSecond(scenario), requestsPerCpuSecond(reference)]
    const extra = metric === 'rps' && perCpu[0] !== undefined && perCpu[1] !== undefined ? { perCpuValue: perCpu[0] / perCpu[1] } : {}
    if (invalid.length > 0) return { ...base, ...extra, status: 'INVALID', value, detail: `${detail}; invalid run: ${invalid.map((r) => r.id).join(', ')}` }
    return { ...base, ...extra, status: Number.isFinite(value) && compare(value, target.comparator, target.limit) ? 'PASS' : 'FAIL', value, detail }
  })
}

export interface Verdict {
  /** Every scenario valid and no target failed. */
  ok: boolean
  valid: boolean
  reasons: string[]
}

/** The run's outcome. With `enforceTargets` false (profiling) only validity counts. */
export function verdictOf (results: readonly ScenarioResult[], checks: readonly TargetCheck[], enforceTargets = true): Verdict {
  const reasons: string[] = []
  for (const result of results) {
    for (const problem of problemsOf(result)) reasons.push(`${result.id}: ${problem}`)
  }
  const valid = reasons.length === 0
  if (enforceTargets) {
    for (const check of checks) {
      if (check.status === 'FAIL') reasons.push(`target missed: ${check.label} (${check.detail})`)
    }
  }
  return { ok: reasons.length === 0, valid, reasons }
}

/** A Markdown pipe table, padded so it also reads well in a terminal. Columns whose header starts with a space are right-aligned. */
export function markdownTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const right = header.map((cell) => cell.startsWith(' '))
  const cells = [header.map((cell) => cell.trim()), ...rows]
  const widths = header.map((_, column) => Math.max(3, ...cells.map((row) => (row[column] ?? '').length)))
  const line = (row: readonly string[]) => '| ' + widths.map((width, column) => {
    const cell = row[column] ?? ''
    return right[column] === true ? cell.padStart(width) : cell.padEnd(width)
  }).join(' | ') + ' |'
  const rule = '|' + widths.map((width, column) => right[column] === true ? '-'.repeat(width + 1) + ':' : '-'.repeat(width + 2)).join('|') + '|'
  return [line(cells[0] as string[]), rule, ...cells.slice(1).map(line)].join('\n')
}

/** Requests per second of server CPU: the cost of a request, whatever else the machine was doing. */
export function requestsPerCpuSecond (result: ScenarioResult): number | undefined {
  if (result.serverCpuPercent === undefined || result.serverCpuPercent <= 0) return undefined
  return result.rps / (result.serverCpuPercent / 100)
}

/** The scenario table: one row per scenario, ratios against `baselineId`. */
export function scenarioTable (results: readonly ScenarioResult[], baselineId = 'baseline'): string {
  const baseline = results.find((result) => result.id === baselineId)
  const baselinePerCpu = baseline === undefined ? undefined : requestsPerCpuSecond(baseline)
  const rows = results.map((result) => {
    const perCpu = requestsPerCpuSecond(result)
    const problems = problemsOf(result)
    const statuses = Object.entries(result.statusCounts).map(([status, count]) => `${formatNumber(count)} × ${status}`).join(', ')
    return [
      result.title,
      formatNumber(result.rps),
      baseline === undefined || baseline.rps === 0 ? '–' : `${formatNumber(result.rps / baseline.rps, 2)} ×`,
      formatNumber(result.latency.p50, 2),
      formatNumber(result.latency.p99, 2),
      formatNumber(result.errors),
      formatNumber(result.non2xx),
      result.peakRssMb === undefined ? '–' : formatNumber(result.peakRssMb),
      result.serverCpuPercent === undefined ? '–' : `${formatNumber(result.serverCpuPercent)} %`,
      result.loaderCpuPercent === undefined ? '–' : `${formatNumber(result.loaderCpuPercent)} %`,
      perCpu === undefined ? '–' : `${formatNumber(perCpu)}${baselinePerCpu === undefined ? '' : ` (${formatNumber(perCpu / baselinePerCpu, 2)} ×)`}`,
      statuses === '' ? '–' : statuses,
      problems.length === 0 ? 'ok' : 'INVALID'
    ]
  })
  return markdownTable(['Scenario', ' req/s', ' × baseline', ' p50 ms', ' p99 ms', ' errors', ' non-2xx', ' peak RSS MB', ' server CPU', ' loader CPU', ' req per CPU-s', 'statuses', 'valid'], rows)
}

function limitText (check: TargetCheck): string {
  const relative = check.id !== 'peak-rss' && check.id !== 'cold-start'
  const symbol = check.comparator === '>=' ? '≥' : check.comparator === '<=' ? '≤' : '<'
  if (!relative) return `${symbol} ${formatNumber(check.limit)} ${check.id === 'peak-rss' ? 'MB' : 'ms'}`
  return `${symbol} ${formatNumber(check.limit, 2)} ×`
}

export function targetTable (checks: readonly TargetCheck[]): string {
  const rows = checks.map((check) => {
    const relative = check.id !== 'peak-rss' && check.id !== 'cold-start'
    const measured = check.value === undefined ? '–' : relative ? `${formatNumber(check.value, 2)} ×` : check.detail
    const perCpu = check.perCpuValue === undefined ? '–' : `${formatNumber(check.perCpuValue, 2)} ×`
    return [check.label, measured, limitText(check), perCpu, relative ? check.detail : '', check.status]
  })
  return markdownTable(['Target', ' measured', ' limit', ' per CPU-s', 'from', 'result'], rows)
}
