/**
 * A memory cgroup for a server process, sized like the Cloud Run instance that runs it
 * (`memory:` in deploy/service.yaml). V8 sizes its heap from the memory the process may
 * use: on a 24 GiB workstation it lets a busy server's heap grow to several hundred MB
 * before collecting, where a 512 MiB instance keeps it near its live size. Measuring
 * peak RSS without the instance's limit would measure the workstation.
 *
 * Needs a writable cgroup hierarchy (root on Linux, cgroup v1 or v2); when there is none,
 * `create` says why and the bench runs unconstrained, saying so in its output.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = '/sys/fs/cgroup'

/** `memory: 512Mi` (Kubernetes quantity) in a Cloud Run service definition → bytes. */
export function instanceMemoryBytes (serviceYaml: string): number {
  const match = /^\s*memory:\s*'?(\d+)(Ki|Mi|Gi|K|M|G)?'?\s*$/m.exec(serviceYaml)
  if (match === null) throw new Error('deploy/service.yaml names no memory limit (resources.limits.memory)')
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1
  return Number(match[1]) * unit
}

export class MemoryCgroup {
  readonly dir: string
  /** Write a PID here to move that process into the group. */
  readonly procs: string
  readonly limitBytes: number

  private constructor (dir: string, limitBytes: number) {
    this.dir = dir
    this.procs = join(dir, 'cgroup.procs')
    this.limitBytes = limitBytes
  }

  /** A new group limited to `limitBytes`, or why there cannot be one here. */
  static create (name: string, limitBytes: number): MemoryCgroup | { unavailable: string } {
    try {
      if (existsSync(join(ROOT, 'cgroup.controllers'))) {
        // cgroup v2: the memory controller must be enabled for children of the root.
        if (!readFileSync(join(ROOT, 'cgroup.subtree_control'), 'utf8').includes('memory')) writeFileSync(join(ROOT, 'cgroup.subtree_control'), '+memory')
        const dir = join(ROOT, name)
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, 'memory.max'), String(limitBytes))
        return new MemoryCgroup(dir, limitBytes)
      }
      if (existsSync(join(ROOT, 'memory'))) {
        const dir = join(ROOT, 'memory', name)
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes))
        return new MemoryCgroup(dir, limitBytes)
      }
      return { unavailable: 'no cgroup memory controller on this machine' }
    } catch (error) {
      return { unavailable: `cgroups are not writable here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; run as root to constrain memory)` }
    }
  }

  /** Removes the group (its processes must have exited). */
  remove (): void {
    try {
      rmdirSync(this.dir)
    } catch {}
  }
}
