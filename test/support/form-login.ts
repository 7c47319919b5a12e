/**
 * A person answering the development authorization server's pages without a browser:
 * plain HTTP, a cookie jar, redirects followed by hand, the forms read from the HTML.
 * For tests that are about OAuth, not about the pages (those use Chromium).
 */

export interface FormLoginOptions {
  username: string
  /** Scopes to untick on the consent page. */
  decline?: readonly string[]
  /** The client's redirect URI: following stops there. */
  redirectUri: string
}

export interface FormLoginResult {
  /** The client's redirect URI with the authorization response (code, iss, state, or an error). */
  redirect: URL
  /** Every page shown, in order, with its status and HTML. */
  pages: Array<{ url: string, status: number, html: string }>
}

class CookieJar {
  readonly #cookies = new Map<string, string>()

  store (response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = ''] = header.split(';')
      const at = pair.indexOf('=')
      const name = pair.slice(0, at).trim()
      const value = pair.slice(at + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(header)) this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  header (): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

function decodeHtml (value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
}

/** Answers login and consent, following redirects, until the client's redirect URI is reached. */
export async function formLogin (authorizationUrl: URL, { username, decline = [], redirectUri }: FormLoginOptions): Promise<FormLoginResult> {
  const jar = new CookieJar()
  const pages: FormLoginResult['pages'] = []
  let next: { url: string, init?: RequestInit } = { url: authorizationUrl.href }
  for (let step = 0; step < 20; step++) {
    if (next.url.startsWith(redirectUri)) return { redirect: new URL(next.url), pages }
    const response = await fetch(next.url, { ...next.init, redirect: 'manual', headers: { ...next.init?.headers, cookie: jar.header() } })
    jar.store(response)
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.arrayBuffer()
      next = { url: new URL(location, next.url).href }
      continue
    }
    const html = await response.text()
    pages.push({ url: next.url, status: response.status, html })
    if (response.status !== 200) throw new Error(`${next.url} answered ${response.status}: ${html.slice(0, 500)}`)

    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1]
    if (action === undefined) throw new Error(`${next.url} shows no form: ${html.slice(0, 500)}`)
    const body = new URLSearchParams()
    if (html.includes('name="username"')) {
      body.set('username', username)
    } else {
      for (const match of html.matchAll(/<input type="checkbox"[^>]*name="scope" value="([^"]+)"[^>]*>/g)) {
        const scope = decodeHtml(match[1] as string)
        if (match[0].includes(' checked') && !decline.includes(scope)) body.append('scope', scope)
      }
    }
    next = {
      url: new URL(decodeHtml(action), next.url).href,
      init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() }
    }
  }
  throw new Error('the sign-in did not reach the redirect URI within 20 steps')
}
