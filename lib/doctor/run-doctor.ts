/**
 * `npm run doctor`: checks a configuration the way clients and this server will meet
 * it. The app is built exactly as production builds it (app.ts, serverOptions, the
 * same configuration) but never listens: its trusted issuers, key stores, tool
 * registry and token verification are the ones the server would use, so the doctor
 * cannot drift from the server. Works against any issuer, including a development
 * server's own `${PUBLIC_URL}/oauth` while it runs.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import appPlugin, { serverOptions, type AppOptions } from '../../app.ts'
import type { Config } from '../config.ts'
import type { ToolDefinition } from '../tool.ts'
import { resourceIdentifiers } from '../resource.ts'
import type { AdviceContext } from './advice.ts'
import { checkIntrospection, introspectionSettings } from './introspection-check.ts'
import { checkIssuer, type FoundMetadata } from './issuer-checks.ts'
import type { Provider } from './providers.ts'
import { makeReport, type Check, type DoctorReport } from './report.ts'
import { checkServer } from './server-checks.ts'
import { checkToken } from './token-checks.ts'

export interface DoctorOptions {
  readonly config: Config
  /** Replaces the tools of tools/index.ts (tests). */
  readonly tools?: readonly ToolDefinition[] | undefined
  /** `--token`: an access token to try against the server. */
  readonly token?: string | undefined
}

/**
 * The app plugin without its encapsulation, so that the doctor can read the decorators
 * it sets up (issuers, tools). A new function: wrapping the shared export itself would
 * change it for everyone else in the process.
 */
const visibleApp = fp(async function mcpGateway (instance: FastifyInstance, opts: AppOptions) {
  await appPlugin(instance, opts)
})

export async function runDoctor ({ config, tools, token }: DoctorOptions): Promise<DoctorReport> {
  const checks: Check[] = []
  // The server's own logs would only interleave with the report.
  const app = Fastify(serverOptions({ ...config, LOG_LEVEL: 'silent' }))
  try {
    await app.register(visibleApp, { config, ...(tools !== undefined && { tools }) })
    await app.ready()
  } catch (error) {
    await app.close().catch(() => {})
    checks.push({
      id: 'server-start',
      section: 'Server',
      status: 'fail',
      message: `The server does not start with this configuration: ${(error as Error).message}`,
      fix: 'fix what the message names; the server would stop the same way at start-up.'
    })
    return makeReport(checks)
  }

  try {
    const issuers = app.issuers
    const scopes = app.tools.scopes
    const resources = resourceIdentifiers(config.PUBLIC_URL)
    const introspection = introspectionSettings(config)
    checks.push(...await checkServer(config, issuers.map((trusted) => trusted.issuer)))

    const providers = new Map<string, Provider | undefined>()
    const metadata = new Map<string, FoundMetadata | undefined>()
    for (const trusted of issuers) {
      const report = await checkIssuer(trusted, { publicUrl: config.PUBLIC_URL, resources, scopes, introspection: introspection !== undefined })
      checks.push(...report.checks)
      providers.set(trusted.issuer, report.provider)
      metadata.set(trusted.issuer, report.metadata)
    }
    const [primary] = issuers
    const primaryProvider = primary === undefined ? undefined : providers.get(primary.issuer)

    if (introspection !== undefined) {
      checks.push(...await checkIntrospection(introspection, primaryProvider, primary === undefined ? undefined : metadata.get(primary.issuer)?.document))
    }

    if (token !== undefined) {
      const adviceContext: AdviceContext = { issuer: primary?.issuer ?? config.OAUTH_ISSUER, resource: resources[0] ?? config.PUBLIC_URL, resources, scopes }
      checks.push(...await checkToken(token, {
        app,
        config,
        registry: app.tools,
        trustedIssuers: issuers.map((trusted) => trusted.issuer),
        // The token's own issuer picks the advice when it is one of ours; the first issuer's otherwise.
        providerFor: (iss) => (iss !== undefined && providers.has(iss)) ? providers.get(iss) : primaryProvider,
        advice: adviceContext
      }))
    }
  } finally {
    await app.close()
  }
  return makeReport(checks)
}

/** The report's title line. */
export function reportTitle (config: Config): string {
  return `mcp-gateway doctor: ${config.PUBLIC_URL} (NODE_ENV=${config.NODE_ENV})`
}
