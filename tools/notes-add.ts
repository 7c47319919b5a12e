import { Type } from 'typebox'
import { defineTool } from '../lib/tool.ts'
import { MAX_NOTE_LENGTH, Note, noteFrom, NOTES_BACKEND } from './notes-common.ts'

export default defineTool({
  name: 'notes_add',
  title: 'Add a note',
  description: 'Saves a note for the signed-in user at the notes service. The note belongs to that user alone.',
  requiredScopes: ['notes:write'],
  backends: [NOTES_BACKEND],
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  input: Type.Object({
    text: Type.String({ minLength: 1, maxLength: MAX_NOTE_LENGTH, description: `The note (1 to ${MAX_NOTE_LENGTH} characters).` })
  }, { additionalProperties: false }),
  output: Type.Object({ note: Note }),
  render: ({ note }) => `Saved note #${note.id}: ${note.text}`,
  async handler ({ text }, { backend }) {
    // POST: never retried by the client, so a note is not saved twice.
    return { note: noteFrom(await backend(NOTES_BACKEND).json('/notes', { method: 'POST', body: { text } })) }
  }
})
