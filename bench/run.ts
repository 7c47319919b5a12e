/**
 * `npm run bench`: the authenticated MCP path against a bare Fastify route, on this
 * machine and Node version, with issue 8's targets checked. See `--help` and the
 * README's "Performance" section.
 *
 * Layout of one run: a loopback HTTPS token issuer (keys made for the run) → tokens
 * minted → cold starts (spawn → first good tools/call, best of a few) → the baseline
 * server alone under load → the server under test (the Dockerfile's CMD, `node dist/server.js`, production
 * mode) under each scenario's load. Each load is preceded by correctness checks
 * and a warm-up. autocannon runs here, each server in its own process.
 */
import { cpus, loadavg, totalmem } from 'node:os'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { BenchIssuer, withBadSignature } from './bench-issuer.ts'
import { ChildServer, freePort, killAllChildren, procCpuMs, procStatusKb, resetPeakRss } from './child-server.ts'
import { runLoad, type LoadMeasurement } from './load.ts'
import { formatProfileSummary, summariseProfile, type CpuProfile } from './profile-summary.ts'
import {
  bestRound,
  evaluateTargets,
  formatNumber,
  markdownTable,
  problemsOf,
  saturationWarning,
  scenarioTable,
  summariseLatencies,
  targetTable,
  verdictOf,
  type ScenarioResult
} from './report.ts'
import { parseDockerfile, runtimeCommand } from '../scripts/check-production.ts'
import { instanceMemoryBytes, MemoryCgroup } from './memory-cgroup.ts'
import { buildScenarios, checkWhoami, mcpRequest, SCENARIO_IDS, WARM_SUB, type HttpRequestSpec, type ObservedResponse, type Scenario } from './scenarios.ts'

const ROOT = join(import.meta.dirname, '..')
const RESULTS_DIR = join(import.meta.dirname, 'results')
/** The server's default; the cache-cold scenario rotates through more tokens than this. */
const TOKEN_CACHE_SIZE = 1000

const HELP = `npm run bench [-- options]

Measures the server under test (node dist/server.js as the Dockerfile runs it, built first) against a bare
Fastify route, checks the performance targets, prints the tables and writes
bench/results/<timestamp>.json. Exit code 1 when a target is missed or the run is
invalid (errors, unexpected statuses or bodies), 2 on a crash or time-out.

  --duration <s>       measured seconds per scenario (default 10)
  --warmup <s>         warm-up seconds per scenario (default 3)
  --connections <n>    concurrent connections (default 10)
  --tokens <n>         distinct users' tokens for the cache-cold scenario (default 10000, > ${TOKEN_CACHE_SIZE})
  --rounds <n>         interleaved rounds of all scenarios; each scenario's best round counts (default 2)
  --cold-starts <n>    cold start runs, best counts (default 3; 0 skips)
  --only <ids>         comma-separated scenarios to run besides the baseline:
                       whoami-2025, whoami-2026, whoami-cold, tools-list, no-token, bad-signature
  --profile            run each scenario (one round) and the first cold start on their own server started
                       with --cpu-prof and print where the time goes (numbers under the profiler are
                       indicative; targets do not fail the run)
  --log-level <level>  LOG_LEVEL of the servers (default warn)
  --help

The server inherits this environment; the bench sets NODE_ENV, LOG_LEVEL, PORT, HOST,
PUBLIC_URL, OAUTH_ISSUER, TOKEN_CACHE_SIZE and NODE_EXTRA_CA_CERTS, and raises the
RATE_LIMIT_*_MAX budgets so that the limiters count without refusing (overridable).`

