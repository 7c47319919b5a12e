/**
 * The service configuration: one TypeBox schema, read from the environment and
 * validated once at boot. `Config` (its static type) is what `fastify.config`
 * holds, so the schema is the single source of truth for names, types and
 * defaults. The README's configuration table is generated from the same
 * descriptions (`npm run config:table`).
 */
import { isIP } from 'node:net'
import { Type, type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { signingKeyFromJwk, SigningKeyError, type SigningKey } from './backends/jws.ts'

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
    description: 'The issuer your identity provider puts in `iss`, exactly (trailing slash included), e.g. `https://example.auth0.com/`. Its metadata and keys are discovered from it. Unset outside production, the embedded development authorization server at `$PUBLIC_URL/oauth` is used.'
  }),
  OAUTH_AUDIENCE: Type.Optional(Type.String({
    description: 'Extra accepted token audiences besides this server\'s resource identifiers, comma-separated (e.g. an Auth0 API identifier).'
  })),
  JWKS_URI: Type.Optional(Type.String({ description: 'Overrides the `jwks_uri` found in the issuer\'s metadata.' })),
  CLOCK_TOLERANCE_S: Type.Integer({ minimum: 0, maximum: 300, default: 30, description: 'Seconds of clock skew allowed on `exp`, `nbf` and `iat`.' }),
  TOKEN_CACHE_SIZE: Type.Integer({ minimum: 0, default: 1000, description: 'Verified tokens kept in memory (LRU; an entry never outlives its token). 0 turns the cache off.' }),
  TOOL_TIMEOUT_S: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 120,
    description: 'Seconds a tool call may run. Past it the handler\'s signal aborts and the call answers with an error, even if the handler ignores the signal (clients such as ChatGPT give up after about a minute anyway).'
  }),
  SCOPE_CHALLENGE: Type.Enum(['http', 'tool-result'], {
    default: 'http',
    description: 'How a tool call without the needed scopes is refused: `http` (403 + `WWW-Authenticate`, for MCP Inspector, Claude, the SDK) or `tool-result` (HTTP 200 with `isError` and `_meta["mcp/www_authenticate"]`, which ChatGPT turns into its re-link prompt).'
  }),
  TOOLS_LIST: Type.Enum(['allowed', 'all'], {
    default: 'allowed',
    description: '`allowed`: `tools/list` shows the tools the caller\'s scopes unlock; `all`: every tool.'
  }),
  RESOURCE_NAME: Type.String({ minLength: 1, default: 'MCP Gateway', description: 'Human-readable name in the Protected Resource Metadata (`resource_name`).' }),

  OAUTH_INTROSPECTION_URL: Type.Optional(Type.String({
    description: 'RFC 7662 introspection endpoint of `OAUTH_ISSUER`. When set, access tokens that are not JWTs (opaque tokens, e.g. Google\'s) are checked there, authenticating as `OAUTH_CLIENT_ID`.'
  })),
  OAUTH_CLIENT_ID: Type.Optional(Type.String({ minLength: 1, description: 'This server\'s own OAuth client at the IdP (confidential), for token introspection and token exchange.' })),
  OAUTH_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1, secret: true, description: 'The secret of `OAUTH_CLIENT_ID` (client_secret_basic). Keep it in a secret store.' })),
  OAUTH_CLIENT_PRIVATE_KEY: Type.Optional(Type.Object({ kty: Type.String({ minLength: 1 }) }, {
    secret: true,
    description: 'A private JWK (JSON, e.g. `{"kty":"RSA","kid":"gw-1",…}`) with which `OAUTH_CLIENT_ID` authenticates at the token endpoint for token exchange (`private_key_jwt`, RS256/PS256/ES256/EdDSA), instead of `OAUTH_CLIENT_SECRET`. Register its public half with the IdP. Keep it in a secret store.'
  })),
  OAUTH_EXTRA_ISSUERS: Type.Optional(Type.Array(Type.Object({
    issuer: Type.String({ minLength: 1 }),
    audience: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    jwksUri: Type.Optional(Type.String({ minLength: 1 })),
    introspectionUrl: Type.Optional(Type.String({ minLength: 1 })),
    clientId: Type.Optional(Type.String({ minLength: 1 })),
    clientSecret: Type.Optional(Type.String({ minLength: 1 }))
  }, { additionalProperties: false }), {
    description: 'More trusted issuers (e.g. while migrating between IdPs), as JSON: `[{"issuer":"https://old.example/","audience":["api://old"],"jwksUri":…,"introspectionUrl":…,"clientId":…,"clientSecret":…}]`; each has its own metadata, keys and accepted audiences (besides this server\'s resource identifiers).'
  })),
  TRUST_PROXY: Type.Optional(Type.String({
    description: 'Which proxies to believe about the client address (`X-Forwarded-For`): a hop count (Cloud Run: `1`; an external Application Load Balancer in front of Cloud Run: `2`) or a comma-separated list of proxy addresses and CIDRs. Unset: the TCP peer is the client. Only the client address is taken from proxy headers; URLs are always built from `PUBLIC_URL`.'
  })),
  ALLOWED_ORIGINS: Type.Optional(Type.String({
    description: 'Browser origins allowed to call the MCP endpoint (`Origin` check and CORS), comma-separated, e.g. `https://inspector.example.com`. The origin of `PUBLIC_URL` is always allowed; requests without `Origin` (server-side clients) always pass. Matched by hostname as the MCP SDK does (scheme and port are not compared). `chrome-extension://<id>` admits one extension, `moz-extension://*` any Firefox extension.'
  })),
  REDIS_URL: Type.Optional(Type.String({
    description: '`redis://` or `rediss://` URL of a Redis shared by all instances, which then hold their rate-limit counters there. Unset: counters are kept in memory, per instance.'
  })),
  REDIS_KEY_PREFIX: Type.String({ minLength: 1, default: 'mcp-gateway:', description: 'Prefix of every Redis key; deployments that share a Redis need different prefixes.' }),
  RATE_LIMIT_FAIL: Type.Enum(['open', 'closed'], {
    default: 'open',
    description: 'While Redis is unreachable: `open` serves requests without rate limits, `closed` refuses rate-limited requests with `503` and `Retry-After`. Either way the outage is logged once at error level and the recovery once; the client reconnects by itself.'
  }),
  RATE_LIMIT_WINDOW_S: Type.Integer({ minimum: 1, maximum: 86400, default: 60, description: 'Length in seconds of the (fixed) window the `RATE_LIMIT_*_MAX` budgets count in.' }),
  RATE_LIMIT_CALLER_MAX: Type.Integer({
    minimum: 0,
    default: 600,
    description: 'MCP requests per window per user (the token\'s `iss` + `sub`), shared by all their clients and addresses. Tools can declare a tighter budget of their own. 0 turns the limit off.'
  }),
  RATE_LIMIT_IP_MAX: Type.Integer({
    minimum: 0,
    default: 600,
    description: 'Requests per window per client address for traffic without a token: discovery documents and MCP requests without `Authorization` (IPv6 clients count per /64). Many users can share an address (offices, ChatGPT\'s and Claude\'s backends), so keep it generous. 0 turns the limit off.'
  }),
  RATE_LIMIT_AUTH_FAILURE_MAX: Type.Integer({
    minimum: 0,
    default: 30,
    description: 'Rejected access tokens per window per client address. Beyond it, requests with a token from that address get `429` without being verified until the window ends, which makes token guessing slow. 0 turns the limit off.'
  }),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: 'Mean event-loop delay (sampled every second) above which requests are refused with `503` and `Retry-After` instead of queueing without bound. 0 turns the check off.'
  }),
  OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0,
    description: 'Event-loop utilisation (0 to 1, per one-second sample) above which requests are refused with `503` and `Retry-After`, e.g. `0.98`. Off (0) by default: one second of CPU-bound work, such as start-up, would trip it, whereas the event-loop delay measures the queueing itself.'
  }),
  DEV_AUTH_DATA_DIR: Type.String({
    minLength: 1,
    default: '.data/dev-auth',
    description: 'Where the embedded development authorization server keeps its signing keys, cookie keys, registered clients, grants, refresh tokens and sessions, and the credentials of this server\'s own client for token exchange (relative paths start at the working directory). Delete the folder to start over. Outside production it also holds the generated key of `signed-assertion` backends when `BACKEND_SIGNING_KEYS` is unset; otherwise it is unused when `OAUTH_ISSUER` is set.'
  }),
  DEV_AUTH_TOKEN_TTL_S: Type.Integer({
    minimum: 60,
    maximum: 86_400,
    default: 3600,
    description: 'Lifetime in seconds of the access tokens the embedded development authorization server and `npm run token` issue. Shorten it to watch clients refresh.'
  }),
  BACKENDS: Type.Optional(Type.Array(Type.Object({
    name: Type.String({ minLength: 1 }),
    baseUrl: Type.String({ minLength: 1 }),
    audience: Type.String({ minLength: 1 }),
    resource: Type.Optional(Type.String({ minLength: 1 })),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    mode: Type.Enum(['token-exchange', 'signed-assertion']),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5 }))
  }, { additionalProperties: false }), {
    description: 'The services tools call as the user (`ctx.backend(name)`), as JSON: `[{"name":"notes","baseUrl":"https://notes.internal","audience":"https://notes.internal","scopes":["notes:read","notes:write"],"mode":"token-exchange"}]`. `mode`: `token-exchange` (RFC 8693 at the caller\'s issuer, as `OAUTH_CLIENT_ID`) or `signed-assertion` (a 60-second JWT signed by this server, keys at `$PUBLIC_URL/.well-known/jwks.json`). Optional: `resource` (RFC 8707 indicator sent in the exchange besides `audience`), `timeoutMs` (per attempt, default 10000) and `retries` (for idempotent requests, default 2). A tool that needs a backend not listed here is not offered. See [Backends](#calling-backends-as-the-user).'
  })),
  BACKEND_SIGNING_KEYS: Type.Optional(Type.Object({ keys: Type.Array(Type.Object({ kty: Type.String({ minLength: 1 }), kid: Type.Optional(Type.String()) }), { minItems: 1 }) }, {
    secret: true,
    description: 'Private JWK set (JSON `{"keys":[…]}`, each with a `kid`) that signs `signed-assertion` backend tokens: the first key signs, all are published at `$PUBLIC_URL/.well-known/jwks.json` (rotation: add the new key second, deploy, then move it first). Every instance needs the same set; required in production when a backend uses `signed-assertion`. Unset in development, a key is generated into `DEV_AUTH_DATA_DIR`. Keep it in a secret store.'
  }))
})

