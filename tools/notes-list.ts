import { Type } from 'typebox'
import { defineTool, ToolError } from '../lib/tool.ts'
import { Note, noteFrom, NOTES_BACKEND } from './notes-common.ts'

export default defineTool({
  name: 'notes_list',
  title: 'List my notes',
  description: 'Lists the signed-in user\'s notes, newest first, from the notes service. Only that user\'s own notes exist for this tool; there is no way to read anyone else\'s.',
  requiredScopes: ['notes:read'],
  backends: [NOTES_BACKEND],
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  input: Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'How many notes to return at most (1 to 100; default 20).' }))
  }, { additionalProperties: false }),
  output: Type.Object({ notes: Type.Array(Note) }),
  render: ({ notes }) => notes.length === 0 ? 'You have no notes yet.' : notes.map((note) => `• ${note.text} (#${note.id}, ${note.createdAt})`).join('\n'),
  async handler ({ limit = 20 }, { backend }) {
    // The notes service knows who is asking from the credentials the backend client adds.
    const answer = await backend(NOTES_BACKEND).json<{ notes?: unknown }>('/notes', { query: { limit } })
    if (!Array.isArray(answer?.notes)) throw new ToolError('The notes backend answered without a list of notes.')
    return { notes: answer.notes.map(noteFrom) }
  }
})
