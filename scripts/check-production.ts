/**
 * The production path, checked the way the Dockerfile runs it, on a machine without a
 * container engine (CI): `npm run check:production`.
 *
 * 1. Reads the Dockerfile and fails when it disagrees with the project: every stage on
 *    package.json's Node major (the `node` devDependency, `engines`, and the Node running
 *    this check), a runtime stage with NODE_ENV=production, production dependencies only,
 *    a non-root USER, an exec-form CMD, a host of 0.0.0.0 — or when it uses an instruction
 *    this check cannot reproduce (then teach it here rather than let the two drift apart).
 * 2. Reproduces the image in a temporary folder: the build context filtered by
 *    .dockerignore, each stage's COPY and RUN steps, in order, with the stage's ENV.
 * 3. Starts the runtime stage's CMD as `nobody` (when run as root), against an https
 *    test issuer, and asserts /healthz, /readyz, the 401 challenge, the metadata, an
 *    authenticated tool call, Cloud Logging lines without secrets, and a clean SIGTERM.
 *
 * KEEP_CHECK_DIR=1 keeps the temporary folder for a look.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../lib/config.ts'
import { findSecrets } from '../test/support/log-capture.ts'
import { startTestIssuer } from '../test/support/test-issuer.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const started = performance.now()

export class CheckFailed extends Error {}
function fail (message: string): never {
  throw new CheckFailed(message)
}
function step (message: string): void {
  console.log(`✓ ${message} (${((performance.now() - started) / 1000).toFixed(1)} s)`)
}

// ---------------------------------------------------------------- the Dockerfile

interface Instruction { keyword: string, args: string, line: number }
interface Stage { image: string, name: string, instructions: Instruction[] }

/** Instructions this check reproduces (EXPOSE and LABEL change nothing it checks). */
const SUPPORTED = new Set(['FROM', 'WORKDIR', 'ENV', 'COPY', 'RUN', 'USER', 'CMD', 'EXPOSE', 'LABEL'])

export function parseDockerfile (text: string): Stage[] {
  const stages: Stage[] = []
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1
    let content = lines[index]!.trim()
    if (content === '' || content.startsWith('#')) continue
    while (content.endsWith('\\') && index + 1 < lines.length) content = `${content.slice(0, -1).trim()} ${lines[++index]!.trim()}`
    const [, word = '', args = ''] = /^(\S+)\s*(.*)$/.exec(content) ?? []
    const keyword = word.toUpperCase()
    if (!SUPPORTED.has(keyword)) fail(`Dockerfile line ${line}: ${keyword} is not an instruction scripts/check-production.ts reproduces; teach it there so CI keeps checking what the image does`)
    if (keyword === 'FROM') {
      const [, image = '', name] = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? []
      stages.push({ image, name: name ?? String(stages.length), instructions: [] })
      continue
    }
    const stage = stages.at(-1) ?? fail(`Dockerfile line ${line}: ${keyword} before FROM`)
    if (keyword === 'RUN' && args.startsWith('--')) fail(`Dockerfile line ${line}: RUN flags are not reproduced by scripts/check-production.ts`)
    if (keyword === 'COPY') parseCopy({ keyword, args, line })
    stage.instructions.push({ keyword, args, line })
  }
  if (stages.length === 0) fail('the Dockerfile has no FROM')
  return stages
}

/** `node:26-slim` → 26, `gcr.io/distroless/nodejs26-debian13` → 26. */
export function nodeMajorOfImage (image: string): number {
  const match = /^(?:docker\.io\/(?:library\/)?)?node:(\d+)(?:[.-]|$)/.exec(image) ?? /distroless\/nodejs(\d+)(?:-|$)/.exec(image)
  return match === null ? fail(`cannot tell the Node version of base image ${image}: use node:<major>-slim or gcr.io/distroless/nodejs<major>`) : Number(match[1])
}

/** `ENV A=1 B="two words"` (and the legacy `ENV A value`). */
export function parseEnv (args: string): Record<string, string> {
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([^=]*)$/.exec(args)
  if (legacy !== null) return { [legacy[1]!]: legacy[2]!.trim() }
  const env: Record<string, string> = {}
  for (const [, name, quoted, plain] of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/g)) {
    env[name!] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : plain ?? ''
  }
  return env
}

interface Copy { from: string | undefined, sources: string[], destination: string }

