/**
 * The service configuration: one TypeBox schema, read from the environment and
 * validated once at boot. `Config` (its static type) is what `fastify.config`
 * holds, so the schema is the single source of truth for names, types and
 * defaults. The README's configuration table is generated from the same
 * descriptions (`npm run config:table`).
 */
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'

export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Enum(['development', 'production', 'test'], {
    default: 'development',
    description: '`production` turns off everything meant for a laptop (the embedded authorization server among them).'
  }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port to listen on.' }),
  HOST: Type.String({
    minLength: 1,
    description: 'Address to bind. Defaults to `127.0.0.1`, or `0.0.0.0` when `NODE_ENV=production` (containers).'
  }),
  PUBLIC_URL: Type.String({
    minLength: 1,
    description:
      'The externally visible origin, e.g. `https://mcp.example.com`. Every absolute URL the server emits (resource identifiers, metadata, challenges) is built from it, never from request headers. Defaults to `http://localhost:$PORT`.'
  }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'Pino log level.' }),
  LOG_FORMAT: Type.Enum(['cloud-logging', 'pino'], {
    description: '`cloud-logging`: one JSON object per line in Google Cloud Logging\'s format (`severity`, `message`, `httpRequest`, trace correlation). `pino`: pino\'s own JSON (numeric `level`, `msg`), which `npm run dev` and `pino-pretty` print readably. Defaults to `cloud-logging` when `NODE_ENV=production`, `pino` otherwise.'
  }),
  GOOGLE_CLOUD_PROJECT: Type.Optional(Type.String({
    minLength: 1,
    description: 'Google Cloud project id. With it, the log lines of a traced request carry `logging.googleapis.com/trace` = `projects/<id>/traces/<trace id>` (from `traceparent` or `X-Cloud-Trace-Context`), so Logs Explorer shows them under the request. Cloud Run does not set it; deploy/service.yaml does.'
  })),
  AUDIT_INCLUDE_ARGUMENTS: Type.Boolean({
    default: false,
    description: 'Adds the raw tool arguments to audit events. For debugging only: arguments can hold personal data. Otherwise an event carries only a digest of them.'
  }),
  AUDIT_DIGEST_KEY: Type.Optional(Type.String({
    minLength: 32,
    secret: true,
    description: 'Secret key (at least 32 characters) for the argument digest of audit events: HMAC-SHA-256 instead of plain SHA-256, so short or guessable arguments cannot be recovered by hashing candidates. Keep it in Secret Manager and share it across instances so digests stay comparable.'
  })),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 9000,
    description: 'After SIGTERM, how long in-flight requests get to finish before the process gives up and exits with status 1. Cloud Run stops an instance 10 s after SIGTERM.'
  }),

  OAUTH_ISSUER: Type.String({
    minLength: 1,
    description: 'The issuer your identity provider puts in `iss`, exactly (trailing slash included), e.g. `https://example.auth0.com/`. Its metadata and keys are discovered from it.'
  }),
  OAUTH_AUDIENCE: Type.Optional(Type.String({
    description: 'Extra accepted token audiences besides this server\'s resource identifiers, comma-separated (e.g. an Auth0 API identifier).'
  })),
  JWKS_URI: Type.Optional(Type.String({ description: 'Overrides the `jwks_uri` found in the issuer\'s metadata.' })),
  CLOCK_TOLERANCE_S: Type.Integer({ minimum: 0, maximum: 300, default: 30, description: 'Seconds of clock skew allowed on `exp`, `nbf` and `iat`.' }),
  TOKEN_CACHE_SIZE: Type.Integer({ minimum: 0, default: 1000, description: 'Verified tokens kept in memory (LRU; an entry never outlives its token). 0 turns the cache off.' }),
  SCOPE_CHALLENGE: Type.Enum(['http', 'tool-result'], {
    default: 'http',
    description: 'How a tool call without the needed scopes is refused: `http` (403 + `WWW-Authenticate`, for MCP Inspector, Claude, the SDK) or `tool-result` (HTTP 200 with `isError` and `_meta["mcp/www_authenticate"]`, which ChatGPT turns into its re-link prompt).'
  }),
  TOOLS_LIST: Type.Enum(['allowed', 'all'], {
    default: 'allowed',
    description: '`allowed`: `tools/list` shows the tools the caller\'s scopes unlock; `all`: every tool.'
  }),
  RESOURCE_NAME: Type.String({ minLength: 1, default: 'MCP Gateway', description: 'Human-readable name in the Protected Resource Metadata (`resource_name`).' })
})

export type Config = Static<typeof ConfigSchema>

