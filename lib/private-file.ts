/**
 * A private JSON file of generated secrets (development keys, a client secret), created
 * on first use: read it when it exists; otherwise write `create()` to a temporary file
 * (mode 0600, folder 0700) and link it into place, which fails if another process got
 * there first — so processes starting together end up with one value, the winner's.
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

export async function readOrCreatePrivateFile<T> (path: string, create: () => unknown, parse: (text: string) => T): Promise<T> {
  try {
    return parse(await readFile(path, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  await writeFile(temporary, JSON.stringify(create(), null, 2), { mode: 0o600 })
  try {
    await link(temporary, path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await rm(temporary, { force: true })
  }
  return parse(await readFile(path, 'utf8'))
}
