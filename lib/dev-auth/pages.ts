/**
 * The HTML of the development authorization server: sign-in, consent and error pages.
 * Plain forms (no JavaScript), one inline stylesheet allowed by its hash, and a banner
 * on every page saying this is a development server.
 */
import { createHash } from 'node:crypto'

const STYLES = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--border:#d0d7de;--accent:#0a58ad;--accent-fg:#fff;--note-bg:#fff4ce;--note-fg:#4d3800;--error:#b42318}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;--card:#161b22;--border:#3d444d;--accent:#4493f8;--accent-fg:#0d1117;--note-bg:#3d2e00;--note-fg:#f2cc60;--error:#ff8078}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
.dev-note{margin:0;padding:.6rem 1rem;background:var(--note-bg);color:var(--note-fg);text-align:center;font-size:.9rem;border-bottom:1px solid var(--border)}
main{max-width:30rem;margin:2.5rem auto;padding:0 1rem}
.card{background:var(--card);border:1px solid var(--border);border-radius:12px;padding:1.75rem}
h1{font-size:1.4rem;line-height:1.3;margin:0 0 .75rem}
p{margin:.5rem 0}
.muted{color:var(--muted);font-size:.9rem}
label.field{display:block;font-weight:600;margin:1.25rem 0 .35rem}
input[type=text]{width:100%;font:inherit;padding:.6rem .75rem;border:1px solid var(--border);border-radius:8px;background:var(--bg);color:var(--fg)}
input[aria-invalid=true]{border-color:var(--error)}
fieldset{border:0;padding:0;margin:1.25rem 0 0}
legend{font-weight:600;padding:0;margin-bottom:.5rem}
.scope{display:flex;gap:.75rem;align-items:flex-start;padding:.75rem;border:1px solid var(--border);border-radius:8px;margin-bottom:.5rem}
.scope input{margin:.25rem 0 0;width:1.15rem;height:1.15rem;flex:none}
.scope label{display:block}
.scope .muted{display:block;margin-top:.15rem}
.scope code{font-weight:600}
.actions{display:flex;gap:.75rem;margin-top:1.5rem;flex-wrap:wrap}
button{font:inherit;font-weight:600;padding:.6rem 1.25rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);cursor:pointer}
button.secondary{background:transparent;color:var(--fg);border-color:var(--border)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{color:var(--error);font-weight:600}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
dl{margin:1rem 0 0}
dt{margin-top:.6rem}
dd{margin:.1rem 0 0 1rem;overflow-wrap:anywhere}
`

const STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLES).digest('base64')}'`

/**
 * CSP for these pages. `form-action` must also allow where the answer finally goes:
 * browsers apply it to the redirects that follow a form submission, and the last one
 * lands on the client's redirect URI.
 */
export function pageCsp (formTargets: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `style-src ${STYLE_SOURCE}`,
    "img-src 'self' data:",
    `form-action 'self'${formTargets.map((target) => ` ${target}`).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'"
  ].join('; ')
}

/**
 * CSP for what oidc-provider renders itself (error pages, form_post responses, JSON).
 * It adds the hash of its own inline auto-submit script to `script-src`; its forms post
 * to client redirect URIs, so `form-action` stays open.
 */
export const PROVIDER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src ${STYLE_SOURCE}`,
  "frame-ancestors 'none'",
  "base-uri 'none'"
].join('; ')

/** The CSP source that lets a form's redirect chain end at `redirectUri`: its origin, or its scheme for app links. */
export function formTargetOf (redirectUri: unknown): string | undefined {
  if (typeof redirectUri !== 'string') return undefined
  const url = URL.parse(redirectUri)
  if (url === null) return undefined
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin
  // CSP scheme-source: `cursor:` lets the browser hand the answer to the app.
  return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : undefined
}

export function escapeHtml (value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

function layout (title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} · development authorization server</title>
<style>${STYLES}</style>
</head>
<body>
<p class="dev-note" role="note"><strong>Development authorization server.</strong> For local testing only: any name signs in, no password. Production uses your identity provider.</p>
<main>
<div class="card">
${body}
</div>
</main>
</body>
</html>
`
}

/** Where the person is sent back to, as they would recognise it (`127.0.0.1:41234`, `chatgpt.com`, `cursor://…`). */
export function describeRedirect (redirectUri: unknown): string {
  if (typeof redirectUri !== 'string') return 'the app'
  const url = URL.parse(redirectUri)
  if (url === null) return 'the app'
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : `${url.protocol}//${url.host}`
}

export interface LoginPageOptions {
  action: string
  abortAction: string
  clientName: string
  resourceName: string
  returnsTo: string
  username?: string | undefined
  error?: string | undefined
}

export function loginPage ({ action, abortAction, clientName, resourceName, returnsTo, username = '', error }: LoginPageOptions): string {
  const errorId = 'username-error'
  return layout('Sign in', `<h1>Sign in to ${escapeHtml(resourceName)}</h1>
<p><strong>${escapeHtml(clientName)}</strong> wants to use ${escapeHtml(resourceName)} on your behalf.</p>
<form method="post" action="${escapeHtml(action)}">
<label class="field" for="username">Your name</label>
<input type="text" id="username" name="username" value="${escapeHtml(username)}" required maxlength="100" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus aria-describedby="username-hint${error === undefined ? '' : ` ${errorId}`}"${error === undefined ? '' : ' aria-invalid="true"'}>
<p class="muted" id="username-hint">Any name works; it becomes the <code>sub</code> (subject) of your access token.</p>
${error === undefined ? '' : `<p class="error" id="${errorId}" role="alert">${escapeHtml(error)}</p>\n`}<div class="actions">
<button type="submit">Continue</button>
<button type="submit" class="secondary" formaction="${escapeHtml(abortAction)}" formnovalidate>Cancel</button>
</div>
</form>
<p class="muted">Afterwards you return to <code>${escapeHtml(returnsTo)}</code>.</p>`)
}

export interface ScopeChoice {
  scope: string
  description: string
  checked: boolean
}

export interface ConsentPageOptions {
  action: string
  abortAction: string
  clientName: string
  resourceName: string
  accountId: string
  returnsTo: string
  scopes: readonly ScopeChoice[]
  /** Requested scopes this server does not know: shown, never granted. */
  unknownScopes: readonly string[]
  error?: string | undefined
}

export function consentPage (options: ConsentPageOptions): string {
  const { action, abortAction, clientName, resourceName, accountId, returnsTo, scopes, unknownScopes, error } = options
  const items = scopes.map(({ scope, description, checked }, index) => `<div class="scope">
<input type="checkbox" id="scope-${index}" name="scope" value="${escapeHtml(scope)}"${checked ? ' checked' : ''} aria-describedby="scope-${index}-description">
<div><label for="scope-${index}"><code>${escapeHtml(scope)}</code></label><span class="muted" id="scope-${index}-description">${escapeHtml(description)}</span></div>
</div>`).join('\n')
  const ignored = unknownScopes.length === 0
    ? ''
    : `<p class="muted">Also requested, but not offered by this server (not granted): ${unknownScopes.map((scope) => `<code>${escapeHtml(scope)}</code>`).join(', ')}.</p>\n`
  return layout('Allow access', `<h1>Allow ${escapeHtml(clientName)} to use ${escapeHtml(resourceName)}?</h1>
<p>Signed in as <strong>${escapeHtml(accountId)}</strong>.</p>
<form method="post" action="${escapeHtml(action)}">
<fieldset>
<legend>Permissions (untick any you do not want to grant)</legend>
${items}
</fieldset>
${ignored}${error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>\n`}<div class="actions">
<button type="submit">Allow</button>
<button type="submit" class="secondary" formaction="${escapeHtml(abortAction)}">Deny</button>
</div>
</form>
<p class="muted">Afterwards you return to <code>${escapeHtml(returnsTo)}</code>.</p>`)
}

export interface ErrorPageOptions {
  title: string
  message: string
  details?: ReadonlyArray<[string, string]>
}

export function errorPage ({ title, message, details = [] }: ErrorPageOptions): string {
  const list = details.length === 0
    ? ''
    : `\n<dl>\n${details.map(([name, value]) => `<dt><code>${escapeHtml(name)}</code></dt><dd>${escapeHtml(value)}</dd>`).join('\n')}\n</dl>`
  return layout(title, `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>${list}`)
}
