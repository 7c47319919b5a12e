import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { ToolRegistry } from '../../lib/tool-registry.ts'
import type { ToolDefinition } from '../../lib/tool.ts'
import { tools } from '../../tools/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Every tool, with its schemas, validators and required scopes, built once at start-up. */
    tools: ToolRegistry
  }
}

export interface ToolRegistryOptions {
  /** Replaces the tools of tools/index.ts (tests). */
  tools?: readonly ToolDefinition[]
}

const toolRegistry: FastifyPluginAsync<ToolRegistryOptions> = async (fastify, opts) => {
  fastify.decorate('tools', new ToolRegistry(opts.tools ?? tools))
}

export default fp(toolRegistry, { name: 'tool-registry' })
