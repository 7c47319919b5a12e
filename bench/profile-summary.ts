/**
 * Where the time goes, from a V8 `.cpuprofile` (`node --cpu-prof`): self time per
 * function, per file and per package, and inclusive time per package (a sample
 * counts once for every package on its stack). Only samples inside the measured
 * window are counted, so start-up and warm-up do not blur the picture.
 */
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatNumber, markdownTable } from './report.ts'

export interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

export interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

/** The subset of the Chrome DevTools CPU profile format that is read here. */
export interface CpuProfile {
  nodes: ProfileNode[]
  /** Microseconds, on the monotonic clock (the one process.hrtime reads, on Linux). */
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface Entry {
  name: string
  samples: number
  /** Share of the busy (non-idle) samples, 0–100. */
  percent: number
}

export interface ProfileSummary {
  /** Samples counted (inside the window when one was given and matched). */
  samples: number
  /** Of which idle: the server waiting for work. */
  idleSamples: number
  /** Mean sampling interval, microseconds. */
  intervalUs: number
  /** False when no window was given or it matched no sample (then the whole profile is counted). */
  windowed: boolean
  /** A window was given but matched no sample (clock mismatch?). */
  windowMissed: boolean
  functions: Entry[]
  files: Entry[]
  packages: Entry[]
  /** Packages other than Node core and V8 natives, which sit on nearly every stack. */
  packagesInclusive: Entry[]
  /** The project's own functions, inclusive: which step of the request path the time is spent under. */
  projectInclusive: Entry[]
}

/** Native frames whose self time is mostly the kernel's (a socket write on loopback runs the TCP stack of both ends). */
const KERNEL_HEAVY_NATIVES = new Set(['writeUtf8String', 'writeBuffer', 'writev', 'writeLatin1String', 'writeAsciiString'])

const SPECIAL = new Set(['(root)', '(program)', '(idle)', '(garbage collector)'])

export interface Location {
  /** Project-relative path, `<package>/<path>` inside node_modules, a `node:` module, or a V8 pseudo-frame. */
  file: string
  /** `mcp-gateway`, an npm package name, `node core`, `V8/native`, or a V8 pseudo-frame such as `(garbage collector)`. */
  pkg: string
}

/** Names the file and package a frame belongs to. `root` is the project folder. */
export function locationOf (frame: Pick<CallFrame, 'functionName' | 'url'>, root: string): Location {
  const { url, functionName } = frame
  if (url === '') {
    if (SPECIAL.has(functionName)) return { file: functionName, pkg: functionName }
    return { file: '(native)', pkg: 'V8/native' }
  }
  if (url.startsWith('node:')) return { file: url, pkg: 'node core' }
  let path = url
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url)
    } catch {
      path = url.slice('file://'.length)
    }
  }
  const marker = '/node_modules/'
  const at = path.lastIndexOf(marker)
  if (at !== -1) {
    const inside = path.slice(at + marker.length)
    const parts = inside.split('/')
    const pkg = inside.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] ?? inside
    return { file: inside, pkg }
  }
  if (path.startsWith('/')) {
    const rel = relative(root, path)
    if (!rel.startsWith('..')) return { file: rel, pkg: 'mcp-gateway' }
  }
  return { file: path, pkg: path }
}

function top (counts: Map<string, number>, busy: number, limit: number): Entry[] {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([name, samples]) => ({ name, samples, percent: busy === 0 ? 0 : (samples / busy) * 100 }))
}

function add (counts: Map<string, number>, key: string, amount = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + amount)
}

export interface SummaryOptions {
  /** Project root, to name files relative to it. */
  root: string
  /** [start, end] in microseconds on the profile's clock. */
  window?: readonly [number, number] | undefined
  /** Rows per list. */
  limit?: number
}