interface Options {
  durationS: number
  warmupS: number
  connections: number
  tokens: number
  rounds: number
  coldStarts: number
  only: string[] | undefined
  profile: boolean
  logLevel: string
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '10' },
      tokens: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '2' },
      'cold-starts': { type: 'string', default: '3' },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
      help: { type: 'boolean', default: false }
    },
    strict: true
  })
  if (values.help) {
    console.log(HELP)
    process.exit(0)
  }
  const integer = (name: string, raw: string, min: number, max: number): number => {
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    return value
  }
  const options: Options = {
    durationS: integer('duration', values.duration, 1, 120),
    warmupS: integer('warmup', values.warmup, 0, 60),
    connections: integer('connections', values.connections, 1, 1000),
    tokens: integer('tokens', values.tokens, TOKEN_CACHE_SIZE + 1, 200_000),
    rounds: values.profile ? 1 : integer('rounds', values.rounds, 1, 10),
    coldStarts: integer('cold-starts', values['cold-starts'], 0, 20),
    only: values.only?.split(',').map((id) => id.trim()).filter((id) => id !== ''),
    profile: values.profile,
    logLevel: values['log-level']
  }
  const unknown = options.only?.filter((id) => !(SCENARIO_IDS as readonly string[]).includes(id)) ?? []
  if (unknown.length > 0) throw new UsageError(`--only: unknown scenario ${unknown.join(', ')}; known: ${SCENARIO_IDS.join(', ')}`)
  return options
}

class UsageError extends Error {}

function log (line: string): void {
  process.stderr.write(`${line}\n`)
}

async function observe (origin: string, request: HttpRequestSpec): Promise<ObservedResponse> {
  const response = await fetch(origin + request.path, { method: request.method, headers: request.headers, body: request.body })
  return { status: response.status, headers: response.headers, body: await response.text() }
}

/** The thorough checks: the plain request, or a few of the rotated tokens. */
async function checkScenario (origin: string, scenario: Scenario): Promise<string[]> {
  const problems: string[] = []
  const tokens = scenario.tokens
  const indexes = tokens === undefined ? [undefined] : [0, 1, tokens.length - 1]
  for (const index of indexes) {
    const request = index === undefined || tokens === undefined
      ? scenario.request
      : { ...scenario.request, headers: { ...scenario.request.headers, authorization: `Bearer ${tokens[index] as string}` } }
    try {
      const problem = scenario.check(await observe(origin, request), index)
      if (problem !== undefined) problems.push(`check${index === undefined ? '' : ` (token ${index})`}: ${problem}`)
    } catch (error) {
      problems.push(`check${index === undefined ? '' : ` (token ${index})`}: request failed: ${(error as Error).message}`)
    }
  }
  return problems
}

function resultOf (scenario: Scenario, load: LoadMeasurement | undefined, checkFailures: string[], peakRssMb?: number): ScenarioResult {
  const notes = [...scenario.notes]
  if (load?.firstError !== undefined) notes.push(`first error: ${load.firstError}`)
  if (load?.firstMismatch !== undefined) notes.push(`first unexpected body: ${load.firstMismatch}`)
  return {
    id: scenario.id,
    title: scenario.title,
    expectedStatus: scenario.expectedStatus,
    requests: load?.responses ?? 0,
    durationS: load?.elapsedS ?? 0,
    rps: load === undefined || load.elapsedS === 0 ? 0 : load.responses / load.elapsedS,
    latency: summariseLatencies(load?.latenciesMs ?? new Float64Array(0)),
    errors: load?.errors ?? 0,
    timeouts: load?.timeouts ?? 0,
    mismatches: load?.mismatches ?? 0,
    non2xx: load?.non2xx ?? 0,
    statusCounts: load?.statusCounts ?? {},
    peakRssMb,
    checkFailures,
    notes
  }
}

