/**
 * The kinds of bad JWT every trusted issuer's tokens are tested against, and how a
 * rejection must look: 401, a Bearer challenge naming the PRM, invalid_token, a reason,
 * and never the token itself.
 */
import type { Test } from 'tap'
import { createSigner } from 'fast-jwt'
import { generateKey, type TestIssuer } from './test-issuer.ts'

const now = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** [name, token, what the reason must say] for tokens of `issuer`, meant for `audience`. */
export function badJwts (issuer: TestIssuer, audience: string, accepted: string): Array<[string, string, RegExp]> {
  const valid = issuer.mint(audience)
  const [header, payload, signature] = valid.split('.') as [string, string, string]
  const otherKey = generateKey('RS256', issuer.currentKey.kid)
  const publicPem = issuer.currentKey.publicKey.export({ type: 'spki', format: 'pem' }) as string
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  return [
    ['expired', issuer.mint(audience, { exp: now() - 120, iat: now() - 720 }), /the token expired at \d{4}-/],
    ['not yet valid', issuer.mint(audience, { nbf: now() + 600 }), /not valid before \d{4}-/],
    ['issued in the future', issuer.mint(audience, { iat: now() + 600, exp: now() + 1200 }), /issued in the future/],
    ['wrong issuer', issuer.mint(audience, { iss: 'https://evil.example/' }), /issued by "https:\/\/evil\.example\/"; this server trusts http:\/\/127\.0\.0\.1/],
    ['wrong audience', issuer.mint('https://other.example/api'), new RegExp(`audience is https://other\\.example/api but this server accepts ${escape(accepted)}: the client must request the resource`)],
    ['no audience', issuer.mint(audience, { aud: undefined }), /no aud claim/],
    ['tampered payload', `${header}.${b64({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' })}.${signature}`, /signature does not match/],
    ['signed by another key (same kid)', issuer.mint(audience, {}, { key: otherKey }), /signature does not match/],
    ['unknown kid', issuer.mint(audience, {}, { key: generateKey() }), /signing key "[0-9a-f-]+" is not in the JWKS/],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, /signed with "none"; accepted algorithms are RS256/],
    ['HS256 with the public key as secret', createSigner({ key: publicPem, algorithm: 'HS256', kid: issuer.currentKey.kid })({ iss: issuer.issuer, sub: 'alice', aud: audience, exp: now() + 600 }), /signed with "HS256"/],
    ['JWE (5 segments)', `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, /encrypted \(a JWE\)/],
    ['garbage', 'not-a-jwt', /not a JWT/],
    ['unreadable payload', `${header}.%%%%.${signature}`, /payload is not base64url-encoded JSON/],
    ['oversized header', `${b64({ alg: 'RS256', kid: issuer.currentKey.kid, pad: 'x'.repeat(9000) })}.${payload}.${signature}`, /larger than 8192 bytes/],
    ['no sub', issuer.mint(audience, { sub: undefined }), /no sub claim/],
    ['empty sub', issuer.mint(audience, { sub: '' }), /no usable sub/],
    ['no exp', issuer.mint(audience, { exp: undefined }), /no exp claim/]
  ]
}

export interface HttpAnswer { statusCode: number, headers: Record<string, unknown>, body: string }

export function assertRejected (t: Test, response: HttpAnswer, token: string, reason: RegExp, resourceMetadata = 'http://localhost:0/.well-known/oauth-protected-resource/mcp'): void {
  t.equal(response.statusCode, 401)
  const challenge = response.headers['www-authenticate'] as string
  t.equal(challenge.startsWith(`Bearer resource_metadata="${resourceMetadata}", scope="read:profile execute:tools", error="invalid_token", error_description="`), true, challenge)
  t.match(response.headers['access-control-expose-headers'], /WWW-Authenticate/)
  const body = JSON.parse(response.body) as { error: string, error_description: string }
  t.equal(body.error, 'invalid_token')
  t.match(body.error_description, reason)
  t.notOk(response.body.includes(token), 'the body does not echo the token')
  t.notOk(challenge.includes(token), 'the challenge does not echo the token')
}
