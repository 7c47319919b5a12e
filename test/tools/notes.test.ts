import { test } from 'tap'
import notesAdd from '../../tools/notes-add.ts'
import notesList from '../../tools/notes-list.ts'
import { BackendError } from '../../lib/backends/errors.ts'
import { ToolError } from '../../lib/tool.ts'
import { fakeBackends, testContext } from '../support/tool-context.ts'

const note = { id: 7, text: 'buy milk', createdAt: '2026-05-01T10:00:00.000Z' }

function recording (answer: (request: Request) => Response | Promise<Response>) {
  const seen: Array<{ method: string, url: string, body: string, authorization: string | null }> = []
  const backend = fakeBackends({
    notes: async (request) => {
      seen.push({ method: request.method, url: request.url, body: await request.text(), authorization: request.headers.get('authorization') })
      return answer(request)
    }
  })
  return { seen, ctx: testContext({ backend }) }
}

test('no argument can name a user: the backend learns who is calling from the credentials alone', async (t) => {
  t.same(Object.keys(notesList.input.properties), ['limit'])
  t.same(Object.keys(notesAdd.input.properties), ['text'])
  t.equal((notesList.input as { additionalProperties?: unknown }).additionalProperties, false)
  t.equal((notesAdd.input as { additionalProperties?: unknown }).additionalProperties, false)
  t.same(notesList.backends, ['notes'])
  t.same(notesAdd.backends, ['notes'])
  t.same(notesList.requiredScopes, ['notes:read'])
  t.same(notesAdd.requiredScopes, ['notes:write'])
})

test('notes_list asks the notes backend for the caller\'s notes', async (t) => {
  const { seen, ctx } = recording(() => Response.json({ notes: [note, { ...note, id: 6, text: 'call mum' }] }))
  const result = await notesList.handler({}, ctx)
  t.same(result, { notes: [note, { ...note, id: 6, text: 'call mum' }] })
  t.same(seen, [{ method: 'GET', url: 'https://notes.test/notes?limit=20', body: '', authorization: 'Bearer test-token' }], 'GET /notes, 20 by default, nothing about the user but the credentials')
  await notesList.handler({ limit: 3 }, ctx)
  t.equal(seen[1]?.url, 'https://notes.test/notes?limit=3')
  t.equal(notesList.render?.(result), '• buy milk (#7, 2026-05-01T10:00:00.000Z)\n• call mum (#6, 2026-05-01T10:00:00.000Z)')
  t.equal(notesList.render?.({ notes: [] }), 'You have no notes yet.')
})

test('notes_add posts the text and returns the saved note', async (t) => {
  const { seen, ctx } = recording(() => Response.json(note, { status: 201 }))
  const result = await notesAdd.handler({ text: 'buy milk' }, ctx)
  t.same(result, { note })
  t.same(seen, [{ method: 'POST', url: 'https://notes.test/notes', body: '{"text":"buy milk"}', authorization: 'Bearer test-token' }])
  t.equal(notesAdd.render?.(result), 'Saved note #7: buy milk')
})

test('a backend refusal or a strange answer is an error the user can read', async (t) => {
  const refused = recording(() => Response.json({ error: 'insufficient_scope', message: 'this needs the scope notes:write' }, { status: 403 }))
  await t.rejects(notesAdd.handler({ text: 'x' }, refused.ctx), { name: 'BackendError', message: 'The notes backend refused access for you (HTTP 403: this needs the scope notes:write).' })

  for (const body of [{ notes: 'none' }, {}, { notes: [{ id: 'seven', text: 'x', createdAt: 'now' }] }]) {
    const odd = recording(() => Response.json(body))
    const error = await notesList.handler({}, odd.ctx).catch((caught: unknown) => caught)
    t.ok(error instanceof ToolError && !(error instanceof BackendError), JSON.stringify(body))
    t.match((error as Error).message, /The notes backend answered (without a list of notes|with something that is not a note)\./)
  }
  const oddNote = recording(() => Response.json({ id: 1 }, { status: 201 }))
  await t.rejects(notesAdd.handler({ text: 'x' }, oddNote.ctx), { message: 'The notes backend answered with something that is not a note.' })
})