/** A configuration problem, phrased so that one line tells the operator what to change. */
export class ConfigError extends Error {
  readonly variable: string
  constructor (variable: string, message: string) {
    super(message)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

const validator = Compile(ConfigSchema)
// Plain JSON Schema objects: read generically to convert values and phrase errors.
const properties = ConfigSchema.properties as unknown as Record<string, Record<string, unknown>>

/** What a schema accepts, in words: the second half of every error message. */
function expected (schema: Record<string, unknown>): string {
  if (Array.isArray(schema.enum)) return 'one of ' + schema.enum.join(', ')
  if (schema.type === 'integer' || schema.type === 'number') {
    const noun = schema.type === 'integer' ? 'an integer' : 'a number'
    if (schema.minimum !== undefined && schema.maximum !== undefined) return `${noun} from ${schema.minimum} to ${schema.maximum}`
    if (schema.minimum !== undefined) return `${noun} of at least ${schema.minimum}`
    return noun
  }
  if (typeof schema.minLength === 'number' && schema.minLength > 1) return `a value of at least ${schema.minLength} characters`
  if (schema.type === 'boolean') return 'true or false'
  return 'a non-empty value'
}

/** Environment strings → the types the schema declares (numbers, booleans); anything else is left for validation to reject. */
function convert (name: string, raw: string): unknown {
  const schema = properties[name]
  if (schema === undefined) return raw
  if (schema.type === 'integer' || schema.type === 'number') return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw
  if (schema.type === 'boolean') {
    if (/^(true|1|yes)$/i.test(raw)) return true
    if (/^(false|0|no)$/i.test(raw)) return false
  }
  return raw
}

function checkUrl (name: string, value: string, httpsOnly: boolean): void {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(name, `${name}=${JSON.stringify(value)} is not a URL: expected e.g. ${name}=https://example.auth0.com/`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !httpsOnly)) {
    throw new ConfigError(name, `${name}=${JSON.stringify(value)} must be an https URL${httpsOnly ? ' in production' : ''}`)
  }
}

/** Comma- or space-separated list settings. */
export function listOf (value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/[\s,]+/).filter((item) => item !== '')
}

function normalisePublicUrl (value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError('PUBLIC_URL', `PUBLIC_URL=${JSON.stringify(value)} is not a URL: set it to the origin clients use, e.g. PUBLIC_URL=https://mcp.example.com`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('PUBLIC_URL', `PUBLIC_URL=${JSON.stringify(value)} must use http or https, e.g. PUBLIC_URL=https://mcp.example.com`)
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError('PUBLIC_URL', `PUBLIC_URL=${JSON.stringify(value)} must be an origin without path, query or credentials (routes are served at the root), e.g. PUBLIC_URL=${url.origin}`)
  }
  // URL.origin lower-cases scheme and host and drops default ports: the canonical form RFC 8707 resource identifiers need.
  return url.origin
}

/**
 * Reads and validates the configuration. Throws a ConfigError naming the first bad
 * variable; unknown variables are ignored and empty ones count as unset.
 */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(properties)) {
    const raw = env[name]
    if (raw !== undefined && raw.trim() !== '') input[name] = convert(name, raw.trim())
    else if (schema.default !== undefined) input[name] = schema.default
  }
  // Defaults that depend on other settings.
  input.HOST ??= input.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1'
  input.PUBLIC_URL ??= `http://localhost:${typeof input.PORT === 'number' ? input.PORT : 3000}`
  input.LOG_FORMAT ??= input.NODE_ENV === 'production' ? 'cloud-logging' : 'pino'

  const [error] = validator.Errors(input)
  if (error !== undefined) {
    const name = error.instancePath.split('/')[1] ?? (error.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? 'configuration'
    const got = env[name]
    const schema = properties[name] ?? {}
    if (got === undefined && typeof schema.description === 'string') {
      throw new ConfigError(name, `${name} is missing: set it to ${schema.description.replace(/^The /, 'the ')}`)
    }
    // A secret's value is never repeated: the message ends up in the logs.
    const shown = schema.secret === true ? ' (value hidden)' : `=${JSON.stringify(got)}`
    throw new ConfigError(name, `${name}${got === undefined ? ' is missing' : `${shown} is invalid`}: expected ${expected(schema)}.`)
  }
  const config = input as Config
  config.PUBLIC_URL = normalisePublicUrl(config.PUBLIC_URL)
  checkUrl('OAUTH_ISSUER', config.OAUTH_ISSUER, config.NODE_ENV === 'production')
  if (config.JWKS_URI !== undefined) checkUrl('JWKS_URI', config.JWKS_URI, config.NODE_ENV === 'production')
  return config
}
