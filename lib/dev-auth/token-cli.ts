/**
 * `npm run token`: an access token from the embedded development authorization server,
 * for curl, MCP Inspector's bearer field and scripts. It is signed with the server's own
 * key (from the same data folder), for the same issuer and audience, so a server started
 * with the same configuration accepts it; the server need not be running.
 */
import { randomUUID, sign } from 'node:crypto'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, usesEmbeddedIssuer, type Config } from '../config.ts'
import { acceptedAudiences, resourceIdentifiers } from '../resource.ts'
import { currentSigningKey, loadOrCreateKeys } from './keys.ts'

export const USAGE = `Usage: npm run -s token -- --sub <name> [--scope "<scopes>"] [--resource <url>] [--ttl <seconds>]

Prints an access token from the embedded development authorization server (the one
that runs when OAUTH_ISSUER is unset), e.g.
  TOKEN=$(npm run -s token -- --sub alice --scope "read:profile execute:tools")
  curl -H "Authorization: Bearer $TOKEN" ...

  --sub <name>        who the token is for (its sub claim); required
  --scope "<scopes>"  space-separated tool scopes; default: all of them
  --resource <url>    the audience; default: PUBLIC_URL/mcp
  --ttl <seconds>     lifetime, 60 to 86400; default: DEV_AUTH_TOKEN_TTL_S
  --help              this text

Use the same environment as the server (PORT, PUBLIC_URL, DEV_AUTH_DATA_DIR).`

/** A mistake on the command line or in the configuration, said in one line. */
export class TokenCliError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TokenCliError'
  }
}

export interface DevTokenRequest {
  sub: string
  scopes: readonly string[]
  resource: string
  ttlSeconds: number
}

export interface DevToken {
  token: string
  claims: Record<string, unknown>
}

/** The client the token names (`client_id`), so a server log tells CLI tokens apart. */
export const CLI_CLIENT_ID = 'npm-run-token'

function base64url (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Signs an access token exactly as the embedded server's tokens are shaped (RFC 9068). */
export async function mintDevToken (config: Config, { sub, scopes, resource, ttlSeconds }: DevTokenRequest): Promise<DevToken> {
  const keys = await loadOrCreateKeys(resolve(config.DEV_AUTH_DATA_DIR))
  const { kid, alg, privateKey } = currentSigningKey(keys)
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    iss: config.OAUTH_ISSUER,
    sub,
    aud: resource,
    iat: now,
    exp: now + ttlSeconds,
    jti: randomUUID(),
    client_id: CLI_CLIENT_ID,
    scope: scopes.join(' ')
  }
  const signingInput = `${base64url({ alg, typ: 'at+jwt', kid })}.${base64url(claims)}`
  const signature = sign('sha256', Buffer.from(signingInput), privateKey).toString('base64url')
  return { token: `${signingInput}.${signature}`, claims }
}

/** Checks the command line against the configuration and the tool scopes. */
export function parseTokenRequest (argv: readonly string[], config: Config, toolScopes: readonly string[]): DevTokenRequest | 'help' {
  let values: { sub?: string, scope?: string, resource?: string, ttl?: string, help?: boolean }
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { sub: { type: 'string' }, scope: { type: 'string' }, resource: { type: 'string' }, ttl: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false
    }))
  } catch (error) {
    throw new TokenCliError(`${(error as Error).message.split('\n')[0]} (see npm run token -- --help)`)
  }
  if (values.help === true) return 'help'

  if (!usesEmbeddedIssuer(config)) {
    throw new TokenCliError(`OAUTH_ISSUER is set to ${config.OAUTH_ISSUER}, so tokens come from that identity provider, not from this server: ` +
      'npm run token only mints tokens of the embedded development authorization server (OAUTH_ISSUER unset, NODE_ENV not production)')
  }

  const sub = values.sub?.trim() ?? ''
  if (sub === '') throw new TokenCliError('--sub is required: who the token is for, e.g. npm run token -- --sub alice')
  if (!/^[^\p{C}]{1,100}$/u.test(sub)) throw new TokenCliError('--sub must be 1 to 100 characters without control characters')

  const scopes = values.scope === undefined ? [...toolScopes] : [...new Set(values.scope.split(/[\s,]+/).filter((scope) => scope !== ''))]
  const unknown = scopes.filter((scope) => !toolScopes.includes(scope))
  if (unknown.length > 0) {
    throw new TokenCliError(`unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.join(' ')}: this server's scopes are ${toolScopes.join(' ')}`)
  }

  const resources = acceptedAudiences(config.PUBLIC_URL, [])
  const resource = values.resource ?? resourceIdentifiers(config.PUBLIC_URL)[0] as string
  if (!resources.includes(resource)) {
    throw new TokenCliError(`--resource ${resource} is not this server: use one of ${resourceIdentifiers(config.PUBLIC_URL).join(', ')} (PUBLIC_URL is ${config.PUBLIC_URL})`)
  }

  let ttlSeconds = config.DEV_AUTH_TOKEN_TTL_S
  if (values.ttl !== undefined) {
    ttlSeconds = /^\d+$/.test(values.ttl) ? Number(values.ttl) : Number.NaN
    if (!(ttlSeconds >= 60 && ttlSeconds <= 86_400)) throw new TokenCliError(`--ttl ${values.ttl} is not a whole number of seconds from 60 to 86400`)
  }
  return { sub, scopes, resource, ttlSeconds }
}

export interface CliOutput {
  stdout (text: string): void
  stderr (text: string): void
}

/** The whole command; returns the exit code. */
export async function runTokenCli (argv: readonly string[], env: Record<string, string | undefined>, toolScopes: readonly string[], output: CliOutput): Promise<number> {
  try {
    let config: Config
    try {
      config = loadConfig(env)
    } catch (error) {
      if (error instanceof ConfigError) throw new TokenCliError(`configuration error: ${error.message}`)
      throw error
    }
    const request = parseTokenRequest(argv, config, toolScopes)
    if (request === 'help') {
      output.stdout(USAGE)
      return 0
    }
    const { token } = await mintDevToken(config, request)
    output.stdout(token)
    output.stderr(`Access token for ${request.sub} with scope "${request.scopes.join(' ')}", audience ${request.resource}, valid ${request.ttlSeconds} s. Send it as: Authorization: Bearer <token>`)
    return 0
  } catch (error) {
    if (error instanceof TokenCliError) {
      output.stderr(`npm run token: ${error.message}`)
      return 2
    }
    throw error
  }
}
