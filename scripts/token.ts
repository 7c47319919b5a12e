/**
 * Prints an access token the local server accepts: `npm run -s token -- --sub alice`.
 * See lib/dev-auth/token-cli.ts (and `npm run token -- --help`).
 */
import { runTokenCli } from '../lib/dev-auth/token-cli.ts'
import { ToolRegistry } from '../lib/tool-registry.ts'
import { tools } from '../tools/index.ts'

process.exitCode = await runTokenCli(process.argv.slice(2), process.env, new ToolRegistry(tools).scopes, {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`)
})
