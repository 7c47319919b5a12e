/**
 * Keeps credentials out of log lines: Authorization values, access/refresh/ID tokens,
 * cookies, client secrets. Applied to every logged object (by key and by value), to
 * messages, to request URLs and to errors, including their causes, because a token
 * reaches a log line most often by accident: inside an error message from a library,
 * a URL with a query string, a headers object logged while debugging.
 */

export const REDACTED = '[REDACTED]'

/** Object keys whose values are credentials whatever they look like (compared lower-cased). */
const SECRET_KEYS = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token',
  'token', 'access_token', 'accesstoken', 'refresh_token', 'refreshtoken', 'id_token', 'idtoken',
  'client_secret', 'clientsecret', 'password', 'secret', 'code_verifier', 'client_assertion',
  'private_key', 'privatekey', 'audit_digest_key', 'oauth_client_secret', 'oauth_client_private_key',
  'backend_signing_keys', 'redis_url', 'subject_token', 'actor_token'
])

/** Query parameters that carry credentials or one-time codes. */
const SECRET_QUERY_PARAMS = new Set([
  'access_token', 'refresh_token', 'id_token', 'token', 'code', 'client_secret', 'code_verifier',
  'client_assertion', 'password', 'assertion', 'subject_token', 'actor_token'
])

/** Cheap pre-check: text without any of these cannot hold something the patterns below replace. */
const MAYBE_SECRET = /eyJ|bearer|basic|dpop|token|secret|password|code_verifier|assertion/i
/** JWS (3 segments) and JWE (5 segments): every JWT starts with a base64url `{"`. */
const JWT = /eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){2,4}/g
/** An Authorization value; not a challenge (`Bearer resource_metadata="…"`, `Bearer realm=…`). */
const CREDENTIALS = /\b(Bearer|Basic|DPoP)\s+(?!(?:realm|scope|error|error_description|error_uri|resource_metadata)\s*=)[A-Za-z0-9\-._~+/]+=*/gi
const KEY_VALUE = /\b(access_token|refresh_token|id_token|client_secret|code_verifier|client_assertion|password)(=|"?\s*:\s*"?)[^&\s"',;]+/gi

/** Replaces credentials found in free text (messages, error messages, stacks). */
export function scrubSecrets (text: string): string {
  if (!MAYBE_SECRET.test(text)) return text
  return text
    .replace(JWT, REDACTED)
    .replace(CREDENTIALS, `$1 ${REDACTED}`)
    .replace(KEY_VALUE, `$1$2${REDACTED}`)
}

export function isSecretKey (key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase())
}

/** A request URL for the logs: credential-bearing query parameters are blanked. */
export function scrubUrl (url: string): string {
  const query = url.indexOf('?')
  if (query === -1) return scrubSecrets(url)
  const params = url.slice(query + 1).split('&').map((pair) => {
    const separator = pair.indexOf('=')
    const name = separator === -1 ? pair : pair.slice(0, separator)
    let decoded = name
    try {
      decoded = decodeURIComponent(name)
    } catch {}
    return separator !== -1 && SECRET_QUERY_PARAMS.has(decoded.toLowerCase()) ? `${name}=${REDACTED}` : pair
  })
  return scrubSecrets(`${url.slice(0, query)}?${params.join('&')}`)
}

function isPlainObject (value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

const MAX_DEPTH = 5

/**
 * The value with secret keys blanked and credentials scrubbed from strings, walking
 * plain objects and arrays (class instances are left to their serializers). Returns
 * the same value when there was nothing to redact, so the common log line costs a
 * walk and no copies.
 */
export function redactSecrets<T> (value: T, depth = 0): T {
  if (typeof value === 'string') return scrubSecrets(value) as T
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let index = 0; index < value.length; index++) {
      const redacted = redactSecrets(value[index], depth + 1)
      if (redacted !== value[index]) {
        copy ??= value.slice()
        copy[index] = redacted
      }
    }
    return (copy ?? value) as T
  }
  if (!isPlainObject(value)) return value
  let copy: Record<string, unknown> | undefined
  for (const key in value) {
    const original = value[key]
    const redacted = original !== undefined && original !== null && original !== '' && isSecretKey(key) ? REDACTED : redactSecrets(original, depth + 1)
    if (redacted !== original) {
      copy ??= { ...value }
      copy[key] = redacted
    }
  }
  return (copy ?? value) as T
}

interface SerializedError {
  type: string
  message: string
  stack?: string
  [key: string]: unknown
}

/**
 * The `err` serializer: type, message, stack, code and other own fields of the error,
 * its `cause` chain and aggregated errors, every string scrubbed and secret keys blanked.
 */
export function serializeError (error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return redactSecrets(error)
  const serialized: SerializedError = {
    type: error.constructor?.name ?? error.name,
    message: scrubSecrets(error.message)
  }
  if (typeof error.stack === 'string') serialized.stack = scrubSecrets(error.stack)
  for (const key in error) {
    if (key === 'cause' || key in serialized) continue
    const field = (error as unknown as Record<string, unknown>)[key]
    if (typeof field === 'function') continue
    serialized[key] = isSecretKey(key) ? REDACTED : redactSecrets(field, MAX_DEPTH - 2)
  }
  if (error.cause !== undefined && depth < 4) serialized.cause = serializeError(error.cause, depth + 1)
  if (error instanceof AggregateError && depth < 4) serialized.aggregateErrors = error.errors.map((inner) => serializeError(inner, depth + 1))
  return serialized
}
