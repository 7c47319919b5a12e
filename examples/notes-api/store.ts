/**
 * Notes in a real embedded SQLite database, keyed by their owner: the issuer that vouched
 * for the user and the user's subject at that issuer (`iss` + `sub`, never `sub` alone:
 * two issuers may use the same subject for different people).
 *
 * node:sqlite (SQLite built into Node) rather than better-sqlite3: this project runs on the
 * Node 26 it brings while `npm install` runs on the system's Node, so a native addon
 * would be built for the wrong ABI, and its prebuilt binaries need a download. node:sqlite
 * has the same synchronous API shape and nothing to build.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'

export interface Owner {
  /** The issuer that vouched for the user. */
  readonly issuer: string
  /** The user at that issuer. */
  readonly subject: string
}

export interface Note {
  readonly id: number
  readonly text: string
  /** ISO 8601, UTC. */
  readonly createdAt: string
}

interface NoteRow { id: number, text: string, created_at: string }

export class NotesStore {
  readonly #db: DatabaseSync
  readonly #insert: StatementSync
  readonly #list: StatementSync

  /** `path` is a file (created with its folder) or `:memory:`. */
  constructor (path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    this.#db = new DatabaseSync(path)
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS notes_by_owner ON notes (issuer, subject, id DESC);
    `)
    this.#insert = this.#db.prepare('INSERT INTO notes (issuer, subject, text, created_at) VALUES (?, ?, ?, ?) RETURNING id, text, created_at')
    this.#list = this.#db.prepare('SELECT id, text, created_at FROM notes WHERE issuer = ? AND subject = ? ORDER BY id DESC LIMIT ?')
  }

  add (owner: Owner, text: string): Note {
    const row = this.#insert.get(owner.issuer, owner.subject, text, new Date().toISOString()) as unknown as NoteRow
    return { id: row.id, text: row.text, createdAt: row.created_at }
  }

  /** The owner's notes, newest first. */
  list (owner: Owner, limit: number): Note[] {
    return (this.#list.all(owner.issuer, owner.subject, limit) as unknown as NoteRow[]).map((row) => ({ id: row.id, text: row.text, createdAt: row.created_at }))
  }

  close (): void {
    if (this.#db.isOpen) this.#db.close()
  }
}
