/**
 * oidc-provider storage in plain JSON files, one per model (`Client.json`, `Grant.json`,
 * `RefreshToken.json`, `Session.json`, …) in the development data folder, so registered
 * clients, grants, refresh tokens and sessions survive a restart or a `fastify start -w`
 * reload. Deleting the folder resets everything.
 *
 * Development only: each model is held in memory and the whole file is rewritten
 * (atomically: temp file + rename) after each change, before the change is acknowledged.
 * Writes of one model are serialised, and changes that arrive while a write is waiting
 * share the next one.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Adapter, AdapterPayload } from 'oidc-provider'

interface Entry {
  payload: AdapterPayload
  /** Epoch milliseconds; null for entries that never expire (clients). */
  expiresAt: number | null
}

/** Model names are oidc-provider's own (`Client`, `Session`, …); anything else would be a path. */
const MODEL_NAME = /^[A-Za-z]+$/

class ModelFile {
  readonly #path: string
  readonly #dir: string
  #entries: Promise<Map<string, Entry>> | undefined
  #writing: Promise<void> = Promise.resolve()
  #queued: Promise<void> | undefined

  constructor (dir: string, model: string) {
    this.#dir = dir
    this.#path = join(dir, `${model}.json`)
  }

  entries (): Promise<Map<string, Entry>> {
    this.#entries ??= this.#load()
    return this.#entries
  }

  async #load (): Promise<Map<string, Entry>> {
    let text: string
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
      throw error
    }
    let stored: unknown
    try {
      stored = JSON.parse(text)
    } catch {
      throw new Error(`${this.#path} is not valid JSON: delete it (or the whole development data folder) to start over`)
    }
    if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
      throw new Error(`${this.#path} does not hold a JSON object: delete it (or the whole development data folder) to start over`)
    }
    const now = Date.now()
    return new Map(Object.entries(stored as Record<string, Entry>).filter(([, entry]) => entry.expiresAt === null || entry.expiresAt > now))
  }

  /** Writes the current entries; resolves once a write that includes every change made so far is on disk. */
  persist (): Promise<void> {
    if (this.#queued !== undefined) return this.#queued
    const run = this.#writing.then(() => {
      this.#queued = undefined
      return this.#write()
    })
    this.#queued = run
    this.#writing = run.catch(() => {})
    return run
  }

  async #write (): Promise<void> {
    const entries = await this.entries()
    const now = Date.now()
    const live: Record<string, Entry> = {}
    for (const [id, entry] of entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) entries.delete(id)
      else live[id] = entry
    }
    await mkdir(this.#dir, { recursive: true, mode: 0o700 })
    const temporary = `${this.#path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    try {
      await writeFile(temporary, JSON.stringify(live), { mode: 0o600 })
      await rename(temporary, this.#path)
    } catch (error) {
      await rm(temporary, { force: true })
      throw error
    }
  }

  /** Waits for writes in flight (shutdown). */
  async settle (): Promise<void> {
    await this.#writing
  }
}

function copy (payload: AdapterPayload): AdapterPayload {
  return structuredClone(payload)
}

class FileAdapter implements Adapter {
  readonly #file: ModelFile

  constructor (file: ModelFile) {
    this.#file = file
  }

  async #live (id: string): Promise<Entry | undefined> {
    const entries = await this.#file.entries()
    const entry = entries.get(id)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      entries.delete(id)
      return undefined
    }
    return entry
  }

  async upsert (id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const entries = await this.#file.entries()
    entries.set(id, { payload: copy(payload), expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null })
    await this.#file.persist()
  }

  async find (id: string): Promise<AdapterPayload | undefined> {
    const entry = await this.#live(id)
    return entry === undefined ? undefined : copy(entry.payload)
  }

  async #findBy (predicate: (payload: AdapterPayload) => boolean): Promise<AdapterPayload | undefined> {
    const now = Date.now()
    for (const entry of (await this.#file.entries()).values()) {
      if ((entry.expiresAt === null || entry.expiresAt > now) && predicate(entry.payload)) return copy(entry.payload)
    }
    return undefined
  }

  findByUid (uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBy((payload) => payload.uid === uid)
  }

  findByUserCode (userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBy((payload) => payload.userCode === userCode)
  }

  async consume (id: string): Promise<void> {
    const entry = await this.#live(id)
    if (entry === undefined) return
    entry.payload.consumed = Math.floor(Date.now() / 1000)
    await this.#file.persist()
  }

  async destroy (id: string): Promise<void> {
    const entries = await this.#file.entries()
    if (entries.delete(id)) await this.#file.persist()
  }

  async revokeByGrantId (grantId: string): Promise<void> {
    const entries = await this.#file.entries()
    let changed = false
    for (const [id, entry] of entries) {
      if (entry.payload.grantId === grantId) {
        entries.delete(id)
        changed = true
      }
    }
    if (changed) await this.#file.persist()
  }
}

/** The files of one data folder; `adapter` is what oidc-provider's `adapter` option takes. */
export class FileStore {
  readonly dir: string
  readonly #files = new Map<string, ModelFile>()

  constructor (dir: string) {
    this.dir = dir
  }

  /** oidc-provider calls this once per model name. */
  readonly adapter = (model: string): Adapter => {
    if (!MODEL_NAME.test(model)) throw new Error(`unexpected oidc-provider model name ${JSON.stringify(model)}`)
    let file = this.#files.get(model)
    if (file === undefined) {
      file = new ModelFile(this.dir, model)
      this.#files.set(model, file)
    }
    return new FileAdapter(file)
  }

  /** Waits for every write in flight. */
  async close (): Promise<void> {
    await Promise.all([...this.#files.values()].map((file) => file.settle()))
  }
}
