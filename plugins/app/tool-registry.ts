import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { ToolRegistry, toolsWithBackends } from '../../lib/tool-registry.ts'
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
  const { offered, skipped } = toolsWithBackends(opts.tools ?? tools, (fastify.config.BACKENDS ?? []).map((backend) => backend.name))
  for (const { tool, missing } of skipped) {
    fastify.log.info({ tool, missingBackends: missing }, `tool ${tool} is not offered: it calls the backend${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which BACKENDS does not configure`)
  }
  // Scopes, PRM and the development authorization server all follow from what is offered.
  fastify.decorate('tools', new ToolRegistry(offered))
}

export default fp(toolRegistry, { name: 'tool-registry', dependencies: ['config'] })
