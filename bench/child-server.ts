/**
 * Servers under test as child processes: spawned with the same Node binary as the
 * benchmark (`node <script>`, the way production starts), watched for an early
 * exit, measured through /proc, and stopped with SIGTERM so `--cpu-prof` can write
 * its profile on the way out.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** A free loopback port (the child binds it a moment later). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('could not reserve a port')
  return address.port
}

/** One field of /proc/<pid>/status in kB (VmHWM, VmRSS), or undefined off Linux or after exit. */
export function procStatusKb (pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

/** USER_HZ: the unit of /proc/<pid>/stat CPU times; 100 on every Linux ABI Node runs on. */
const CLOCK_TICKS_PER_S = 100

/** CPU time (user + system, all threads) a process has used, ms; undefined off Linux or after exit. */
export function procCpuMs (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S
  } catch {
    return undefined
  }
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (Linux ≥ 4.0); false when not possible. */
export function resetPeakRss (pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

const children = new Set<ChildProcess>()

/** Kills every child still running (on an abort: never leave servers behind). */
export function killAllChildren (): void {
  for (const child of children) child.kill('SIGKILL')
}

export interface ChildServerOptions {
  /** Script path relative to `cwd`. */
  script: string
  cwd: string
  env: Record<string, string>
  /** Extra Node flags (e.g. --cpu-prof). */
  nodeArgs?: readonly string[]
  label: string
  /** A cgroup's `cgroup.procs`: the process runs inside that group (see memory-cgroup.ts). */
  cgroupProcs?: string | undefined
}

export class ChildServer {
  readonly label: string
  readonly child: ChildProcess
  readonly #output: string[] = []
  readonly exited: Promise<number | null>
  #exitCode: number | null | undefined

  constructor ({ script, cwd, env, nodeArgs = [], label, cgroupProcs }: ChildServerOptions) {
    this.label = label
    const command = [process.execPath, ...nodeArgs, script]
    // In a cgroup: a shell moves itself into the group, then becomes Node (same PID, so /proc reads stay right).
    this.child = cgroupProcs === undefined
      ? spawn(command[0]!, command.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `echo $$ > '${cgroupProcs}' && exec "$0" "$@"`, ...command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(this.child)
    const keep = (chunk: Buffer) => {
      this.#output.push(chunk.toString())
      if (this.#output.length > 200) this.#output.shift()
    }
    this.child.stdout?.on('data', keep)
    this.child.stderr?.on('data', keep)
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        children.delete(this.child)
        this.#exitCode = code ?? (signal === null ? null : -1)
        resolve(this.#exitCode)
      })
    })
  }

  get pid (): number {
    if (this.child.pid === undefined) throw new Error(`${this.label} did not start`)
    return this.child.pid
  }

  get running (): boolean {
    return this.#exitCode === undefined
  }

  /** What the process printed (the last lines), for error messages. */
  output (): string {
    return this.#output.join('').trim().split('\n').slice(-30).join('\n')
  }

  /** Polls `attempt` until it returns a value; fails when the child exits first or `timeoutMs` passes. */
  async waitFor<T> (attempt: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 2): Promise<T> {
    const deadline = performance.now() + timeoutMs
    let lastError: unknown
    while (performance.now() < deadline) {
      if (!this.running) throw new Error(`${this.label} exited (code ${this.#exitCode}) before it was ready:\n${this.output()}`)
      try {
        const value = await attempt()
        if (value !== undefined) return value
      } catch (error) {
        lastError = error
      }
      await sleep(intervalMs)
    }
    throw new Error(`${this.label} was not ready within ${timeoutMs} ms${lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`}:\n${this.output()}`)
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  async stop (graceMs = 10_000): Promise<number | null> {
    if (!this.running) return this.exited
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}
