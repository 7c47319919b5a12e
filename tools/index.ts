/**
 * Every tool this server offers. Adding a tool: write `tools/<name>.ts` with
 * `defineTool`, add it here, and add `test/tools/<name>.test.ts`.
 */
import type { ToolDefinition } from '../lib/tool.ts'
import echo from './echo.ts'
import whoami from './whoami.ts'

export const tools: readonly ToolDefinition[] = [whoami, echo] as ToolDefinition[]
