/**
 * In-memory log capture for apps under test, and the check that no log line carries a
 * credential. test/helper.ts gives every app it builds a capture at trace level, so every
 * flow of the whole suite is checked, not only the flows of the logging tests.
 */
import type { AuditEvent } from '../../lib/audit.ts'
import type { LogDestination } from '../../lib/logging/logger.ts'

/** Every token the suite's issuers signed (test-issuer.ts adds to it): none may appear in a log line. */
export const issuedTokens = new Set<string>()

const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/
/** An Authorization value that escaped redaction (challenges such as `Bearer resource_metadata="…"` are fine). */
const CREDENTIALS = /\b(?:Bearer|Basic|DPoP)\s+(?!\[REDACTED\])(?!(?:realm|scope|error|error_description|error_uri|resource_metadata)\s*=)[A-Za-z0-9\-._~+/]+=*/i

/** What in `line` looks like a leaked credential: a known token (or its signature), a JWT, an Authorization value. */
export function findSecrets (line: string, tokens: Iterable<string> = issuedTokens): string[] {
  const found: string[] = []
  for (const token of tokens) {
    const signature = token.split('.')[2] ?? ''
    if (line.includes(token) || (signature.length >= 16 && line.includes(signature))) found.push(`token ${token.slice(0, 12)}…`)
  }
  const jwt = JWT.exec(line)
  if (jwt !== null) found.push(`JWT ${jwt[0].slice(0, 12)}…`)
  const credentials = CREDENTIALS.exec(line)
  if (credentials !== null) found.push(`Authorization value ${credentials[0].slice(0, 12)}…`)
  return found
}

export class LogCapture implements LogDestination {
  readonly lines: string[] = []
  readonly #echo: boolean

  constructor ({ echo = false }: { echo?: boolean } = {}) {
    this.#echo = echo
  }

  write (line: string): void {
    this.lines.push(line)
    if (this.#echo) process.stderr.write(line)
  }

  /** Every line, parsed. */
  get entries (): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  /** The audit events written so far. */
  get audit (): AuditEvent[] {
    return this.entries.flatMap((entry) => entry.audit === undefined ? [] : [entry.audit as AuditEvent])
  }

  /** Lines carrying something that looks like a credential, with what was found. */
  leaks (tokens?: Iterable<string>): string[] {
    return this.lines.flatMap((line) => {
      const found = findSecrets(line, tokens)
      return found.length === 0 ? [] : [`${found.join(', ')} in: ${line.slice(0, 300)}`]
    })
  }

  clear (): void {
    this.lines.length = 0
  }
}
