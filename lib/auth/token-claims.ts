/** Reading identity out of verified token claims, across the dialects IdPs speak. */
import type { Caller } from '../caller.ts'

function words (value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter((word) => word !== '')
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string' && item !== '')
  return []
}

/** Granted scopes: `scope` (RFC 8693 space-separated), `scp` (Okta, Entra: array or string) and `permissions` (Auth0 RBAC). */
export function scopesOf (claims: Record<string, unknown>): Set<string> {
  return new Set([...words(claims.scope), ...words(claims.scp), ...words(claims.permissions)])
}

export function audiencesOf (claims: Record<string, unknown>): string[] {
  const { aud } = claims
  if (typeof aud === 'string') return [aud]
  return Array.isArray(aud) ? aud.filter((item): item is string => typeof item === 'string') : []
}

/** Claims that passed signature, issuer, audience and time checks → the caller tools see. */
export function callerFromClaims (claims: Record<string, unknown>): Caller {
  // azp (OIDC, Auth0, Keycloak), client_id (RFC 9068), cid (Okta).
  const clientId = [claims.azp, claims.client_id, claims.cid].find((value): value is string => typeof value === 'string' && value !== '')
  return {
    sub: claims.sub as string,
    issuer: claims.iss as string,
    audience: audiencesOf(claims),
    clientId,
    scopes: scopesOf(claims),
    expiresAt: claims.exp as number,
    claims
  }
}