/** Checks, warms up and measures one scenario on a running server (`pid`: its peak RSS is measured too). */
async function measure (origin: string, scenario: Scenario, options: Options, pid: number): Promise<{ result: ScenarioResult, load: LoadMeasurement | undefined }> {
  const before = await checkScenario(origin, scenario)
  if (before.length > 0) {
    log(`  ✗ ${scenario.id}: the server does not answer as expected; not measured:\n    ${before.join('\n    ')}`)
    return { result: resultOf(scenario, undefined, before), load: undefined }
  }
  // One rotation for warm-up and measurement: the token sequence carries on instead of starting over.
  const load = { origin, request: scenario.request, tokens: scenario.tokens, rotation: { next: 0 }, connections: options.connections, verifyBody: scenario.verifyBody }
  const peakResets = resetPeakRss(pid)
  if (options.warmupS > 0) {
    log(`  ${scenario.id}: warm-up ${options.warmupS} s`)
    await runLoad({ ...load, durationS: options.warmupS })
  }
  log(`  ${scenario.id}: measuring ${options.durationS} s with ${options.connections} connections`)
  const cpuBefore = procCpuMs(pid)
  const measured = await runLoad({ ...load, durationS: options.durationS })
  const cpuAfter = procCpuMs(pid)
  // Without the reset (not Linux ≥ 4.0) VmHWM still counts start-up: an overestimate, never an underestimate.
  const peakKb = procStatusKb(pid, 'VmHWM')
  // Still answering correctly after the load?
  const after = await checkScenario(origin, scenario)
  const result = resultOf(scenario, measured, after.map((problem) => `after the load, ${problem}`), peakKb === undefined ? undefined : peakKb / 1024)
  if (!peakResets && peakKb !== undefined) result.notes.push('peak RSS includes start-up (VmHWM could not be reset)')
  if (cpuBefore !== undefined && cpuAfter !== undefined) result.serverCpuPercent = ((cpuAfter - cpuBefore) / (measured.elapsedS * 1000)) * 100
  result.loaderCpuPercent = measured.loaderCpuPercent
  const warning = saturationWarning(result)
  if (warning !== undefined) result.notes.push(warning)
  log(`  ${scenario.id}: ${formatNumber(result.rps)} req/s, p50 ${formatNumber(result.latency.p50, 2)} ms, p99 ${formatNumber(result.latency.p99, 2)} ms${problemsOf(result).length > 0 ? ` — INVALID: ${problemsOf(result).join('; ')}` : ''}`)
  return { result, load: measured }
}

interface ServerPlan {
  port: number
  origin: string
  env: Record<string, string>
  /** The Dockerfile's CMD entry, e.g. dist/server.js. */
  entry: string
  /** The memory cgroup the server runs in (the Cloud Run instance's limit), when there can be one. */
  cgroupProcs: string | undefined
}

function mcpServer (plan: ServerPlan, label: string, nodeArgs: string[] = []): ChildServer {
  return new ChildServer({ script: plan.entry, cwd: ROOT, env: plan.env, nodeArgs, label, cgroupProcs: plan.cgroupProcs })
}

/**
 * The server under test runs as the container does: the Dockerfile's CMD (compiled
 * JavaScript, built now with `npm run build`) with the runtime stage's ENV.
 */
