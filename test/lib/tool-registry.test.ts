import { test } from 'tap'
import { Type } from 'typebox'
import { ToolRegistry, toolsWithBackends } from '../../lib/tool-registry.ts'
import { defineTool, type ToolDefinition } from '../../lib/tool.ts'
import { tools } from '../../tools/index.ts'

const sample = (overrides: Partial<ToolDefinition> = {}): ToolDefinition => defineTool({
  name: 'sample',
  title: 'Sample',
  description: 'A sample tool.',
  requiredScopes: ['a:read'],
  input: Type.Object({ count: Type.Integer({ minimum: 1 }), nested: Type.Optional(Type.Object({ flag: Type.Boolean() })) }, { additionalProperties: false }),
  output: Type.Object({ ok: Type.Boolean() }),
  async handler () { return { ok: true } },
  ...overrides
} as ToolDefinition)

test('declarations are checked at start-up', async (t) => {
  t.throws(() => new ToolRegistry([sample({ name: 'has space' })]), /Tool name "has space" must match/)
  t.throws(() => new ToolRegistry([sample(), sample()]), /declared twice/)
  t.throws(() => new ToolRegistry([sample({ requiredScopes: [] as unknown as [string] })]), /at least one scope/)
  t.throws(() => new ToolRegistry([sample({ requiredScopes: ['bad scope'] })]), /not a valid OAuth scope token/)
  t.throws(() => new ToolRegistry([sample({ input: Type.String() as never })]), /must be an object schema/)
})

test('the scope map: union of scopes, allowed tools', async (t) => {
  const registry = new ToolRegistry([sample(), sample({ name: 'other', requiredScopes: ['a:read', 'b:write'] })])
  t.same(registry.scopes, ['a:read', 'b:write'])
  t.same(registry.allowedFor(new Set(['a:read'])).map((tool) => tool.name), ['sample'])
  t.same(registry.allowedFor(new Set(['a:read', 'b:write'])).map((tool) => tool.name), ['sample', 'other'])
  t.same(new ToolRegistry(tools).scopes, ['read:profile', 'execute:tools', 'notes:read', 'notes:write'])
  t.same(new ToolRegistry(toolsWithBackends(tools, []).offered).scopes, ['read:profile', 'execute:tools'], 'without the notes backend, no notes scopes')
})

test('a tool is offered only when every backend it declares is configured', async (t) => {
  const needsNotes = sample({ name: 'needs-notes', backends: ['notes'] })
  const needsBoth = sample({ name: 'needs-both', backends: ['notes', 'crm'] })
  const plain = sample()
  const names = (list: readonly ToolDefinition[]) => list.map((tool) => tool.name)

  const none = toolsWithBackends([plain, needsNotes, needsBoth], [])
  t.same(names(none.offered), ['sample'])
  t.same(none.skipped, [{ tool: 'needs-notes', missing: ['notes'] }, { tool: 'needs-both', missing: ['notes', 'crm'] }], 'each left-out tool names what it misses')

  const notes = toolsWithBackends([plain, needsNotes, needsBoth], ['notes'])
  t.same(names(notes.offered), ['sample', 'needs-notes'])
  t.same(notes.skipped, [{ tool: 'needs-both', missing: ['crm'] }])
  t.same(names(toolsWithBackends([plain, needsNotes, needsBoth], ['crm', 'notes']).offered), ['sample', 'needs-notes', 'needs-both'])
  t.throws(() => new ToolRegistry([sample({ backends: [''] })]), /backends must be names from BACKENDS/)
})

test('descriptors carry the JSON Schema and securitySchemes', async (t) => {
  const [tool] = new ToolRegistry([sample({ annotations: { readOnlyHint: true } })]).tools
  t.same(tool?.descriptor.inputSchema.required, ['count'])
  t.same(tool?.descriptor.securitySchemes, [{ type: 'oauth2', scopes: ['a:read'] }])
  t.same(tool?.descriptor._meta, { securitySchemes: [{ type: 'oauth2', scopes: ['a:read'] }] })
  t.same(tool?.descriptor.annotations, { readOnlyHint: true })
})

test('validation issues name the offending field', async (t) => {
  const [tool] = new ToolRegistry([sample()]).tools
  const validate = (value: unknown) => tool?.inputSchema['~standard'].validate(value) as { value?: unknown, issues?: Array<{ path?: unknown[], message: string }> }
  t.same(validate({ count: 2 }), { value: { count: 2 } })
  t.same(validate({}).issues, [{ path: ['count'], message: 'is required' }])
  t.same(validate({ count: 1, extra: 1 }).issues, [{ path: ['extra'], message: 'is not an accepted property' }])
  t.same(validate({ count: 0 }).issues?.[0]?.path, ['count'])
  t.same(validate({ count: 1, nested: { flag: 'yes' } }).issues?.[0]?.path, ['nested', 'flag'])
})
