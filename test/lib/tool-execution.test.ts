/**
 * How tool calls run inside the MCP endpoint: progress streamed as SSE when the client
 * accepts it, cancellation when the client goes away, safe messages for failures.
 */
import { test, type Test } from 'tap'
import { request as httpRequest } from 'node:http'
import { Type } from 'typebox'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { defineTool, ToolError, type ToolDefinition } from '../../lib/tool.ts'
import { tools as defaultTools } from '../../tools/index.ts'
import { build } from '../helper.ts'
import { startTestIssuer } from '../support/test-issuer.ts'

let aborted: (reason: unknown) => void = () => {}
const abortSeen = () => new Promise((resolve) => { aborted = resolve })

const testTools = [
  ...defaultTools,
  defineTool({
    name: 'countdown',
    title: 'Countdown',
    description: 'Reports progress three times, then returns.',
    requiredScopes: ['execute:tools'],
    input: Type.Object({}),
    output: Type.Object({ done: Type.Boolean() }),
    async handler (_input, { reportProgress }) {
      for (let step = 1; step <= 3; step++) await reportProgress(step, 3, `step ${step}`)
      return { done: true }
    }
  }),
  defineTool({
    name: 'wait-forever',
    title: 'Wait forever',
    description: 'Waits until cancelled.',
    requiredScopes: ['execute:tools'],
    input: Type.Object({}),
    output: Type.Object({}),
    async handler (_input, { signal }) {
      await new Promise((_resolve, reject) => signal.addEventListener('abort', () => { aborted(signal.reason); reject(new Error('aborted')) }))
      return {}
    }
  }),
  defineTool({
    name: 'hang',
    title: 'Hang',
    description: 'Never finishes and ignores its signal.',
    requiredScopes: ['execute:tools'],
    input: Type.Object({}),
    output: Type.Object({}),
    async handler (_input, { signal }) {
      signal.addEventListener('abort', () => aborted(signal.reason))
      return new Promise(() => {})
    }
  }),
  defineTool({
    name: 'slow-whoami',
    title: 'Slow whoami',
    description: 'Answers with the caller after a pause, so calls overlap.',
    requiredScopes: ['read:profile'],
    input: Type.Object({ delayMs: Type.Integer() }),
    output: Type.Object({ sub: Type.String() }),
    async handler ({ delayMs }, { caller }) {
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      return { sub: caller.sub }
    }
  }),
  defineTool({
    name: 'explode',
    title: 'Explode',
    description: 'Fails in both ways a tool can.',
    requiredScopes: ['execute:tools'],
    input: Type.Object({ expected: Type.Boolean() }),
    output: Type.Object({}),
    async handler ({ expected }) {
      if (expected) throw new ToolError('The ticket TCK-1 does not exist.')
      throw new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2')
    }
  }),
  defineTool({
    name: 'bad-output',
    title: 'Bad output',
    description: 'Returns something its output schema forbids.',
    requiredScopes: ['execute:tools'],
    input: Type.Object({}),
    output: Type.Object({ count: Type.Integer() }),
    async handler () { return { count: 'many' } as unknown as { count: number } }
  })
] as ToolDefinition[]

async function setup (t: Test) {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const built = await build(t, { env: { OAUTH_ISSUER: issuer.issuer }, tools: testTools, listen: true })
  return { ...built, token: issuer.mint(`${built.url}/mcp`) }
}

const callBody = (name: string, args: unknown = {}, meta?: unknown) => JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name, arguments: args, ...(meta !== undefined && { _meta: meta }) } })

test('progress: an SSE stream when the client accepts it, plain JSON otherwise', async (t) => {
  const { url, token } = await setup(t)
  const post = (accept: string, meta?: unknown) => fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` },
    body: callBody('countdown', {}, meta)
  })

  const streamed = await post('application/json, text/event-stream', { progressToken: 'p1' })
  t.equal(streamed.status, 200)
  t.match(streamed.headers.get('content-type'), /^text\/event-stream/)
  const events = (await streamed.text()).split('\n\n').filter((frame) => frame.startsWith('event: message')).map((frame) => JSON.parse(frame.split('data: ')[1] ?? ''))
  t.same(events.slice(0, 3).map((event) => event.params), [1, 2, 3].map((progress) => ({ progressToken: 'p1', progress, total: 3, message: `step ${progress}` })))
  t.same(events[3].result.structuredContent, { done: true })
  t.equal(events.length, 4)

  const plain = await post('application/json', { progressToken: 'p2' })
  t.match(plain.headers.get('content-type'), /^application\/json/)
  t.same((await plain.json()).result.structuredContent, { done: true }, 'without text/event-stream the progress is dropped and the result is plain JSON')

  const unasked = await post('application/json, text/event-stream')
  t.match(unasked.headers.get('content-type'), /^application\/json/, 'no progress token, no stream')
})

test('progress reaches the SDK client in both eras', async (t) => {
  const { url, token } = await setup(t)
  for (const options of [{}, { versionNegotiation: { mode: { pin: '2026-07-28' } } }]) {
    const client = new Client({ name: 'progress', version: '1' }, options)
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    const seen: number[] = []
    const result = await client.callTool({ name: 'countdown', arguments: {} }, { onprogress: ({ progress }) => { seen.push(progress) } })
    t.same(seen, [1, 2, 3], JSON.stringify(options))
    t.same(result.structuredContent, { done: true })
    await client.close()
  }
})

test('a client that goes away cancels the running tool', async (t) => {
  const { url, token } = await setup(t)
  const seen = abortSeen()
  const request = httpRequest(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` } })
  request.on('error', () => {})
  request.end(callBody('wait-forever'))
  await new Promise((resolve) => setTimeout(resolve, 200))
  request.destroy()
  const reason = await Promise.race([seen, new Promise((resolve) => setTimeout(() => resolve('not aborted'), 3000))])
  t.not(reason, 'not aborted', 'the handler\'s signal fired')
})

