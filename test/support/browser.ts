/**
 * Headless Chromium (the Debian `chromium` package, driven by playwright-core) playing
 * the person who signs in on the development authorization server's pages.
 * JavaScript is off: the pages must work as plain HTML forms.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM = '/usr/bin/chromium'
/** Git-ignored; CI keeps it as an artifact. */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts')

export async function launchBrowser (t: Test): Promise<BrowserContext> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'mcpgw-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled: false,
    viewport: { width: 900, height: 820 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'
    ]
  })
  t.after(async () => {
    await context.close()
    rmSync(userDataDir, { recursive: true, force: true })
  })
  return context
}

export interface SignInOptions {
  /** What the person types as their name. */
  username: string
  /** Scopes to untick on the consent page. */
  decline?: readonly string[]
  /** Where the client's loopback redirect lands; the sign-in is done when the browser gets there. */
  callbackUrl: string
  /** Save screenshots of both pages under test-artifacts/ with this prefix. */
  screenshots?: string
}

export interface SignInReport {
  /** What the login page offered as the name before typing (the last one used). */
  prefilledName: string
  /** The scopes the consent page listed, in order, and which were ticked. */
  consentScopes: Array<{ scope: string, checked: boolean }>
  /** Anything the browser complained about (CSP violations show up here). */
  consoleErrors: string[]
  /** Responses with an error status the pages caused (a missing stylesheet or icon, …). */
  failedRequests: string[]
}

/** Opens the authorization URL and answers the login and consent pages like a person. */
export async function signIn (context: BrowserContext, authorizationUrl: URL, { username, decline = [], callbackUrl, screenshots }: SignInOptions): Promise<SignInReport> {
  const page = await context.newPage()
  const consoleErrors: string[] = []
  const failedRequests: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
  page.on('response', (response) => { if (response.status() >= 400) failedRequests.push(`${response.status()} ${response.url()}`) })
  try {
    await page.goto(authorizationUrl.href)
    const name = page.getByLabel('Your name')
    await name.waitFor()
    const prefilledName = await name.inputValue()
    await name.fill(username)
    if (screenshots !== undefined) {
      mkdirSync(ARTIFACTS, { recursive: true })
      await page.screenshot({ path: join(ARTIFACTS, `${screenshots}-login.png`), fullPage: true })
    }
    await page.getByRole('button', { name: 'Continue' }).click()

    await page.getByRole('heading', { name: /^Allow / }).waitFor()
    const boxes = page.getByRole('checkbox')
    const consentScopes = []
    for (let index = 0; index < await boxes.count(); index++) {
      const box = boxes.nth(index)
      consentScopes.push({ scope: await box.getAttribute('value') ?? '', checked: await box.isChecked() })
    }
    for (const scope of decline) await page.getByRole('checkbox', { name: scope, exact: true }).uncheck()
    if (screenshots !== undefined) await page.screenshot({ path: join(ARTIFACTS, `${screenshots}-consent.png`), fullPage: true })
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(callbackUrl)),
      page.getByRole('button', { name: 'Allow' }).click()
    ])
    return { prefilledName, consentScopes, consoleErrors, failedRequests }
  } finally {
    await page.close()
  }
}