function parseCopy ({ args, line }: Instruction): Copy {
  const words = args.split(/\s+/)
  let from: string | undefined
  while (words[0]?.startsWith('--') === true) {
    const flag = words.shift()!
    if (flag.startsWith('--from=')) from = flag.slice(7)
    else if (!/^--(chown|chmod)=/.test(flag) && flag !== '--link') fail(`Dockerfile line ${line}: COPY ${flag} is not reproduced by scripts/check-production.ts`)
  }
  if (words[0]?.startsWith('[') === true) fail(`Dockerfile line ${line}: write COPY in its plain form`)
  const destination = words.pop()
  if (destination === undefined || words.length === 0) fail(`Dockerfile line ${line}: COPY needs a source and a destination`)
  return { from, sources: words, destination }
}

// ---------------------------------------------------------------- the build context

/** .dockerignore patterns (Go filepath.Match syntax, plus **) as regular expressions. */
export function ignorePatterns (text: string): Array<{ exclude: boolean, pattern: RegExp }> {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#')).map((line) => {
    const exclude = !line.startsWith('!')
    const glob = posix.normalize((exclude ? line : line.slice(1)).replace(/^\/+/, '')).replace(/\/+$/, '')
    const source = glob.split('/').map((segment) => segment === '**'
      ? '.*'
      : segment.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/')
    return { exclude, pattern: new RegExp(`^${source.replace(/\.\*\//g, '(?:.*/)?')}$`) }
  })
}

/** Docker's rule: the last pattern matching the path or one of its parents decides. */
export function excluded (path: string, patterns: ReturnType<typeof ignorePatterns>): boolean {
  const candidates = path.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/'))
  let result = false
  for (const { exclude, pattern } of patterns) {
    if (candidates.some((candidate) => pattern.test(candidate))) result = exclude
  }
  return result
}

function copyContext (destination: string): number {
  const patterns = existsSync(join(root, '.dockerignore')) ? ignorePatterns(readFileSync(join(root, '.dockerignore'), 'utf8')) : []
  let files = 0
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name)
      const relativePath = relative(root, path)
      if (entry.isDirectory()) {
        // Docker still walks an excluded directory for re-included files; the big ones never have any.
        if (['node_modules', '.git'].includes(relativePath)) continue
        walk(path)
      } else if (entry.isFile() && !excluded(relativePath, patterns)) {
        mkdirSync(dirname(join(destination, relativePath)), { recursive: true })
        cpSync(path, join(destination, relativePath))
        files++
      }
    }
  }
  walk(root)
  return files
}

// ---------------------------------------------------------------- reproducing the stages

interface BuiltStage { stage: Stage, root: string, workdir: string, env: Record<string, string>, user: string | undefined, cmd: string[] | undefined }

function run (command: string, cwd: string, env: Record<string, string>, line: number): void {
  const result = spawnSync('sh', ['-c', command], { cwd, env, stdio: 'inherit' })
  if (result.status !== 0) fail(`Dockerfile line ${line}: RUN ${command} failed (exit ${result.status ?? result.signal})`)
}

/**
 * This machine's network setup (proxy, extra CAs, npm's CA file and registry), which a
 * RUN step needs to reach the registry from here; it says nothing about the image.
 */
function networkEnv (): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR']) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  // npm reads its global npmrc next to the node it runs on; the project's Node has none.
  for (const setting of ['cafile', 'registry']) {
    const value = spawnSync('npm', ['config', 'get', setting], { encoding: 'utf8' }).stdout?.trim()
    if (value !== undefined && value !== '' && value !== 'null' && value !== 'undefined') env[`npm_config_${setting}`] = value
  }
  return env
}

