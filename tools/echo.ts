import { Type } from 'typebox'
import { defineTool } from '../lib/tool.ts'

export default defineTool({
  name: 'echo',
  title: 'Echo',
  description: 'Returns the message it is given, unchanged. Useful to check that tool calls work end to end.',
  requiredScopes: ['execute:tools'],
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  input: Type.Object({
    message: Type.String({ minLength: 1, maxLength: 10_000, description: 'The text to echo back (1 to 10,000 characters).' })
  }, { additionalProperties: false }),
  output: Type.Object({ message: Type.String() }),
  render: ({ message }) => message,
  async handler ({ message }) {
    return { message }
  }
})
