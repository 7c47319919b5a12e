/**
 * Every tool this server offers. Adding a tool: write `tools/<name>.ts` with
 * `defineTool`, add it here, and add `test/tools/<name>.test.ts`.
 */
import type { ToolDefinition } from '../lib/tool.ts'
import echo from './echo.ts'
import notesAdd from './notes-add.ts'
import notesList from './notes-list.ts'
import whoami from './whoami.ts'

/** Tools that name `backends` are offered only when BACKENDS configures them. */
export const tools: readonly ToolDefinition[] = [whoami, echo, notesList, notesAdd] as ToolDefinition[]
