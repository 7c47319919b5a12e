/**
 * A real redis-server (the Debian package; .ci/run installs it) on a loopback port, owned
 * by one test: it can be stopped and started again on the same port (an outage and its
 * end), or paused with SIGSTOP (a Redis that stops answering without closing connections).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'

/** Servers still running; killed if the test process exits without stopping them (a crash). */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** One PING over a fresh connection: true when Redis answers PONG. */
function pong (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const done = (ok: boolean) => { socket.destroy(); resolve(ok) }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')))
  })
}

export class RedisServer {
  port = 0
  #process: ChildProcess | undefined
  #paused = false

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<this> {
    if (this.#process !== undefined) throw new Error('redis-server is already running')
    if (this.port === 0) this.port = await freePort()
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' })
    const failed = new Promise<never>((_resolve, reject) => {
      child.once('error', (error) => reject(new Error(`cannot start redis-server (apt-get install redis-server; .ci/run does): ${error.message}`)))
      child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)))
    })
    failed.catch(() => {})
    this.#process = child
    running.add(child)
    child.once('exit', () => running.delete(child))
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await Promise.race([pong(this.port), failed])) return this
      await sleep(50)
    }
    throw new Error(`redis-server did not answer on port ${this.port}`)
  }

  /** Stops the server (SIGTERM); start() brings it back on the same port. */
  async stop (): Promise<void> {
    const child = this.#process
    if (child === undefined) return
    this.#process = undefined
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    if (this.#paused) this.resume(child)
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }

  /** SIGSTOP: connections stay open but nothing answers. */
  pause (): void {
    this.#process?.kill('SIGSTOP')
    this.#paused = true
  }

  resume (child = this.#process): void {
    child?.kill('SIGCONT')
    this.#paused = false
  }
}

export async function startRedis (t: Test): Promise<RedisServer> {
  const redis = await new RedisServer().start()
  t.after(() => redis.stop())
  return redis
}