export type Config = Static<typeof ConfigSchema>
/** One entry of BACKENDS. */
export type BackendConfig = NonNullable<Config['BACKENDS']>[number]

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
  if (schema.type === 'array') return 'a JSON array (see the README)'
  if (schema.type === 'object') return 'a JSON object (see the README)'
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
  if (schema.type === 'array' || schema.type === 'object') {
    try {
      return JSON.parse(raw)
    } catch (error) {
      throw new ConfigError(name, `${name} is not valid JSON (${(error as Error).message}): expected ${schema.type === 'array' ? 'a JSON array' : 'a JSON object'}, see the README`)
    }
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
  // Plain http only off production, or on loopback (an IdP sidecar, the production check in CI).
  const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]'
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (!httpsOnly || loopback))) {
    throw new ConfigError(name, `${name}=${JSON.stringify(value)} must be an https URL${httpsOnly ? ' in production' : ''}`)
  }
}

/** Where the embedded development authorization server lives: its issuer is `PUBLIC_URL` + this path. */
export const EMBEDDED_ISSUER_PATH = '/oauth'

/** The issuer of the embedded development authorization server for a (normalised) PUBLIC_URL. */
export function embeddedIssuer (publicUrl: string): string {
  return `${publicUrl}${EMBEDDED_ISSUER_PATH}`
}

