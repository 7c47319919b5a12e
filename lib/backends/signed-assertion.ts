/**
 * `signed-assertion` backends trust this server rather than the IdP: each request carries
 * a short-lived JWT signed with this server's key, which the backend verifies against
 * `PUBLIC_URL/.well-known/jwks.json`.
 *
 * Claims: `iss` = PUBLIC_URL, `aud` = the backend's audience, `sub` = the caller's `sub`,
 * `sub_id` = the caller as an RFC 9493 `iss_sub` subject identifier (the issuer that
 * vouched for them, so a backend keys users by issuer and subject), `client_id` = the MCP
 * client the user authorised, `scope` = the backend's scopes the caller's token also
 * grants, plus `iat`, `exp` (60 s later) and a unique `jti`.
 *
 * Keys: the first key of the set signs, every key is published, which is how keys rotate.
 * In production they come from BACKEND_SIGNING_KEYS (every instance must sign with the
 * same set); in development one key is generated once into the data folder.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { Caller } from '../caller.ts'
import { readOrCreatePrivateFile } from '../private-file.ts'
import type { BackendConfig } from '../config.ts'
import { generatePrivateJwk, signingKeyFromJwk, signJwt, type PublicJwk, type SigningKey } from './jws.ts'

export const ASSERTION_LIFETIME_S = 60

export class AssertionSigner {
  readonly issuer: string
  /** What `/.well-known/jwks.json` publishes: the public half of every key. */
  readonly jwks: { readonly keys: readonly PublicJwk[] }
  readonly #signing: SigningKey

  constructor (issuer: string, keys: readonly SigningKey[]) {
    const [signing] = keys
    if (signing === undefined) throw new Error('an assertion signer needs at least one key')
    this.issuer = issuer
    this.#signing = signing
    this.jwks = { keys: keys.map((key) => key.publicJwk) }
  }

  /** A fresh assertion that `caller` is calling `backend` through this server. */
  sign (caller: Caller, backend: Pick<BackendConfig, 'audience' | 'scopes'>, now = Date.now()): string {
    const iat = Math.floor(now / 1000)
    const scopes = (backend.scopes ?? []).filter((scope) => caller.scopes.has(scope))
    return signJwt(this.#signing, {
      iss: this.issuer,
      aud: backend.audience,
      sub: caller.sub,
      sub_id: { format: 'iss_sub', iss: caller.issuer, sub: caller.sub },
      ...(caller.clientId !== undefined && { client_id: caller.clientId }),
      ...(scopes.length > 0 && { scope: scopes.join(' ') }),
      iat,
      exp: iat + ASSERTION_LIFETIME_S,
      jti: randomUUID()
    })
  }
}

export const DEV_ASSERTION_KEYS_FILE = 'backend-signing-keys.json'

/**
 * The development signing key in `dir`, generated on first use (mode 0600, like the
 * development authorization server's keys). Two processes starting together end up with
 * the same key: the file is created exclusively and the loser reads the winner's.
 */
export async function loadOrCreateDevSigningKeys (dir: string): Promise<SigningKey[]> {
  const path = join(dir, DEV_ASSERTION_KEYS_FILE)
  const parse = (text: string): SigningKey[] => {
    try {
      const { keys } = JSON.parse(text) as { keys: Array<Record<string, unknown>> }
      if (!Array.isArray(keys) || keys.length === 0) throw new Error('no keys')
      return keys.map((jwk) => signingKeyFromJwk(jwk))
    } catch (error) {
      throw new Error(`${path} is not a key file written by this server (${(error as Error).message}): delete it to generate a new key`, { cause: error })
    }
  }
  return readOrCreatePrivateFile(path, () => ({ keys: [generatePrivateJwk('ES256', `dev-${randomBytes(6).toString('base64url')}`)] }), parse)
}
