/**
 * `npm run doctor [-- --token <access token> | --token - ] [--json]`
 *
 * Checks the configured setup (same environment as the server) and prints one line
 * per check: ✓ fine, ! works but will bite someone, ✗ blocks clients (exit code 1).
 * `--token -` reads the token from standard input, which keeps it out of the shell
 * history and the process list.
 */
import { parseArgs } from 'node:util'
import { text } from 'node:stream/consumers'
import { loadConfigOrExit } from '../lib/config.ts'
import { renderReport } from '../lib/doctor/report.ts'
import { reportTitle, runDoctor } from '../lib/doctor/run-doctor.ts'

const USAGE = `Usage: npm run doctor [-- --token <access token> | --token -] [--json]

  --token <jwt>   also check this access token: would the server accept it, and which tools may it call
  --token -       read the token from standard input
  --json          print the report as JSON (checks with status, message and fix)`

let args: { token?: string | undefined, json?: boolean | undefined, help?: boolean | undefined }
try {
  args = parseArgs({
    options: { token: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: false
  }).values
} catch (error) {
  console.error(`mcp-gateway doctor: ${(error as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (args.help === true) {
  console.log(USAGE)
  process.exit(0)
}

// The same line, and status, as the server when it refuses to start.
const config = loadConfigOrExit()

let token = args.token
if (token === '-') {
  if (process.stdin.isTTY) process.stderr.write('Paste the access token, then press Enter and Ctrl-D:\n')
  token = await text(process.stdin)
}
token = token?.trim().replace(/^Bearer\s+/i, '')
if (token === '') {
  console.error('mcp-gateway doctor: --token was given an empty token')
  process.exit(2)
}

const report = await runDoctor({ config, token })
console.log(args.json === true ? JSON.stringify(report, null, 2) : renderReport(report, reportTitle(config), { colourFor: process.stdout }))
process.exitCode = report.ok ? 0 : 1
