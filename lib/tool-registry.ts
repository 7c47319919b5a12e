/**
 * The tool registry: built once at start-up from the declarations in `tools/`.
 * Everything derived from a declaration — compiled validators, the JSON Schema and
 * descriptor `tools/list` publishes, the scope map — is computed here, never per request.
 * The tool→scope map is the single source for scope checks, `tools/list` filtering,
 * `securitySchemes`, PRM `scopes_supported` and the scopes named in challenges.
 */
import type { StandardSchemaWithJSON, Tool } from '@modelcontextprotocol/server'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { missingScopes } from './caller.ts'
import type { ToolDefinition, ToolSummary } from './tool.ts'

const TOOL_NAME = /^[A-Za-z0-9._-]{1,128}$/
// RFC 6749 §3.3 scope-token.
const SCOPE_TOKEN = /^[\u0021\u0023-\u005B\u005D-\u007E]+$/

export interface RegisteredTool extends ToolSummary {
  readonly definition: ToolDefinition
  /** Validators in the Standard Schema shape the MCP SDK consumes, backed by compiled TypeBox. */
  readonly inputSchema: StandardSchemaWithJSON
  readonly outputSchema: StandardSchemaWithJSON
  /** The `tools/list` entry, with OAuth `securitySchemes` (and its OpenAI Apps SDK `_meta` mirror). */
  readonly descriptor: ToolDescriptor
}

/** `securitySchemes` is an OpenAI Apps SDK extension the SDK's Tool type does not name. */
export type ToolDescriptor = Tool & { securitySchemes: Array<{ type: 'oauth2', scopes: string[] }> }

interface Issue { message: string, path?: PropertyKey[] }

/** TypeBox errors → Standard Schema issues whose path names the offending field. */
function toIssues (errors: ReturnType<ReturnType<typeof Compile>['Errors']>): Issue[] {
  const issues: Issue[] = []
  for (const error of errors) {
    const path = error.instancePath.split('/').slice(1).map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    const params = error.params as { requiredProperties?: string[], additionalProperties?: string[] }
    if (error.keyword === 'required' && params.requiredProperties !== undefined) {
      for (const property of params.requiredProperties) issues.push({ path: [...path, property], message: 'is required' })
    } else if (error.keyword === 'additionalProperties' && params.additionalProperties !== undefined) {
      for (const property of params.additionalProperties) issues.push({ path: [...path, property], message: 'is not an accepted property' })
    } else if (error.keyword !== 'boolean') {
      // 'boolean' repeats an additionalProperties error per property ("schema is false").
      issues.push({ path, message: error.message })
    }
  }
  return issues.length > 0 ? issues : [{ message: 'does not match the schema' }]
}

function standardSchema (schema: TSchema): StandardSchemaWithJSON {
  const validator = Compile(schema)
  // TypeBox 1.x schemas are plain JSON Schema; a copy keeps the published one immutable.
  const json = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>
  return {
    '~standard': {
      version: 1,
      vendor: 'typebox',
      validate: (value: unknown) => validator.Check(value) ? { value } : { issues: toIssues(validator.Errors(value)) },
      jsonSchema: { input: () => json, output: () => json }
    }
  }
}

/**
 * The tools that can run with the configured backends: a tool that needs a backend
 * BACKENDS does not name is left out (and said why), rather than offered and failing.
 */
export function toolsWithBackends (definitions: readonly ToolDefinition[], configured: Iterable<string>): { offered: ToolDefinition[], skipped: Array<{ tool: string, missing: string[] }> } {
  const available = new Set(configured)
  const offered: ToolDefinition[] = []
  const skipped: Array<{ tool: string, missing: string[] }> = []
  for (const definition of definitions) {
    const missing = (definition.backends ?? []).filter((backend) => !available.has(backend))
    if (missing.length === 0) offered.push(definition)
    else skipped.push({ tool: definition.name, missing })
  }
  return { offered, skipped }
}

export class ToolRegistry {
  readonly tools: readonly RegisteredTool[]
  readonly summaries: readonly ToolSummary[]
  /** Every scope some tool requires, in declaration order: PRM `scopes_supported` and the 401 `scope`. */
  readonly scopes: readonly string[]
  readonly #byName: ReadonlyMap<string, RegisteredTool>

  constructor (definitions: readonly ToolDefinition[]) {
    const byName = new Map<string, RegisteredTool>()
    for (const definition of definitions) {
      const { name, requiredScopes } = definition
      if (!TOOL_NAME.test(name)) throw new Error(`Tool name ${JSON.stringify(name)} must match ${TOOL_NAME}`)
      if (byName.has(name)) throw new Error(`Tool ${name} is declared twice`)
      if (requiredScopes.length === 0) throw new Error(`Tool ${name} must require at least one scope`)
      for (const scope of requiredScopes) {
        if (!SCOPE_TOKEN.test(scope)) throw new Error(`Tool ${name}: scope ${JSON.stringify(scope)} is not a valid OAuth scope token`)
      }
      if (definition.input.type !== 'object') throw new Error(`Tool ${name}: the input schema must be an object schema`)
      const { rateLimit } = definition
      for (const backend of definition.backends ?? []) {
        if (typeof backend !== 'string' || backend === '') throw new Error(`Tool ${name}: backends must be names from BACKENDS, got ${JSON.stringify(backend)}`)
      }
      if (rateLimit !== undefined && !(Number.isSafeInteger(rateLimit.max) && rateLimit.max > 0 && Number.isSafeInteger(rateLimit.timeWindowMs) && rateLimit.timeWindowMs >= 1000)) {
        throw new Error(`Tool ${name}: rateLimit needs a positive whole max and a timeWindowMs of at least 1000, got ${JSON.stringify(rateLimit)}`)
      }
      const inputSchema = standardSchema(definition.input)
      const outputSchema = standardSchema(definition.output)
      const securitySchemes = [{ type: 'oauth2', scopes: [...requiredScopes] }]
      const descriptor = {
        name,
        title: definition.title,
        description: definition.description,
        inputSchema: inputSchema['~standard'].jsonSchema.input({ target: 'draft-2020-12' }),
        outputSchema: outputSchema['~standard'].jsonSchema.output({ target: 'draft-2020-12' }),
        ...(definition.annotations !== undefined && { annotations: definition.annotations }),
        securitySchemes,
        _meta: { securitySchemes }
      } as unknown as ToolDescriptor
      byName.set(name, { name, title: definition.title, requiredScopes, definition, inputSchema, outputSchema, descriptor })
    }
    this.#byName = byName
    this.tools = [...byName.values()]
    this.summaries = this.tools.map(({ name, title, requiredScopes }) => ({ name, title, requiredScopes }))
    this.scopes = [...new Set(this.tools.flatMap((tool) => tool.requiredScopes))]
  }

  get (name: string): RegisteredTool | undefined {
    return this.#byName.get(name)
  }

  /** The tools whose every required scope is held. */
  allowedFor (held: ReadonlySet<string>): RegisteredTool[] {
    return this.tools.filter((tool) => missingScopes(tool.requiredScopes, held).length === 0)
  }
}
