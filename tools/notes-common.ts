/**
 * What the notes tools share: the backend they call (the notes example service,
 * examples/notes-api, named `notes` in BACKENDS) and the shape of a note.
 */
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { ToolError } from '../lib/tool.ts'

export const NOTES_BACKEND = 'notes'
export const MAX_NOTE_LENGTH = 2000

export const Note = Type.Object({
  id: Type.Integer({ description: 'The note\'s number at the notes service.' }),
  text: Type.String(),
  createdAt: Type.String({ description: 'When the note was written (ISO 8601, UTC).' })
}, { additionalProperties: false })
export type Note = Static<typeof Note>

const isNote = Compile(Note)

/** A note as the service sent it, checked: a service that answers something else gets a clear error, not a garbled result. */
export function noteFrom (value: unknown): Note {
  const candidate = typeof value === 'object' && value !== null ? value as Record<string, unknown> : {}
  const note = { id: candidate.id, text: candidate.text, createdAt: candidate.createdAt }
  if (!isNote.Check(note)) throw new ToolError('The notes backend answered with something that is not a note.')
  return note
}