function productionCommand (): { entry: string, env: Record<string, string> } {
  const command = runtimeCommand(parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')))
  const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
  if (build.status !== 0) throw new Error('npm run build failed: the benchmark measures the compiled server the Dockerfile runs')
  return command
}

async function waitReady (server: ChildServer, origin: string, probe: HttpRequestSpec, check: (response: ObservedResponse) => string | undefined): Promise<void> {
  await server.waitFor(async () => check(await observe(origin, probe)) === undefined ? true : undefined, 30_000, 5)
}

/** Spawn → first tools/call answered correctly, measured on a fresh process each time (`profileArgs`: for the first run). */
async function coldStarts (plan: ServerPlan, token: string, runs: number, profileArgs: string[] = []): Promise<number[]> {
  const probe = mcpRequest('legacy', 'tools/call', { name: 'whoami', arguments: {} }, token)
  const times: number[] = []
  for (let run = 1; run <= runs; run++) {
    const started = performance.now()
    const server = mcpServer(plan, `server under test (cold start ${run})`, run === 1 ? profileArgs : [])
    try {
      await server.waitFor(async () => checkWhoami(await observe(plan.origin, probe), WARM_SUB, 'legacy') === undefined ? true : undefined, 30_000, 1)
      times.push(performance.now() - started)
      log(`  cold start ${run}: ${formatNumber(times.at(-1) as number)} ms`)
    } finally {
      await server.stop()
    }
  }
  return times
}

interface ProfileReport {
  scenario: string
  file: string
  summaryFile: string
  summary: string
}

function profileOf (dir: string, name: string, window: [number, number] | undefined, title: string): ProfileReport {
  const file = join(dir, `${name}.cpuprofile`)
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const summary = formatProfileSummary(summariseProfile(profile, { root: ROOT, window }), title)
  const summaryFile = join(dir, `${name}.md`)
  writeFileSync(summaryFile, summary + '\n')
  return { scenario: name, file: relative(ROOT, file), summaryFile: relative(ROOT, summaryFile), summary }
}

async function main (): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  const major = Number(process.versions.node.split('.')[0])
  if (major < 26) throw new UsageError(`Node ${process.version}: run the benchmark with npm run bench (the project's Node 26)`)

  const startedAt = new Date()
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
  mkdirSync(RESULTS_DIR, { recursive: true })
  const profileDir = join(RESULTS_DIR, `${stamp}-profiles`)
  if (options.profile) mkdirSync(profileDir, { recursive: true })

  const cpu = cpus()
  const machine = { node: process.version, cpuModel: cpu[0]?.model ?? 'unknown', cores: cpu.length, memoryMb: Math.round(totalmem() / 2 ** 20), loadavgAtStart: loadavg() }
  log(`mcp-gateway benchmark — Node ${machine.node}, ${machine.cores} × ${machine.cpuModel}, load average ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`)

  const production = productionCommand()
  log(`server under test: node ${production.entry} (the Dockerfile's CMD, just built)${production.env.NODE_OPTIONS === undefined ? '' : ` with NODE_OPTIONS=${production.env.NODE_OPTIONS}`}`)
  // Each server runs within the Cloud Run instance's memory (deploy/service.yaml), as it would there.
  const instanceMemory = instanceMemoryBytes(readFileSync(join(ROOT, 'deploy/service.yaml'), 'utf8'))
  const groups = ['server', 'baseline'].map((role) => MemoryCgroup.create(`mcp-gateway-bench-${role}-${process.pid}`, instanceMemory))
  const [serverGroup, baselineGroup] = groups.map((group) => group instanceof MemoryCgroup ? group : undefined)
  const unconstrained = groups.find((group): group is { unavailable: string } => !(group instanceof MemoryCgroup))
  log(unconstrained === undefined
    ? `memory: each server in a cgroup limited to ${formatNumber(instanceMemory / 2 ** 20)} MiB, the Cloud Run instance's (deploy/service.yaml)`
    : `memory NOT constrained (${unconstrained.unavailable}): V8 sizes its heap from this machine's ${formatNumber(machine.memoryMb)} MiB, so peak RSS reads higher than on a ${formatNumber(instanceMemory / 2 ** 20)} MiB instance`)
  const removeGroups = () => { for (const group of groups) if (group instanceof MemoryCgroup) group.remove() }
  const issuer = await new BenchIssuer().start()
  onAbort = () => { issuer.removeFiles(); removeGroups() }
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const plan: ServerPlan = {
    port,
    origin,
    entry: production.entry,
    cgroupProcs: serverGroup?.procs,
    env: {
      // The container's environment (NODE_ENV, NODE_OPTIONS, …); the lines below set what differs on loopback.
      ...production.env,
      // The rate limiters run (their cost is part of the path) but never refuse: one bench
      // user sends thousands of requests a second. The environment can override these.
      RATE_LIMIT_CALLER_MAX: '1000000000',
      RATE_LIMIT_IP_MAX: '1000000000',
      RATE_LIMIT_AUTH_FAILURE_MAX: '1000000000',
      ...process.env as Record<string, string>,
      NODE_ENV: 'production',
      LOG_LEVEL: options.logLevel,
      PORT: String(port),
      HOST: '127.0.0.1',
      // The origin the load generator uses, so Host and audience checks see a consistent server.
      PUBLIC_URL: origin,
      OAUTH_ISSUER: issuer.issuer,
      TOKEN_CACHE_SIZE: String(TOKEN_CACHE_SIZE),
      NODE_EXTRA_CA_CERTS: issuer.caFile
    }
  }

  try {
    const audience = `${origin}/mcp`
    const t = performance.now()
    const token = await issuer.mint({ sub: WARM_SUB, aud: audience })
    const coldTokens = await issuer.mintMany(options.tokens, audience)
    const badTokens = coldTokens.map(withBadSignature)
    log(`minted ${formatNumber(options.tokens + 1)} RS256 tokens in ${formatNumber((performance.now() - t) / 1000, 1)} s (issuer ${issuer.issuer})`)

    let scenarios = buildScenarios({ token, coldTokens, badTokens, tokenCacheSize: TOKEN_CACHE_SIZE })
    if (options.only !== undefined) scenarios = scenarios.filter((s) => s.server === 'baseline' || options.only?.includes(s.id))
    // Bounded in time: every phase has its own limit, and this one catches anything else.
    const budgetS = 120 + options.rounds * scenarios.length * (options.warmupS + options.durationS + 40) + options.coldStarts * 35
    setTimeout(() => {
      log(`the benchmark exceeded its ${budgetS} s budget; stopping`)
      abort()
      process.exit(2)
    }, budgetS * 1000).unref()

    const profiles: ProfileReport[] = []
    const profileArgs = (name: string) => options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : []

    let coldStartMs: number[] = []
    if (options.coldStarts > 0) {
      log(`cold start (spawn → first successful authenticated tools/call), ${options.coldStarts} runs${options.profile ? ', the first one profiled' : ''}`)
      coldStartMs = await coldStarts(plan, token, options.coldStarts, profileArgs('cold-start'))
      // The whole life of the process: start-up, the first call, shutdown.
      if (options.profile) profiles.push(profileOf(profileDir, 'cold-start', undefined, 'cold start: spawn → first tools/call (whole process, profiled run)'))
    }
    const baselineScenario = scenarios.find((s) => s.server === 'baseline') as Scenario
    const basePort = await freePort()
    const baseOrigin = `http://127.0.0.1:${basePort}`
    const startBaseline = (nodeArgs: string[]) => new ChildServer({
      script: 'bench/baseline-server.ts',
      cwd: ROOT,
      env: { ...process.env as Record<string, string>, PORT: String(basePort), LOG_LEVEL: options.logLevel },
      nodeArgs,
      label: 'baseline server',
      cgroupProcs: baselineGroup?.procs
    })
    const readyProbe = mcpRequest('legacy', 'tools/call', { name: 'whoami', arguments: {} }, token)
    const readyCheck = (response: ObservedResponse) => checkWhoami(response, WARM_SUB, 'legacy')
    let startupRssMb = 0
    /** Starts the server a scenario runs on and waits until it answers correctly. */
    const start = async (scenario: Scenario, nodeArgs: string[]): Promise<{ server: ChildServer, origin: string }> => {
      if (scenario.server === 'baseline') {
        const server = startBaseline(nodeArgs)
        await waitReady(server, baseOrigin, baselineScenario.request, baselineScenario.check)
        return { server, origin: baseOrigin }
      }
      const server = mcpServer(plan, 'server under test', nodeArgs)
      await waitReady(server, origin, readyProbe, readyCheck)
      startupRssMb = Math.max(startupRssMb, (procStatusKb(server.pid, 'VmHWM') ?? 0) / 1024)
      return { server, origin }
    }
    const stop = async (server: ChildServer) => {
      const code = await server.stop()
      if (code !== 0) log(`  ${server.label} exited with code ${code}:\n${server.output()}`)
    }

    const rounds = new Map<string, ScenarioResult[]>(scenarios.map((s) => [s.id, []]))
    if (options.profile) {
      // One server per scenario, so each profile holds one scenario's work.
      for (const scenario of scenarios) {
        log(`${scenario.id} (profiled)`)
        const { server, origin: at } = await start(scenario, profileArgs(scenario.id))
        let window: [number, number] | undefined
        try {
          const { result, load } = await measure(at, scenario, options, server.pid)
          rounds.get(scenario.id)?.push(result)
          window = load?.windowUs
        } finally {
          await stop(server)
        }
        profiles.push(profileOf(profileDir, scenario.id, window, scenario.title))
      }
    } else {
      // Both servers stay up and the scenarios take turns, round after round: on a shared
      // machine a burst of other work then costs one round of one scenario, not a whole comparison.
      const baseline = await start(baselineScenario, [])
      const server = scenarios.some((s) => s.server === 'mcp') ? await start(scenarios.find((s) => s.server === 'mcp') as Scenario, []) : undefined
      try {
        for (let round = 1; round <= options.rounds; round++) {
          log(`round ${round} of ${options.rounds}`)
          for (const scenario of scenarios) {
            const target = scenario.server === 'baseline' ? baseline : server
            if (target === undefined) continue
            const { result } = await measure(target.origin, scenario, options, target.server.pid)
            rounds.get(scenario.id)?.push(result)
          }
        }
      } finally {
        await stop(baseline.server)
        if (server !== undefined) await stop(server.server)
      }
    }
    const results = scenarios.map((scenario) => bestRound(rounds.get(scenario.id) ?? []))

    // Each scenario's peak is measured from a reset VmHWM: the start-up peak is reported apart.
    const serverPeaks = [...rounds.entries()].filter(([id]) => id !== baselineScenario.id).flatMap(([, all]) => all.map((r) => r.peakRssMb ?? 0))
    const peakRssMb = serverPeaks.length > 0 && Math.max(...serverPeaks) > 0 ? Math.max(...serverPeaks) : undefined
    const coldStartBest = coldStartMs.length > 0 ? Math.min(...coldStartMs) : undefined
    const checks = evaluateTargets(results, { peakRssMb, coldStartMs: coldStartBest })
    const verdict = verdictOf(results, checks, !options.profile)
    const loadavgAtEnd = loadavg()

    const out: string[] = []
    out.push('', `## mcp-gateway benchmark, ${startedAt.toISOString()}`, '')
    out.push(`Node ${machine.node} on ${machine.cores} × ${machine.cpuModel}; load average ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ${loadavgAtEnd.map((l) => l.toFixed(2)).join(' ')} at end.`)
    out.push(unconstrained === undefined
      ? `Each server ran in a memory cgroup limited to ${formatNumber(instanceMemory / 2 ** 20)} MiB, the Cloud Run instance's memory (deploy/service.yaml), so V8 sized its heap as it would there.`
      : `**Memory was not constrained** (${unconstrained.unavailable}): V8 sized its heap from this machine's ${formatNumber(machine.memoryMb)} MiB, so peak RSS reads higher than on a ${formatNumber(instanceMemory / 2 ** 20)} MiB Cloud Run instance.`)
    out.push(`${options.connections} connections, ${options.warmupS} s warm-up + ${options.durationS} s measured per scenario${options.rounds > 1 ? `, ${options.rounds} interleaved rounds, best round shown` : ''}; autocannon in the benchmark process, each server in its own.${options.profile ? ' **Profiled run: every server ran under --cpu-prof, so the numbers are indicative only.**' : ''}`)
    const busy = results.filter((result) => saturationWarning(result) !== undefined).map((result) => result.id)
    if (busy.length > 0) {
      out.push('', `**Warning: the servers did not get a whole core in ${busy.join(', ')}** (other work on the machine, or the load generator was the bottleneck). ` +
        'Raw req/s ratios are unreliable in this run; the "req per CPU-s" column (cost per request) is the steadier comparison. Re-run on a quiet machine.')
    }
    out.push('', scenarioTable(results), '')
    for (const result of results) {
      for (const note of [...result.notes, ...problemsOf(result)]) out.push(`- ${result.id}: ${note}`)
    }
    out.push('')
    const processRows = [
      ['peak RSS while serving the load (VmHWM, highest scenario)', peakRssMb === undefined ? '–' : `${formatNumber(peakRssMb, 1)} MB`],
      ['RSS peak during start-up, before the load', startupRssMb === 0 ? '–' : `${formatNumber(startupRssMb, 1)} MB`],
      ['cold start runs (spawn → first good tools/call)', coldStartMs.length === 0 ? '–' : coldStartMs.map((ms) => `${formatNumber(ms)} ms`).join(', ')]
    ]
    out.push(markdownTable(['Server process', 'measured'], processRows), '')
    out.push(targetTable(checks), '')
    const missed = checks.filter((check) => check.status === 'FAIL').length
    if (options.profile) {
      out.push(`Result: profiled run, ${verdict.valid ? 'valid' : 'INVALID'}; targets reported, not enforced (${missed} of ${checks.length} missed under the profiler).`)
      if (!verdict.valid) out.push(verdict.reasons.map((r) => `- ${r}`).join('\n'))
    } else {
      out.push(verdict.ok
        ? 'Result: every target met, run valid.'
        : `Result: ${verdict.valid ? 'valid run' : 'INVALID run'}, ${verdict.reasons.length} problem(s):\n${verdict.reasons.map((r) => `- ${r}`).join('\n')}`)
    }
    for (const profile of profiles) out.push('', profile.summary, '', `(${profile.file}; open it in Chrome DevTools → Performance, or speedscope)`)

    const jsonFile = join(RESULTS_DIR, `${stamp}.json`)
    out.push('', `Written to ${relative(ROOT, jsonFile)}${options.profile ? ` and ${relative(ROOT, profileDir)}/` : ''}.`)
    console.log(out.join('\n'))

    writeFileSync(jsonFile, JSON.stringify({
      startedAt: startedAt.toISOString(),
      machine: { ...machine, loadavgAtEnd },
      memoryLimitBytes: unconstrained === undefined ? instanceMemory : null,
      options,
      tokenCacheSize: TOKEN_CACHE_SIZE,
      scenarios: results.map((result) => ({ ...result, problems: problemsOf(result) })),
      process: { peakRssUnderLoadMb: peakRssMb, startupRssMb, coldStartMs, coldStartBestMs: coldStartBest },
      rounds: Object.fromEntries([...rounds.entries()].map(([id, all]) => [id, all.map((r) => ({ rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, serverCpuPercent: r.serverCpuPercent, peakRssMb: r.peakRssMb, problems: problemsOf(r) }))])),
      targets: checks,
      verdict,
      profiles: profiles.map(({ scenario, file, summaryFile }) => ({ scenario, file, summaryFile }))
    }, null, 2) + '\n')
    return verdict.ok ? 0 : 1
  } finally {
    killAllChildren()
    await issuer.stop()
    // The groups can go once their processes have (killed children need a moment to be reaped).
    await new Promise((resolve) => setTimeout(resolve, 200))
    removeGroups()
  }
}

/** Cleanup that must also happen when the run is cut short (Ctrl-C, time budget). */
let onAbort = () => {}
function abort (): void {
  killAllChildren()
  onAbort()
}

process.once('SIGINT', () => {
  abort()
  process.exit(130)
})

main().then((code) => process.exit(code), (error: unknown) => {
  abort()
  if (error instanceof UsageError) {
    console.error(`bench: ${error.message}\n\n${HELP}`)
    process.exit(2)
  }
  console.error('bench: the run failed:', error)
  process.exit(2)
})
