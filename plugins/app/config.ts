import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { loadConfig, type Config } from '../../lib/config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated configuration (lib/config.ts). */
    config: Config
  }
}

export interface ConfigPluginOptions {
  /** Already-validated configuration (server.ts and tests); read from the environment otherwise. */
  config?: Config
}

const configPlugin: FastifyPluginAsync<ConfigPluginOptions> = async (fastify, opts) => {
  fastify.decorate('config', opts.config ?? loadConfig(process.env))
}

export default fp(configPlugin, { name: 'config' })
