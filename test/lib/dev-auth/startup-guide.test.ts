import { test } from 'tap'
import { startupGuide } from '../../../lib/dev-auth/startup-guide.ts'

test('on a laptop: MCP URL, issuer, Inspector, and how to reach ChatGPT through a tunnel', async (t) => {
  const lines = startupGuide({ publicUrl: 'http://localhost:3000', issuer: 'http://localhost:3000/oauth', port: 3000 })
  t.same(lines.map((line) => line.level), ['info', 'info', 'info', 'info'])
  t.match(lines[0]?.message, /^MCP endpoint: http:\/\/localhost:3000\/mcp/)
  t.match(lines[1]?.message, /issuer http:\/\/localhost:3000\/oauth.*npm run -s token -- --sub alice/)
  t.match(lines[2]?.message, /^MCP Inspector: .*npx @modelcontextprotocol\/inspector.*http:\/\/localhost:3000\/mcp/)
  t.match(lines[3]?.message, /^ChatGPT: needs https.*--url http:\/\/localhost:3000.*PUBLIC_URL=https:\/\/<tunnel host>/)
})

test('behind an https tunnel: the connector URL to paste, and a warning that anyone can sign in', async (t) => {
  const lines = startupGuide({ publicUrl: 'https://dev-box.trycloudflare.com', issuer: 'https://dev-box.trycloudflare.com/oauth', port: 3000 })
  t.match(lines.find((line) => line.message.startsWith('ChatGPT'))?.message, /connector with the URL https:\/\/dev-box\.trycloudflare\.com\/mcp/)
  t.match(lines.at(-1), { level: 'warn', message: /Anyone who can reach https:\/\/dev-box\.trycloudflare\.com can sign in/ })
})