export function summariseProfile (profile: CpuProfile, { root, window, limit = 15 }: SummaryOptions): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const locations = new Map(profile.nodes.map((node) => [node.id, locationOf(node.callFrame, root)]))

  // Sample timestamps: startTime plus the running sum of the deltas.
  const times = new Array<number>(profile.samples.length)
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0
    times[i] = t
  }
  const inWindow = (i: number) => window === undefined || ((times[i] as number) >= window[0] && (times[i] as number) <= window[1])
  const windowed = window !== undefined && times.some((_, i) => inWindow(i))
  const counted = (i: number) => !windowed || inWindow(i)

  const functions = new Map<string, number>()
  const files = new Map<string, number>()
  const packages = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const projectInclusive = new Map<string, number>()
  const frameName = (node: ProfileNode, location: Location): string => {
    const { functionName, lineNumber } = node.callFrame
    const name = functionName === '' ? '(anonymous)' : functionName
    return SPECIAL.has(functionName) || location.file === '(native)' ? name : `${name}  ${location.file}:${lineNumber + 1}`
  }
  // Per leaf node: the packages and project functions on its stack, each once (recursion must not count twice).
  const stackCache = new Map<number, { packages: Set<string>, project: Set<string> }>()
  const onStack = (id: number) => {
    const cached = stackCache.get(id)
    if (cached !== undefined) return cached
    const packages = new Set<string>()
    const project = new Set<string>()
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const location = locations.get(current)
      const node = byId.get(current)
      if (location === undefined || node === undefined) continue
      if (location.pkg !== '(root)' && location.pkg !== 'node core' && location.pkg !== 'V8/native') packages.add(location.pkg)
      if (location.pkg === 'mcp-gateway') project.add(frameName(node, location))
    }
    const entry = { packages, project }
    stackCache.set(id, entry)
    return entry
  }

  let samples = 0
  let idle = 0
  let first = Number.POSITIVE_INFINITY
  let last = Number.NEGATIVE_INFINITY
  for (let i = 0; i < profile.samples.length; i++) {
    if (!counted(i)) continue
    const id = profile.samples[i] as number
    const node = byId.get(id)
    if (node === undefined) continue
    samples++
    first = Math.min(first, times[i] as number)
    last = Math.max(last, times[i] as number)
    if (node.callFrame.functionName === '(idle)') {
      idle++
      continue
    }
    const location = locations.get(id) as Location
    add(functions, frameName(node, location))
    add(files, location.file)
    add(packages, location.pkg)
    const stack = onStack(id)
    for (const pkg of stack.packages) add(inclusive, pkg)
    for (const fn of stack.project) add(projectInclusive, fn)
  }
  const busy = samples - idle
  return {
    samples,
    idleSamples: idle,
    intervalUs: samples > 1 ? (last - first) / (samples - 1) : 0,
    windowed,
    windowMissed: window !== undefined && !windowed,
    functions: top(functions, busy, limit),
    files: top(files, busy, limit),
    packages: top(packages, busy, limit),
    packagesInclusive: top(inclusive, busy, limit),
    projectInclusive: top(projectInclusive, busy, limit)
  }
}

function entryRows (entries: readonly Entry[]): string[][] {
  return entries.map((entry) => [
    `${formatNumber(entry.percent, 1)} %`,
    KERNEL_HEAVY_NATIVES.has(entry.name) ? `${entry.name} (socket write: mostly kernel TCP time on loopback)` : entry.name
  ])
}

/** The summary as Markdown: four short tables. */
export function formatProfileSummary (summary: ProfileSummary, title: string): string {
  const busy = summary.samples - summary.idleSamples
  const idlePercent = summary.samples === 0 ? 0 : (summary.idleSamples / summary.samples) * 100
  return [
    `#### ${title}`,
    '',
    `${formatNumber(summary.samples)} samples every ~${formatNumber(summary.intervalUs)} µs` +
      `${summary.windowed ? ' in the measured window' : summary.windowMissed ? ' (whole profile: the measured window matched no sample)' : ' (whole profile)'}; ` +
      `idle ${formatNumber(idlePercent, 1)} %; shares below are of the ${formatNumber(busy)} busy samples.`,
    '',
    'Self time by function:',
    '',
    markdownTable([' self', 'function  file:line'], entryRows(summary.functions)),
    '',
    'Self time by file:',
    '',
    markdownTable([' self', 'file'], entryRows(summary.files)),
    '',
    'Self time by package:',
    '',
    markdownTable([' self', 'package'], entryRows(summary.packages)),
    '',
    'Inclusive time by package (a sample counts once for every package on its stack; Node core and V8 natives, under nearly everything, left out):',
    '',
    markdownTable([' total', 'package'], entryRows(summary.packagesInclusive)),
    '',
    'Inclusive time by project function (code after an `await` is counted under the function it resumes in):',
    '',
    markdownTable([' total', 'function  file:line'], entryRows(summary.projectInclusive))
  ].join('\n')
}
