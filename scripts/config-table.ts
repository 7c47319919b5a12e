/**
 * Prints the README's configuration table from the config schema, so the two cannot
 * drift (test/readme.test.ts fails when they do): `npm run config:table`.
 */
import { ConfigSchema } from '../lib/config.ts'

const derivedDefaults: Record<string, string> = {
  HOST: '`127.0.0.1` (`0.0.0.0` in production)',
  PUBLIC_URL: '`http://localhost:$PORT`',
  OAUTH_ISSUER: '`$PUBLIC_URL/oauth` (embedded development server); required in production',
  LOG_FORMAT: '`pino` (`cloud-logging` in production)',
  BACKENDS: 'the notes example (`http://localhost:4000`) in development with the embedded server; none otherwise'
}

export function configTable (): string {
  const required = new Set<string>(ConfigSchema.required ?? [])
  const rows = Object.entries(ConfigSchema.properties as unknown as Record<string, Record<string, unknown>>).map(([name, schema]) => {
    const fallback = derivedDefaults[name] ?? (schema.default !== undefined ? `\`${String(schema.default)}\`` : required.has(name) ? 'required' : '—')
    const description = String(schema.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')
    return `| \`${name}\` | ${fallback} | ${description} |`
  })
  return ['| Variable | Default | What it does |', '|---|---|---|', ...rows].join('\n')
}

if (import.meta.main) console.log(configTable())
