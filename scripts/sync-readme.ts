/** Rewrites the generated parts of README.md (the configuration table): `npm run readme`. */
import { readFileSync, writeFileSync } from 'node:fs'
import { configTable } from './config-table.ts'

export const README = new URL('../README.md', import.meta.url)

export function withConfigTable (readme: string): string {
  return readme.replace(/(<!-- config-table:start -->\n)[\s\S]*?(<!-- config-table:end -->)/, `$1${configTable()}\n$2`)
}

if (import.meta.main) writeFileSync(README, withConfigTable(readFileSync(README, 'utf8')))
