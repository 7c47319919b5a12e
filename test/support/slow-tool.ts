/** A tool that holds a request in flight for as long as a test needs. */
import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from 'typebox'
import { defineTool } from '../../lib/tool.ts'

export const slow = defineTool({
  name: 'slow',
  title: 'Slow',
  description: 'Waits, then answers.',
  requiredScopes: ['execute:tools'],
  input: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 60_000 }), label: Type.String() }),
  output: Type.Object({ label: Type.String(), waitedMs: Type.Integer() }),
  async handler ({ ms, label }, { log, signal }) {
    log.info({ label }, 'slow tool started')
    await sleep(ms, undefined, { signal })
    return { label, waitedMs: ms }
  }
})
