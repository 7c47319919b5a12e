/**
 * Signing JWTs with this server's own keys, on node:crypto alone: the assertions of
 * `signed-assertion` backends and the client assertions of `private_key_jwt`. Keys come
 * as private JWKs (what operators keep in a secret store and IdPs register).
 */
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

export const SIGNING_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number]

/** A public JWK as published in a JWKS. */
export interface PublicJwk extends JsonWebKey {
  kid: string
  alg: SigningAlgorithm
  use: 'sig'
}

export interface SigningKey {
  readonly kid: string
  readonly alg: SigningAlgorithm
  readonly privateKey: KeyObject
  readonly publicJwk: PublicJwk
}

/** A key that cannot sign; the message says what is wrong without quoting key material. */
export class SigningKeyError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SigningKeyError'
  }
}

/** RFC 7638 thumbprint: the kid of a key that was given none. */
function thumbprint (jwk: JsonWebKey): string {
  const members = jwk.kty === 'RSA' ? ['e', 'kty', 'n'] : jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['crv', 'kty', 'x']
  const canonical = `{${members.map((name) => `"${name}":${JSON.stringify((jwk as Record<string, unknown>)[name])}`).join(',')}}`
  return createHash('sha256').update(canonical).digest('base64url')
}

function algorithmFor (jwk: Record<string, unknown>): SigningAlgorithm {
  const { kty, crv, alg } = jwk
  const fits: SigningAlgorithm[] = kty === 'RSA' ? ['RS256', 'PS256'] : kty === 'EC' && crv === 'P-256' ? ['ES256'] : kty === 'OKP' && crv === 'Ed25519' ? ['EdDSA'] : []
  if (fits.length === 0) throw new SigningKeyError(`a ${String(kty)}${crv === undefined ? '' : ` ${String(crv)}`} key cannot sign here: use RSA (RS256, PS256), EC P-256 (ES256) or OKP Ed25519 (EdDSA)`)
  if (alg === undefined) return fits[0] as SigningAlgorithm
  if (!fits.includes(alg as SigningAlgorithm)) throw new SigningKeyError(`"alg": ${JSON.stringify(alg)} does not fit a ${String(kty)} key (use ${fits.join(' or ')})`)
  return alg as SigningAlgorithm
}

/** Reads a private JWK; throws a SigningKeyError saying what is wrong with it. */
export function signingKeyFromJwk (input: JsonWebKey | Record<string, unknown>): SigningKey {
  const jwk = input as Record<string, unknown>
  if (typeof jwk.d !== 'string') throw new SigningKeyError('it is not a private key (no "d"): give the private JWK; its public half is what gets published')
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new SigningKeyError(`"use": ${JSON.stringify(jwk.use)} is not a signing key`)
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid === '')) throw new SigningKeyError('"kid" must be a non-empty string')
  const alg = algorithmFor(jwk)
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })
  } catch (error) {
    throw new SigningKeyError(`it is not a usable private JWK (${(error as Error).message})`)
  }
  const exported = createPublicKey(privateKey).export({ format: 'jwk' })
  const kid = typeof jwk.kid === 'string' ? jwk.kid : thumbprint(exported)
  return { kid, alg, privateKey, publicJwk: { ...exported, kid, alg, use: 'sig' } }
}

/** A fresh key pair as a private JWK (development keys, tests). */
export function generatePrivateJwk (alg: SigningAlgorithm = 'RS256', kid?: string): JsonWebKey & { kid: string, alg: SigningAlgorithm } {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = privateKey.export({ format: 'jwk' })
  return { ...jwk, kid: kid ?? thumbprint(createPublicKey(privateKey).export({ format: 'jwk' })), alg }
}

function base64url (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** A compact JWS of `claims`, signed with `key`. */
export function signJwt (key: SigningKey, claims: Record<string, unknown>, typ = 'JWT'): string {
  const input = `${base64url({ alg: key.alg, typ, kid: key.kid })}.${base64url(claims)}`
  const data = Buffer.from(input)
  let signature: Buffer
  switch (key.alg) {
    case 'RS256': signature = sign('sha256', data, key.privateKey); break
    case 'PS256': signature = sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }); break
    case 'ES256': signature = sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }); break
    case 'EdDSA': signature = sign(null, data, key.privateKey); break
  }
  return `${input}.${signature.toString('base64url')}`
}