/** True when tokens come from the embedded development authorization server (OAUTH_ISSUER unset, or set to this server's /oauth). */
export function usesEmbeddedIssuer (config: Pick<Config, 'OAUTH_ISSUER' | 'PUBLIC_URL'>): boolean {
  return config.OAUTH_ISSUER === embeddedIssuer(config.PUBLIC_URL)
}

/**
 * The configuration for a command (the server, the doctor): a bad setting ends the
 * process with status 1 and the one line that names it.
 */
export function loadConfigOrExit (env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(`mcp-gateway: configuration error: ${error.message}`)
    process.exit(1)
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
  if (input.OAUTH_ISSUER === undefined) {
    if (input.NODE_ENV === 'production') {
      throw new ConfigError('OAUTH_ISSUER', 'OAUTH_ISSUER is missing: set it to your identity provider\'s issuer, e.g. OAUTH_ISSUER=https://example.auth0.com/ (the embedded development authorization server never runs with NODE_ENV=production)')
    }
    input.OAUTH_ISSUER = embeddedIssuer(normalisePublicUrl(String(input.PUBLIC_URL)))
    // With nothing configured, `npm start` + `npm run example:notes` is the whole demo.
    if (input.BACKENDS === undefined && input.NODE_ENV === 'development') input.BACKENDS = [{ ...DEV_NOTES_BACKEND, scopes: [...DEV_NOTES_BACKEND.scopes] }]
  }
  input.LOG_FORMAT ??= input.NODE_ENV === 'production' ? 'cloud-logging' : 'pino'

  const [error] = validator.Errors(input)
  if (error !== undefined) {
    const [, name = (error.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? 'configuration', ...inside] = error.instancePath.split('/')
    const got = env[name]
    const schema = properties[name] ?? {}
    if (inside.length > 0 || (error.instancePath.split('/').length === 2 && (schema.type === 'array' || schema.type === 'object') && error.keyword === 'required')) {
      // A structured (JSON) setting: point into it.
      const where = inside.map((segment) => /^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`).join('')
      const params = (error.params as { requiredProperties?: string[], additionalProperties?: string[], allowedValues?: unknown[] })
      // TypeBox reports a field that additionalProperties: false forbids as a false schema at its path.
      if (error.keyword === 'boolean') throw new ConfigError(name, `${name}${where} is not an accepted field.`)
      const detail = error.keyword === 'required'
        ? `${params.requiredProperties?.join(', ')} is required`
        : error.keyword === 'additionalProperties'
          ? `${params.additionalProperties?.join(', ')} is not an accepted field`
          : error.keyword === 'enum' ? `must be one of ${params.allowedValues?.join(', ')}` : error.message
      throw new ConfigError(name, `${name}${where} is invalid: ${detail}.`)
    }
    if (got === undefined && typeof schema.description === 'string') {
      throw new ConfigError(name, `${name} is missing: set it to ${schema.description.replace(/^The /, 'the ')}`)
    }
    // Never repeated: secrets (the message ends up in logs) and structured settings (long, some holding private keys).
    const shown = got === undefined
      ? ' is missing'
      : schema.type === 'object' || schema.type === 'array' ? ' is invalid' : schema.secret === true ? ' (value hidden) is invalid' : `=${JSON.stringify(got)} is invalid`
    throw new ConfigError(name, `${name}${shown}: expected ${expected(schema)}.`)
  }
  const config = input as Config
  config.PUBLIC_URL = normalisePublicUrl(config.PUBLIC_URL)
  checkUrl('OAUTH_ISSUER', config.OAUTH_ISSUER, config.NODE_ENV === 'production')
  if (config.NODE_ENV === 'production' && usesEmbeddedIssuer(config)) {
    throw new ConfigError('OAUTH_ISSUER', `OAUTH_ISSUER=${JSON.stringify(config.OAUTH_ISSUER)} is this server's own /oauth, where only the development authorization server runs, and it never runs with NODE_ENV=production: set OAUTH_ISSUER to your identity provider's issuer`)
  }
  if (config.JWKS_URI !== undefined) checkUrl('JWKS_URI', config.JWKS_URI, config.NODE_ENV === 'production')
  if (config.OAUTH_INTROSPECTION_URL !== undefined) {
    checkUrl('OAUTH_INTROSPECTION_URL', config.OAUTH_INTROSPECTION_URL, config.NODE_ENV === 'production')
    if (config.OAUTH_CLIENT_ID === undefined || config.OAUTH_CLIENT_SECRET === undefined) {
      throw new ConfigError('OAUTH_CLIENT_ID', 'OAUTH_INTROSPECTION_URL needs OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET: the IdP only answers introspection requests from an authenticated client')
    }
  }
  for (const [index, extra] of (config.OAUTH_EXTRA_ISSUERS ?? []).entries()) {
    const at = `OAUTH_EXTRA_ISSUERS[${index}]`
    checkUrl(`${at}.issuer`, extra.issuer, config.NODE_ENV === 'production')
    if (extra.issuer === config.OAUTH_ISSUER || config.OAUTH_EXTRA_ISSUERS?.findIndex((other) => other.issuer === extra.issuer) !== index) {
      throw new ConfigError('OAUTH_EXTRA_ISSUERS', `${at}.issuer ${extra.issuer} is listed twice: each trusted issuer once`)
    }
    for (const field of ['jwksUri', 'introspectionUrl'] as const) {
      const url = extra[field]
      if (url !== undefined) checkUrl(`${at}.${field}`, url, config.NODE_ENV === 'production')
    }
    if (extra.introspectionUrl !== undefined && (extra.clientId === undefined || extra.clientSecret === undefined)) {
      throw new ConfigError('OAUTH_EXTRA_ISSUERS', `${at} has an introspectionUrl but no clientId and clientSecret to call it with`)
    }
  }
  if (config.REDIS_URL !== undefined) checkRedisUrl(config.REDIS_URL)
  backendSigningKeys(config)
  clientPrivateKey(config)
  checkBackends(config)
  trustProxySetting(config.TRUST_PROXY)
  originAllowList(config)
  return config
}

/** The backend `npm start` offers in development when BACKENDS is unset: the notes example (`npm run example:notes`). */
export const DEV_NOTES_BACKEND = {
  name: 'notes',
  baseUrl: 'http://localhost:4000',
  audience: 'http://localhost:4000',
  scopes: ['notes:read', 'notes:write'],
  mode: 'token-exchange'
} as const satisfies BackendConfig

const BACKEND_NAME = /^[a-z][a-z0-9_-]{0,62}$/
// RFC 6749 §3.3 scope-token.
const SCOPE_TOKEN = /^[\u0021\u0023-\u005B\u005D-\u007E]+$/

function checkBackends (config: Config): void {
  const backends = config.BACKENDS ?? []
  const production = config.NODE_ENV === 'production'
  for (const [index, backend] of backends.entries()) {
    const at = `BACKENDS[${index}]`
    const fail = (message: string): never => { throw new ConfigError('BACKENDS', message) }
    if (!BACKEND_NAME.test(backend.name)) fail(`${at}.name ${JSON.stringify(backend.name)} must be lowercase letters, digits, - and _, starting with a letter (tools name the backend by it)`)
    if (backends.findIndex((other) => other.name === backend.name) !== index) fail(`${at}.name ${backend.name} is listed twice: each backend once`)
    let base: URL | undefined
    try {
      base = new URL(backend.baseUrl)
    } catch {}
    if (base === undefined || (base.protocol !== 'https:' && base.protocol !== 'http:')) fail(`${at}.baseUrl ${JSON.stringify(backend.baseUrl)} is not an http(s) URL: expected e.g. https://notes.internal/api`)
    const url = base as URL
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') fail(`${at}.baseUrl must not carry a query, a fragment or credentials: the backend client adds paths to it and sends the credentials itself`)
    const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]'
    if (production && url.protocol !== 'https:' && !loopback) fail(`${at}.baseUrl must be an https URL in production: the user's credentials travel with every request`)
    if (backend.resource !== undefined) {
      const resource = URL.parse(backend.resource)
      if (resource === null || resource.hash !== '') fail(`${at}.resource ${JSON.stringify(backend.resource)} must be an absolute URI without a fragment (RFC 8707)`)
    }
    for (const scope of backend.scopes ?? []) {
      if (!SCOPE_TOKEN.test(scope)) fail(`${at}.scopes: ${JSON.stringify(scope)} is not a valid OAuth scope`)
    }
    if (backend.mode === 'signed-assertion' && production && config.BACKEND_SIGNING_KEYS === undefined) {
      throw new ConfigError('BACKEND_SIGNING_KEYS', `BACKEND_SIGNING_KEYS is missing: ${at} (${backend.name}) uses signed-assertion, and in production every instance must sign with the same configured keys (a generated key is for development only)`)
    }
    if (backend.mode === 'token-exchange') {
      if (config.OAUTH_CLIENT_ID === undefined && !usesEmbeddedIssuer(config)) {
        throw new ConfigError('OAUTH_CLIENT_ID', `OAUTH_CLIENT_ID is missing: ${at} (${backend.name}) uses token-exchange, for which this server authenticates at the IdP as its own confidential client: set OAUTH_CLIENT_ID with OAUTH_CLIENT_SECRET or OAUTH_CLIENT_PRIVATE_KEY`)
      }
      if (config.OAUTH_CLIENT_ID !== undefined && config.OAUTH_CLIENT_SECRET === undefined && config.OAUTH_CLIENT_PRIVATE_KEY === undefined) {
        throw new ConfigError('OAUTH_CLIENT_SECRET', `OAUTH_CLIENT_ID has neither OAUTH_CLIENT_SECRET nor OAUTH_CLIENT_PRIVATE_KEY: ${at} (${backend.name}) uses token-exchange, for which the client must authenticate`)
      }
    }
  }
}

/** BACKEND_SIGNING_KEYS as signing keys, the first one signing; throws a ConfigError naming the bad key. */
export function backendSigningKeys (config: Pick<Config, 'BACKEND_SIGNING_KEYS'>): SigningKey[] | undefined {
  if (config.BACKEND_SIGNING_KEYS === undefined) return undefined
  const keys = config.BACKEND_SIGNING_KEYS.keys.map((jwk, index) => {
    const at = `BACKEND_SIGNING_KEYS.keys[${index}]`
    if (typeof jwk.kid !== 'string' || jwk.kid === '') throw new ConfigError('BACKEND_SIGNING_KEYS', `${at} has no "kid": give every key of the set a kid, which verifiers use to pick the key`)
    try {
      return signingKeyFromJwk(jwk)
    } catch (error) {
      if (error instanceof SigningKeyError) throw new ConfigError('BACKEND_SIGNING_KEYS', `${at} (kid ${jwk.kid}): ${error.message}`)
      throw error
    }
  })
  const kids = keys.map((key) => key.kid)
  const twice = kids.find((kid, index) => kids.indexOf(kid) !== index)
  if (twice !== undefined) throw new ConfigError('BACKEND_SIGNING_KEYS', `BACKEND_SIGNING_KEYS has two keys with kid ${twice}: every kid once`)
  return keys
}

/** OAUTH_CLIENT_PRIVATE_KEY as a signing key (private_key_jwt); throws a ConfigError saying what is wrong. */
export function clientPrivateKey (config: Pick<Config, 'OAUTH_CLIENT_PRIVATE_KEY' | 'OAUTH_CLIENT_ID'>): SigningKey | undefined {
  if (config.OAUTH_CLIENT_PRIVATE_KEY === undefined) return undefined
  if (config.OAUTH_CLIENT_ID === undefined) throw new ConfigError('OAUTH_CLIENT_ID', 'OAUTH_CLIENT_PRIVATE_KEY is set but OAUTH_CLIENT_ID is not: the key authenticates that client')
  try {
    return signingKeyFromJwk(config.OAUTH_CLIENT_PRIVATE_KEY)
  } catch (error) {
    if (error instanceof SigningKeyError) throw new ConfigError('OAUTH_CLIENT_PRIVATE_KEY', `OAUTH_CLIENT_PRIVATE_KEY: ${error.message}`)
    throw error
  }
}

/** The value is not quoted back: it may carry a password. */
function checkRedisUrl (value: string): void {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {}
  if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new ConfigError('REDIS_URL', 'REDIS_URL is not a Redis URL: expected e.g. REDIS_URL=redis://10.0.0.3:6379 (or rediss:// for TLS)')
  }
}

/** proxy-addr's names for address ranges, accepted in TRUST_PROXY. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

function isAddressOrCidr (entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true
  const [address = '', prefix, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

/**
 * TRUST_PROXY as Fastify's `trustProxy`: false (unset), trust of the first N hops, or the
 * proxies' addresses. `true` (believe any X-Forwarded-For) is refused: a client could claim any address.
 */
export function trustProxySetting (value: string | undefined): false | string[] | ((address: string, hop: number) => boolean) {
  if (value === undefined || /^(false|0|no|off)$/i.test(value)) return false
  if (/^\d+$/.test(value)) {
    // What proxy-addr does with a number, in the form Fastify's types accept: hop 0 is the TCP peer.
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  const entries = listOf(value)
  if (/^(true|yes|on)$/i.test(value)) {
    throw new ConfigError('TRUST_PROXY', `TRUST_PROXY=${value} would let any client claim any address in X-Forwarded-For: set the number of proxies in front of the server (Cloud Run: TRUST_PROXY=1) or their addresses`)
  }
  const bad = entries.find((entry) => !isAddressOrCidr(entry))
  if (bad !== undefined) {
    throw new ConfigError('TRUST_PROXY', `TRUST_PROXY: ${JSON.stringify(bad)} is neither a hop count nor an IP address or CIDR: expected e.g. TRUST_PROXY=1 or TRUST_PROXY=10.0.0.0/8,192.168.1.7`)
  }
  return entries
}

/**
 * The Origin allow-list of the MCP endpoint, as the MCP SDK's validators take it:
 * hostnames (PUBLIC_URL's first), plus `<scheme>://*` entries for browser extensions.
 */
export function originAllowList (config: Pick<Config, 'PUBLIC_URL' | 'ALLOWED_ORIGINS'>): string[] {
  const hostnames = [new URL(config.PUBLIC_URL).hostname]
  for (const entry of listOf(config.ALLOWED_ORIGINS)) {
    if (/^[a-z][a-z0-9+.-]*:\/\/\*$/.test(entry) && !/^https?:/.test(entry)) {
      hostnames.push(entry)
      continue
    }
    if (entry.includes('*')) {
      throw new ConfigError('ALLOWED_ORIGINS', `ALLOWED_ORIGINS: ${JSON.stringify(entry)}: websites cannot be admitted by wildcard (only browser extensions, e.g. moz-extension://*); list each origin`)
    }
    let url: URL | undefined
    try {
      url = new URL(entry)
    } catch {}
    if (url === undefined || url.hostname === '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
      throw new ConfigError('ALLOWED_ORIGINS', `ALLOWED_ORIGINS: ${JSON.stringify(entry)} is not an origin: expected e.g. ALLOWED_ORIGINS=https://inspector.example.com,http://localhost:6274`)
    }
    hostnames.push(url.hostname)
  }
  return [...new Set(hostnames)]
}