test('failures: ToolError text is shown, anything else is logged and hidden', async (t) => {
  const { url, token, logs } = await setup(t)
  const call = async (name: string, args: unknown) => (await (await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` },
    body: callBody(name, args)
  })).json()).result

  const expected = await call('explode', { expected: true })
  t.equal(expected.isError, true)
  t.same(expected.content, [{ type: 'text', text: 'The ticket TCK-1 does not exist.' }])

  const unexpected = await call('explode', { expected: false })
  t.equal(unexpected.isError, true)
  t.match(unexpected.content[0].text, /The explode tool failed unexpectedly; the error is logged under request id \S+/)
  t.notMatch(JSON.stringify(unexpected), /hunter2|ECONNREFUSED/, 'internals stay in the log')

  const badOutput = await call('bad-output', {})
  t.equal(badOutput.isError, true, 'output that breaks the output schema is an error, not a lie')
  t.match(badOutput.content[0].text, /The bad-output tool failed unexpectedly; the error is logged under request id \S+/, 'a tool bug, reported like any other')
  t.ok(logs.lines.some((line) => line.includes('tool output does not match its output schema') && line.includes('count')), 'the log names the field')
})

test('concurrent calls from different users with the same JSON-RPC id stay apart', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { url } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer }, tools: testTools, listen: true })
  const users = Array.from({ length: 20 }, (_, index) => `user-${index}`)
  const answers = await Promise.all(users.map(async (sub, index) => {
    const response = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${issuer.mint(`${url}/mcp`, { sub })}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow-whoami', arguments: { delayMs: 200 - index * 5 } } })
    })
    return response.json() as Promise<{ id: number, result: { structuredContent: { sub: string } } }>
  }))
  t.same(answers.map((answer) => answer.id), users.map(() => 1), 'every answer carries the client\'s own id')
  t.same(answers.map((answer) => answer.result.structuredContent.sub), users, 'and its own caller')
})

test('an initialize leaves nothing behind: later requests answer as before', async (t) => {
  const { url, token } = await setup(t)
  const post = async (body: unknown, version?: string) => (await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}`, ...(version !== undefined && { 'mcp-protocol-version': version }) },
    body: JSON.stringify(body)
  })).json()
  const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' }
  const before = await post(list, '2025-06-18')
  for (const protocolVersion of ['2025-03-26', '2024-11-05']) {
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion, capabilities: { sampling: {} }, clientInfo: { name: 'old', version: '0' } } })
    t.equal(init.result.protocolVersion, protocolVersion)
  }
  t.same(await post(list, '2025-06-18'), before)
})

test('a tool that does not finish in TOOL_TIMEOUT_S is stopped: its signal aborts and the call answers', async (t) => {
  const issuer = await startTestIssuer()
  t.after(() => issuer.stop())
  const { url, logs } = await build(t, { env: { OAUTH_ISSUER: issuer.issuer, TOOL_TIMEOUT_S: '1' }, tools: testTools, listen: true })
  const seen = abortSeen()
  const started = Date.now()
  const response = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${issuer.mint(`${url}/mcp`)}` },
    body: callBody('hang')
  })
  const { result } = await response.json() as { result: { isError: boolean, content: Array<{ text: string }> } }
  t.ok(Date.now() - started < 5000, 'answered soon after the limit')
  t.equal(result.isError, true)
  t.equal(result.content[0]?.text, 'The hang tool did not finish within 1 s and was stopped.')
  t.match(String(await seen), /no result within 1 s/, 'the handler\'s signal aborted with the reason')
  t.equal(logs.audit.find((event) => event.tool === 'hang')?.failure, 'timed_out', 'and the audit trail says why')
})
