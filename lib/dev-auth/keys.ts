/**
 * The secrets of the development authorization server: its token signing key and the
 * keys that sign its cookies. Generated on first use into `keys.json` in the data folder
 * (mode 0600, git-ignored with `.data/`), then reused, so tokens and browser sessions
 * outlive a restart. The token CLI reads the same file, which is how its tokens verify.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import { readOrCreatePrivateFile } from '../private-file.ts'

/** The signing algorithm of every token this server issues (RS256: what every verifier supports). */
export const SIGNING_ALGORITHM = 'RS256'

export interface SigningJwk extends JsonWebKey {
  kid: string
  alg: typeof SIGNING_ALGORITHM
  use: 'sig'
}

export interface DevAuthKeys {
  /** Private signing keys as JWKs (oidc-provider's `jwks` option); the first one signs. */
  readonly signing: readonly SigningJwk[]
  /** Secrets that sign the authorization server's cookies. */
  readonly cookieKeys: readonly string[]
}

export const KEYS_FILE = 'keys.json'

function generateKeys (): DevAuthKeys {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk: SigningJwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(12).toString('base64url'), alg: SIGNING_ALGORITHM, use: 'sig' }
  return { signing: [jwk], cookieKeys: [randomBytes(32).toString('base64url')] }
}

function parseKeys (path: string, text: string): DevAuthKeys {
  const problem = `${path} is not a key file written by this server: delete it (or the whole development data folder) to generate new keys`
  let stored: Partial<DevAuthKeys>
  try {
    stored = JSON.parse(text) as Partial<DevAuthKeys>
  } catch {
    throw new Error(problem)
  }
  const { signing, cookieKeys } = stored
  if (!Array.isArray(signing) || signing.length === 0 || !Array.isArray(cookieKeys) || cookieKeys.length === 0) throw new Error(problem)
  for (const jwk of signing) {
    if (typeof jwk?.kid !== 'string' || jwk.alg !== SIGNING_ALGORITHM || jwk.kty !== 'RSA' || typeof jwk.d !== 'string') throw new Error(problem)
  }
  if (!cookieKeys.every((key) => typeof key === 'string' && key.length >= 16)) throw new Error(problem)
  return { signing, cookieKeys }
}

/**
 * The keys in `dir`, generated when there are none yet. Two processes starting together
 * (the server and the token CLI) end up with the same keys: the file is created
 * exclusively, and whoever loses the race reads the winner's.
 */
export async function loadOrCreateKeys (dir: string): Promise<DevAuthKeys> {
  const path = join(dir, KEYS_FILE)
  return readOrCreatePrivateFile(path, generateKeys, (text) => parseKeys(path, text))
}

/** The key that signs, with what a JWS header needs. */
export function currentSigningKey (keys: DevAuthKeys): { kid: string, alg: typeof SIGNING_ALGORITHM, privateKey: KeyObject } {
  const [jwk] = keys.signing
  if (jwk === undefined) throw new Error('no signing key')
  return { kid: jwk.kid, alg: jwk.alg, privateKey: createPrivateKey({ key: jwk, format: 'jwk' }) }
}
