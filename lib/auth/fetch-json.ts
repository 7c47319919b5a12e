/** JSON over HTTP for talking to identity providers: bounded in time and size, errors that say which URL failed. */

export const IDP_FETCH_TIMEOUT_MS = 5_000
const MAX_DOCUMENT_BYTES = 1024 * 1024

export class FetchJsonError extends Error {
  readonly url: string
  /** HTTP status when the server answered, undefined when it could not be reached. */
  readonly status: number | undefined
  constructor (url: string, message: string, status?: number, options?: ErrorOptions) {
    super(`${url}: ${message}`, options)
    this.name = 'FetchJsonError'
    this.url = url
    this.status = status
  }
}

/**
 * How an issuer's documents (metadata, JWKS) are read: `fetchJson` over the network, or an
 * in-process reader for the embedded development authorization server. Failures are
 * FetchJsonErrors carrying the HTTP status when there was one.
 */
export type JsonFetcher = (url: string) => Promise<unknown>

export async function fetchJson (url: string, init: RequestInit = {}): Promise<unknown> {
  let response: Response
  try {
    response = await fetch(url, {
      redirect: 'error',
      ...init,
      headers: { accept: 'application/json', ...init.headers },
      signal: init.signal ?? AbortSignal.timeout(IDP_FETCH_TIMEOUT_MS)
    })
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${IDP_FETCH_TIMEOUT_MS} ms` : `unreachable (${(error as Error).cause ?? (error as Error).message})`
    throw new FetchJsonError(url, reason, undefined, { cause: error })
  }
  const text = await response.text()
  if (text.length > MAX_DOCUMENT_BYTES) throw new FetchJsonError(url, 'document larger than 1 MiB', response.status)
  if (!response.ok) throw new FetchJsonError(url, `HTTP ${response.status}`, response.status)
  try {
    return JSON.parse(text)
  } catch {
    throw new FetchJsonError(url, 'the answer is not JSON', response.status)
  }
}
