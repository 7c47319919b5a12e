/** The verified identity behind a request: what the auth plugin puts on `request.caller`. */
export interface Caller {
  /** Subject (`sub`): the user, as the issuer names them. */
  readonly sub: string
  /** The issuer (`iss`) that vouched for the subject. */
  readonly issuer: string
  /** Audiences (`aud`) the token was issued for. */
  readonly audience: readonly string[]
  /** The OAuth client the user authorised (`azp` / `client_id`), when the token says. */
  readonly clientId: string | undefined
  /** Granted scopes: the union of `scope`, `scp` and `permissions`. */
  readonly scopes: ReadonlySet<string>
  /** Token expiry, seconds since the epoch. */
  readonly expiresAt: number
  /** Every claim of the verified token, for tools that need more. */
  readonly claims: Readonly<Record<string, unknown>>
}

/** The scopes of `required` that `held` lacks, in the order they were declared. */
export function missingScopes (required: readonly string[], held: ReadonlySet<string>): string[] {
  return required.filter((scope) => !held.has(scope))
}
