/**
 * How a call to a backend fails, as the user reads it. Every failure a user can do
 * something about (or should know about) is a BackendError: a ToolError, so the call
 * ends as an `isError` result with this message (and the audit trail records it), with
 * a stable code and the backend's name for logs and audit. Details that would only
 * help an attacker or confuse a user (internal URLs, IdP client errors) go to the log.
 */
import { ToolError } from '../tool.ts'

export type BackendErrorCode =
  /** The identity provider would not issue a token for this user and backend (consent, policy, scopes). */
  | 'MCPGW_BACKEND_ACCESS_REFUSED'
  /** No credentials could be obtained right now: the IdP is down or slow, or this server's client is misconfigured. */
  | 'MCPGW_BACKEND_ACCESS_UNAVAILABLE'
  /** The backend could not be reached (connection refused or reset, DNS). */
  | 'MCPGW_BACKEND_UNREACHABLE'
  /** The backend did not answer in time. */
  | 'MCPGW_BACKEND_TIMEOUT'
  /** The backend answered with an error status (json helper). */
  | 'MCPGW_BACKEND_HTTP_ERROR'
  /** The backend's answer was not what the helper expects (not JSON, too large). */
  | 'MCPGW_BACKEND_BAD_RESPONSE'

export class BackendError extends ToolError {
  readonly code: BackendErrorCode
  /** The backend's name in BACKENDS. */
  readonly backend: string
  /** The HTTP status the backend answered with, when it answered. */
  readonly status: number | undefined

  constructor (backend: string, code: BackendErrorCode, message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options)
    this.name = 'BackendError'
    this.code = code
    this.backend = backend
    this.status = options?.status
  }
}

/**
 * The inbound access token was about to leave in a request to a backend. This is a bug
 * (the token's audience is this server, never the backend), so it is not a ToolError:
 * the request is not sent, the error is logged, and the user gets the generic message.
 */
export class InboundTokenLeakError extends Error {
  readonly code = 'MCPGW_INBOUND_TOKEN_LEAK'
  constructor (backend: string, where: string) {
    super(`refused to send a request to the backend ${backend}: its ${where} contains the caller's inbound access token, which must never leave this server (token passthrough)`)
    this.name = 'InboundTokenLeakError'
  }
}
