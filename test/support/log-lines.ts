/** A pino logger whose lines the test can read. */
import { Writable } from 'node:stream'
import pino, { type Logger } from 'pino'

export function capturingLogger (level: pino.Level = 'debug'): { log: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  return { log: pino({ level }, stream), lines }
}
