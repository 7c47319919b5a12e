/**
 * The doctor's report as data: every check with its status, one sentence saying what
 * was found and, for a failure or a warning, one sentence saying what to change.
 * Tests read this; `npm run doctor` prints it (renderReport) or emits it as JSON.
 */
import { styleText } from 'node:util'

/**
 * - fail: something blocks clients (the doctor exits non-zero);
 * - warn: works, but something will bite some clients or some users;
 * - skip: could not be checked (an earlier check failed, or the IdP does not say).
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip'

export interface Check {
  /** Stable identifier (`issuer-match`, `jwks`, `token`, `tool:echo`, …). */
  readonly id: string
  /** Heading the check is printed under: `Server`, `Issuer https://…`, `Token`. */
  readonly section: string
  readonly status: CheckStatus
  /** What was found, in one sentence. */
  readonly message: string
  /** For `fail` and `warn`: the change that fixes it, for the detected provider when known. */
  readonly fix?: string | undefined
  /** Extra lines printed under the check (values to copy, things to verify by hand). */
  readonly details?: readonly string[] | undefined
}

export interface DoctorReport {
  readonly checks: readonly Check[]
  /** True when no check failed: what the exit code reflects. */
  readonly ok: boolean
}

export function makeReport (checks: readonly Check[]): DoctorReport {
  return { checks, ok: !checks.some((check) => check.status === 'fail') }
}

const SYMBOLS: Record<CheckStatus, string> = { pass: '✓', fail: '✗', warn: '!', skip: '–' }
const COLOURS = { pass: 'green', fail: 'red', warn: 'yellow', skip: 'gray' } as const

export interface RenderOptions {
  /** Colour the status symbols when this stream is a terminal that allows colour (NO_COLOR, FORCE_COLOR honoured). */
  readonly colourFor?: NodeJS.WriteStream | undefined
}

/** The report as text: sections in order, one line per check (problem and fix together), details indented. */
export function renderReport (report: DoctorReport, title: string, { colourFor }: RenderOptions = {}): string {
  const paint = (status: CheckStatus, text: string) => colourFor === undefined ? text : styleText(COLOURS[status], text, { stream: colourFor })
  const lines = [title]
  let section: string | undefined
  for (const check of report.checks) {
    if (check.section !== section) {
      section = check.section
      lines.push('', section)
    }
    const fix = check.fix !== undefined && (check.status === 'fail' || check.status === 'warn') ? ` Fix: ${check.fix}` : ''
    lines.push(`  ${paint(check.status, SYMBOLS[check.status])} ${check.message}${fix}`)
    for (const detail of check.details ?? []) lines.push(`      ${detail}`)
  }
  const failures = report.checks.filter((check) => check.status === 'fail').length
  const warnings = report.checks.filter((check) => check.status === 'warn').length
  lines.push('', failures === 0
    ? `No problem blocks clients${warnings > 0 ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}.`
    : `${failures} problem${failures > 1 ? 's' : ''} block${failures > 1 ? '' : 's'} clients${warnings > 0 ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}.`)
  return lines.join('\n')
}
