/**
 * What the start-up log says when the embedded development authorization server runs:
 * where MCP is served, who issues tokens, and how to connect MCP Inspector and ChatGPT.
 */
import { resourceIdentifier } from '../auth/challenges.ts'

export interface StartupGuideOptions {
  publicUrl: string
  issuer: string
  /** The port the server actually listens on (PORT may be 0). */
  port: number
}

export interface StartupLine {
  level: 'info' | 'warn'
  message: string
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

export function startupGuide ({ publicUrl, issuer, port }: StartupGuideOptions): StartupLine[] {
  const mcpUrl = resourceIdentifier(publicUrl, '/mcp')
  const { protocol, hostname } = new URL(publicUrl)
  const lines: StartupLine[] = [
    { level: 'info', message: `MCP endpoint: ${mcpUrl} (the bare ${publicUrl} works too)` },
    { level: 'info', message: `Development authorization server: issuer ${issuer}; sign in with any name. A token for curl or scripts: npm run -s token -- --sub alice` },
    { level: 'info', message: `MCP Inspector: run npx @modelcontextprotocol/inspector, choose Streamable HTTP, enter ${mcpUrl}, click Connect and sign in` }
  ]
  if (protocol === 'https:') {
    lines.push({ level: 'info', message: `ChatGPT: in Settings → Apps & Connectors (developer mode), create a connector with the URL ${mcpUrl} and OAuth authentication` })
  } else {
    lines.push({ level: 'info', message: `ChatGPT: needs https. Open a tunnel to this port (e.g. cloudflared tunnel --url http://localhost:${port}), restart with PUBLIC_URL=https://<tunnel host>, then add https://<tunnel host>/mcp as a connector` })
  }
  if (!LOOPBACK.has(hostname)) {
    lines.push({ level: 'warn', message: `Anyone who can reach ${publicUrl} can sign in to the development authorization server under any name: keep the tunnel to yourself and close it when done` })
  }
  return lines
}
