import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'

/** One dependency's state, as /readyz reports it. */
export interface ReadinessReport {
  ready: boolean
  /** Free-form details for operators (never secrets). */
  [detail: string]: unknown
}

export type ReadinessCheck = () => ReadinessReport | Promise<ReadinessReport>

declare module 'fastify' {
  interface FastifyInstance {
    /** Plugins that depend on something outside the process register how to tell whether it is ready. */
    readiness: {
      add (name: string, check: ReadinessCheck): void
      /** Runs every check; a check that throws counts as not ready. */
      report (): Promise<{ ready: boolean, checks: Record<string, ReadinessReport> }>
    }
  }
}

const health: FastifyPluginAsync = async (fastify) => {
  const checks = new Map<string, ReadinessCheck>()
  fastify.decorate('readiness', {
    add (name: string, check: ReadinessCheck) {
      if (checks.has(name)) throw new Error(`readiness check ${name} is registered twice`)
      checks.set(name, check)
    },
    async report () {
      const entries = await Promise.all([...checks].map(async ([name, check]): Promise<[string, ReadinessReport]> => {
        try {
          return [name, await check()]
        } catch (error) {
          return [name, { ready: false, error: (error as Error).message }]
        }
      }))
      return { ready: entries.every(([, report]) => report.ready), checks: Object.fromEntries(entries) }
    }
  })
}

export default fp(health, { name: 'health' })
