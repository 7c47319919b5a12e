/**
 * `npm run example:notes`: the notes service on http://localhost:4000, next to the MCP
 * server of `npm start` (http://localhost:3000), whose development authorization server
 * it trusts and whose signed assertions it accepts. Settings (environment):
 *
 *   NOTES_PORT            4000
 *   NOTES_HOST            localhost
 *   NOTES_DATABASE        .data/notes.sqlite
 *   NOTES_AUDIENCE        http://localhost:$NOTES_PORT  (the backend's `audience` in BACKENDS)
 *   NOTES_TRUSTED_ISSUER  http://localhost:3000/oauth   (the MCP server's OAUTH_ISSUER; empty: none)
 *   NOTES_GATEWAY_URL     http://localhost:3000         (the MCP server's PUBLIC_URL; empty: no assertions)
 */
import { buildNotesApi } from './app.ts'

const env = process.env
const setting = (name: string, fallback: string): string | undefined => {
  const value = env[name]?.trim()
  if (value === undefined) return fallback
  return value === '' ? undefined : value
}
const port = Number(env.NOTES_PORT ?? 4000)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`notes-api: NOTES_PORT=${JSON.stringify(env.NOTES_PORT)} is not a port number`)
  process.exit(1)
}
const options = {
  databasePath: setting('NOTES_DATABASE', '.data/notes.sqlite') ?? ':memory:',
  audience: setting('NOTES_AUDIENCE', `http://localhost:${port}`) ?? `http://localhost:${port}`,
  trustedIssuer: setting('NOTES_TRUSTED_ISSUER', 'http://localhost:3000/oauth'),
  gatewayUrl: setting('NOTES_GATEWAY_URL', 'http://localhost:3000')
}
const app = await buildNotesApi({ ...options, logger: { level: env.LOG_LEVEL ?? 'info' } })

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0), () => process.exit(1))
  })
}

await app.listen({ port, host: setting('NOTES_HOST', 'localhost') })
app.log.info(`notes service: audience ${options.audience}; accepts access tokens from ${options.trustedIssuer ?? '(no issuer)'} and assertions from ${options.gatewayUrl ?? '(no MCP server)'}; notes in ${options.databasePath}`)