function buildStages (stages: Stage[], workspace: string, context: string): BuiltStage[] {
  const built: BuiltStage[] = []
  const nodeBin = dirname(process.execPath)
  const network = networkEnv()
  for (const stage of stages) {
    const stageRoot = join(workspace, `stage-${stage.name}`)
    mkdirSync(stageRoot, { recursive: true })
    const current: BuiltStage = { stage, root: stageRoot, workdir: '/', env: {}, user: undefined, cmd: undefined }
    const inStage = (path: string, base: BuiltStage) => join(base.root, posix.resolve(base.workdir, path))
    // Each stage has its own npm cache, as in Docker; a stage that never cleans it may reuse this machine's (faster).
    const privateCache = stage.instructions.some(({ keyword, args }) => keyword === 'RUN' && /\bnpm cache clean\b/.test(args))
    for (const instruction of stage.instructions) {
      const { keyword, args, line } = instruction
      if (keyword === 'WORKDIR') {
        current.workdir = posix.resolve(current.workdir, args)
        mkdirSync(inStage('.', current), { recursive: true })
      } else if (keyword === 'ENV') {
        Object.assign(current.env, parseEnv(args))
      } else if (keyword === 'USER') {
        current.user = args
      } else if (keyword === 'CMD') {
        if (!args.startsWith('[')) fail(`Dockerfile line ${line}: use the exec form of CMD (a JSON array) so node is PID 1 and receives SIGTERM`)
        current.cmd = JSON.parse(args) as string[]
      } else if (keyword === 'COPY') {
        const copy = parseCopy(instruction)
        const source = copy.from === undefined ? undefined : built.find((other) => other.stage.name === copy.from) ?? fail(`Dockerfile line ${line}: no stage named ${copy.from}`)
        const destination = inStage(copy.destination, current)
        const intoDirectory = copy.destination.endsWith('/') || copy.sources.length > 1
        for (const sourcePath of copy.sources) {
          const from = source === undefined ? join(context, posix.normalize(sourcePath)) : inStage(sourcePath, source)
          if (!existsSync(from)) fail(`Dockerfile line ${line}: COPY ${sourcePath}: not in ${source === undefined ? 'the build context (see .dockerignore)' : `stage ${source.stage.name}`}`)
          // A directory's contents are copied; a file lands in the destination directory or as the destination.
          const target = statSync(from).isDirectory() || !intoDirectory ? destination : join(destination, posix.basename(sourcePath))
          mkdirSync(statSync(from).isDirectory() ? target : dirname(target), { recursive: true })
          cpSync(from, target, { recursive: true })
        }
      } else if (keyword === 'RUN') {
        run(args, inStage('.', current), {
          PATH: `${nodeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          HOME: process.env.HOME ?? '/root',
          npm_config_update_notifier: 'false',
          ...network,
          // The machine's cache is warm from `npm ci`: no need to revalidate every package.
          ...(privateCache ? { npm_config_cache: join(workspace, `npm-cache-${stage.name}`) } : { npm_config_prefer_offline: 'true' }),
          ...current.env
        }, line)
      }
    }
    built.push(current)
    step(`stage ${stage.name} (${stage.image}) reproduced`)
  }
  return built
}

// ---------------------------------------------------------------- checks

function majorOfRange (range: string | undefined, what: string): number {
  const match = /(\d+)/.exec(range ?? '')
  return match === null ? fail(`package.json has no ${what}`) : Number(match[1])
}

/** Fails on any disagreement; returns a one-line summary of what was checked. */
/** What the runtime stage runs: its CMD's entry (`dist/server.js`) and the environment its ENV lines set. */
export function runtimeCommand (stages: Stage[]): { entry: string, env: Record<string, string> } {
  const runtime = stages.at(-1) ?? fail('the Dockerfile has no stage')
  const env = Object.assign({}, ...runtime.instructions.filter(({ keyword }) => keyword === 'ENV').map(({ args }) => parseEnv(args))) as Record<string, string>
  const cmd = runtime.instructions.filter(({ keyword }) => keyword === 'CMD').at(-1) ?? fail('the runtime stage has no CMD')
  const [program, entry] = cmd.args.startsWith('[') ? JSON.parse(cmd.args) as string[] : []
  if (program !== 'node' || entry === undefined || !/^dist\/.+\.js$/.test(entry)) fail(`CMD must be the exec form ["node", "dist/<entry>.js"] (it is ${cmd.args})`)
  return { entry, env }
}

export function checkConsistency (stages: Stage[]): string {
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    engines?: { node?: string }, devDependencies?: Record<string, string>, scripts?: Record<string, string>
  }
  const pinned = majorOfRange(packageJson.devDependencies?.node, 'devDependencies.node (the project\'s Node)')
  const engines = majorOfRange(packageJson.engines?.node, 'engines.node')
  const running = Number(process.versions.node.split('.')[0])
  for (const stage of stages) {
    const major = nodeMajorOfImage(stage.image)
    if (major !== pinned) fail(`Dockerfile stage ${stage.name} uses Node ${major} (${stage.image}), package.json pins Node ${pinned}`)
  }
  if (engines !== pinned) fail(`package.json engines.node (${packageJson.engines?.node}) and devDependencies.node (${packageJson.devDependencies?.node}) disagree`)
  if (running !== pinned) fail(`this check runs on Node ${process.versions.node}; run it with the project's Node ${pinned} (npm run check:production)`)

  const runtime = stages.at(-1)!
  const { entry, env } = runtimeCommand(stages)
  if (env.NODE_ENV !== 'production') fail(`the runtime stage must set NODE_ENV=production (it sets ${JSON.stringify(env.NODE_ENV)})`)
  const runs = runtime.instructions.filter(({ keyword }) => keyword === 'RUN').map(({ args }) => args)
  if (!runs.some((command) => /\bnpm ci\b/.test(command) && /--omit=dev\b/.test(command))) fail('the runtime stage must install production dependencies only (npm ci --omit=dev)')
  if (runs.some((command) => /\bnpm (install|i)\b/.test(command))) fail('the runtime stage must install from the lockfile (npm ci), not npm install')
  const user = runtime.instructions.filter(({ keyword }) => keyword === 'USER').at(-1)?.args
  if (user === undefined || /^(root|0)(:.*)?$/.test(user)) fail('the runtime stage must switch to a non-root USER')
  if (relative(join(root, 'dist'), join(root, entry)).startsWith('..')) fail(`CMD entry ${entry} is outside dist/`)
  const source = join(root, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'))
  if (!existsSync(source)) fail(`CMD runs ${entry}, but there is no ${relative(root, source)} to compile it from`)
  const host = loadConfig({ ...env, OAUTH_ISSUER: 'https://issuer.example.com/' }).HOST
  if (host !== '0.0.0.0') fail(`the runtime stage would listen on ${host}; containers must listen on 0.0.0.0`)
  if (packageJson.scripts?.build === undefined) fail('package.json has no build script')
  return `Dockerfile agrees with package.json: Node ${pinned}, NODE_ENV=production, npm ci --omit=dev, USER ${user}, CMD node ${entry}`
}

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

async function probe (url: string, init?: RequestInit): Promise<Response | undefined> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(5000) })
  } catch {
    return undefined
  }
}

async function startAndProbe (runtime: BuiltStage, workspace: string): Promise<void> {
  const cmd = runtime.cmd ?? fail('the runtime stage has no CMD')
  const workdir = join(runtime.root, runtime.workdir)
  const entry = join(workdir, cmd[1]!)
  if (!existsSync(entry)) fail(`the build produced no ${cmd[1]} (CMD runs it)`)
  for (const devOnly of ['typescript', 'tap', 'oidc-provider', 'pino-pretty', 'fastify-cli', 'node']) {
    if (existsSync(join(workdir, 'node_modules', devOnly))) fail(`the runtime stage contains the devDependency ${devOnly}`)
  }
  if (existsSync(join(workdir, 'lib')) || existsSync(join(workdir, 'server.ts'))) fail('the runtime stage contains TypeScript sources; it should hold dist/ only')

  // An https issuer: production mode refuses any other.
  const certificates = join(workspace, 'tls')
  mkdirSync(certificates)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(certificates, 'key.pem'), '-out', join(certificates, 'cert.pem')], { stdio: 'ignore' })
  const issuer = await startTestIssuer({ tls: { key: readFileSync(join(certificates, 'key.pem'), 'utf8'), cert: readFileSync(join(certificates, 'cert.pem'), 'utf8') } })

  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const asRoot = process.getuid?.() === 0
  const argv = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', ...cmd] : cmd
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: workdir,
    env: {
      PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      ...runtime.env,
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      OAUTH_ISSUER: issuer.issuer,
      GOOGLE_CLOUD_PROJECT: 'check-production',
      NODE_EXTRA_CA_CERTS: join(certificates, 'cert.pem')
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: string[] = []
  let stderr = ''
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts.filter((line) => line !== ''))
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const output = () => `\n--- stdout ---\n${lines.join('\n')}\n--- stderr ---\n${stderr}`

  try {
    const deadline = Date.now() + 15_000
    let health: Response | undefined
    while (health?.status !== 200) {
      if (child.exitCode !== null) fail(`the server exited with ${child.exitCode} on start${output()}`)
      if (Date.now() > deadline) fail(`/healthz did not answer 200 within 15 s${output()}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
      health = await probe(`${publicUrl}/healthz`)
    }
    if ((await health.json() as { status?: string }).status !== 'ok') fail('/healthz did not say ok')
    if (asRoot) {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]
      if (uid !== '65534') fail(`the server runs as uid ${uid}, not as nobody`)
    }
    step(`started ${cmd.join(' ')} with NODE_ENV=${runtime.env.NODE_ENV}${asRoot ? ' as nobody' : ''}; /healthz 200`)

    let ready: Response | undefined
    while (ready?.status !== 200) {
      if (Date.now() > deadline) fail(`/readyz did not answer 200 within 15 s: ${await ready?.text()}${output()}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
      ready = await probe(`${publicUrl}/readyz`)
    }
    step('/readyz 200 (the issuer\'s keys loaded over https)')

    const mcp = (authorization?: string) => probe(`${publicUrl}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
        ...(authorization !== undefined && { authorization })
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } })
    })
    const challenge = await mcp()
    const header = challenge?.headers.get('www-authenticate') ?? ''
    const metadataUrl = `${publicUrl}/.well-known/oauth-protected-resource/mcp`
    if (challenge?.status !== 401 || !header.startsWith(`Bearer resource_metadata="${metadataUrl}"`)) {
      fail(`POST /mcp without a token: expected 401 with a Bearer challenge naming ${metadataUrl}, got ${challenge?.status} ${header}`)
    }
    step(`401 challenge: ${header}`)

    const metadata = await (await probe(metadataUrl))?.json() as { resource?: string, authorization_servers?: string[] } | undefined
    if (metadata?.resource !== `${publicUrl}/mcp` || metadata.authorization_servers?.[0] !== issuer.issuer) fail(`unexpected protected resource metadata: ${JSON.stringify(metadata)}`)
    const token = issuer.mint(`${publicUrl}/mcp`, { sub: 'production-check' })
    const call = await mcp(`Bearer ${token}`)
    const result = await call?.json() as { result?: { structuredContent?: { sub?: string } } } | undefined
    if (call?.status !== 200 || result?.result?.structuredContent?.sub !== 'production-check') fail(`an authenticated whoami failed: ${call?.status} ${JSON.stringify(result)}${output()}`)
    step('protected resource metadata, and an authenticated tools/call whoami')

    child.kill('SIGTERM')
    const [code, signal] = await Promise.race([
      exited,
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new CheckFailed(`no exit within 10 s of SIGTERM${output()}`)), 10_000))
    ])
    if (code !== 0) fail(`after SIGTERM the server exited with ${code ?? signal}, not 0${output()}`)
    step('SIGTERM: exit 0')

    const entries = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>
      } catch {
        return fail(`a log line is not JSON: ${line}`)
      }
    })
    if (!entries.every((entry) => typeof entry.severity === 'string' && typeof entry.message === 'string')) fail(`log lines without severity and message${output()}`)
    if (!entries.some((entry) => (entry.audit as { tool?: string } | undefined)?.tool === 'whoami')) fail(`no audit event for the whoami call${output()}`)
    const leaks = lines.flatMap((line) => findSecrets(line, [token]))
    if (leaks.length > 0) fail(`the logs carry credentials: ${leaks.join(', ')}`)
    step(`${lines.length} log lines, all Cloud Logging JSON, with the audit event and no credentials`)
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await issuer.stop()
  }
}

async function main (): Promise<void> {
  const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'))
  step(checkConsistency(stages))

  const workspace = mkdtempSync(join(tmpdir(), 'mcp-gateway-production-'))
  try {
    const context = join(workspace, 'context')
    const files = copyContext(context)
    step(`build context: ${files} files through .dockerignore`)
    const built = buildStages(stages, workspace, context)
    // The unprivileged user must be able to reach and read the runtime stage, as in the image.
    for (let path = built.at(-1)!.root; path.startsWith(workspace); path = dirname(path)) chmodSync(path, 0o755)
    await startAndProbe(built.at(-1)!, workspace)
    console.log(`production path OK in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  } finally {
    if (process.env.KEEP_CHECK_DIR === '1') console.log(`kept ${workspace}`)
    else rmSync(workspace, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(`✗ ${error instanceof CheckFailed ? error.message : (error as Error).stack}`)
    process.exit(1)
  })
}
