/**
 * Preload for tests that spawn the real server.ts (`node --import
 * ./test/support/preload-slow-tool.ts server.ts`): adds the `slow` tool to tools/index.ts's
 * list before the app builds its registry.
 */
import type { ToolDefinition } from '../../lib/tool.ts'
import { tools } from '../../tools/index.ts'
import { slow } from './slow-tool.ts'

;(tools as ToolDefinition[]).push(slow as ToolDefinition)
