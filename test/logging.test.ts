import { test } from 'tap'
import { prettyFactory } from 'pino-pretty'
import { build } from './helper.ts'

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const CLOUD_TRACE = '105445aa7843bc8bf206b12000100000/1;o=1'
// The apps here never verify a token: they only need an issuer URL that parses.
const OAUTH_ISSUER = 'http://127.0.0.1:9/'

test('LOG_FORMAT=cloud-logging: pino levels become Cloud Logging severities, `message` and an RFC 3339 `time`', async (t) => {
  const { app, logs } = await build(t, { env: { OAUTH_ISSUER, LOG_FORMAT: 'cloud-logging' } })
  logs.clear()
  const expected = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' } as const
  for (const level of Object.keys(expected) as Array<keyof typeof expected>) app.log[level]({ probe: level }, `a ${level} line`)
  const lines = logs.entries.filter((entry) => entry.probe !== undefined)
  t.equal(lines.length, 6)
  for (const line of lines) {
    const level = line.probe as keyof typeof expected
    t.equal(line.severity, expected[level], `${level} → ${expected[level]}`)
    t.equal(line.message, `a ${level} line`)
    t.match(line.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    t.notOk('level' in line || 'msg' in line || 'pid' in line || 'hostname' in line, 'no pino-only fields')
  }
})

test('a request logs one `request completed` line with Cloud Logging\'s httpRequest, on the request\'s trace (traceparent)', async (t) => {
  const { app, logs } = await build(t, { env: { OAUTH_ISSUER, LOG_FORMAT: 'cloud-logging', GOOGLE_CLOUD_PROJECT: 'my-project' } })
  logs.clear()
  const response = await app.inject({
    method: 'GET',
    url: '/.well-known/oauth-protected-resource/mcp?probe=1',
    headers: { traceparent: TRACEPARENT, 'user-agent': 'logging-test/1.0', referer: 'https://chatgpt.com/' }
  })
  t.equal(response.statusCode, 200)
  const completed = logs.entries.filter((entry) => entry.message === 'request completed')
  t.equal(completed.length, 1, 'one completion line per request')
  const [line] = completed
  t.equal(line?.severity, 'INFO')
  t.match(line, {
    'logging.googleapis.com/trace': 'projects/my-project/traces/0af7651916cd43dd8448eb211c80319c',
    'logging.googleapis.com/spanId': 'b7ad6b7169203331',
    'logging.googleapis.com/trace_sampled': true,
    httpRequest: {
      requestMethod: 'GET',
      requestUrl: '/.well-known/oauth-protected-resource/mcp?probe=1',
      status: 200,
      responseSize: String(response.body.length),
      userAgent: 'logging-test/1.0',
      referer: 'https://chatgpt.com/',
      remoteIp: '127.0.0.1',
      protocol: 'HTTP/1.1',
      latency: /^\d+\.\d{6}s$/
    }
  })
  const arrival = logs.entries.find((entry) => entry.message === 'incoming request')
  t.equal(arrival?.severity, 'DEBUG', 'the arrival of a request is a debug line')
  t.equal(arrival?.['logging.googleapis.com/trace'], line?.['logging.googleapis.com/trace'], 'every line of the request is on its trace')
})

test('X-Cloud-Trace-Context gives the trace when there is no traceparent; without a project, plain trace ids', async (t) => {
  const withProject = await build(t, { env: { OAUTH_ISSUER, LOG_FORMAT: 'cloud-logging', GOOGLE_CLOUD_PROJECT: 'my-project' } })
  await withProject.app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource', headers: { 'x-cloud-trace-context': CLOUD_TRACE } })
  t.match(withProject.logs.entries.find((entry) => entry.message === 'request completed'), {
    'logging.googleapis.com/trace': 'projects/my-project/traces/105445aa7843bc8bf206b12000100000',
    'logging.googleapis.com/spanId': '0000000000000001',
    'logging.googleapis.com/trace_sampled': true
  })

  const withoutProject = await build(t, { env: { OAUTH_ISSUER, LOG_FORMAT: 'cloud-logging' } })
  await withoutProject.app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource', headers: { 'x-cloud-trace-context': CLOUD_TRACE } })
  const line = withoutProject.logs.entries.find((entry) => entry.message === 'request completed')
  t.equal(line?.traceId, '105445aa7843bc8bf206b12000100000')
  t.notOk(line !== undefined && 'logging.googleapis.com/trace' in line, 'the Cloud Logging trace field needs the project id')
})

test('a 5xx response is logged at WARNING; routes with a quieter log level stay quiet when all is well', async (t) => {
  // Not listening: the issuer's keys are not loaded, so /readyz answers 503.
  const { app, logs } = await build(t, { env: { OAUTH_ISSUER, LOG_FORMAT: 'cloud-logging' } })
  logs.clear()
  t.equal((await app.inject('/healthz')).statusCode, 200)
  t.equal((await app.inject('/readyz')).statusCode, 503)
  const completed = logs.entries.filter((entry) => entry.message === 'request completed')
  t.equal(completed.length, 1, '/healthz (log level warn) wrote no completion line')
  t.match(completed[0], { severity: 'WARNING', httpRequest: { requestUrl: '/readyz', status: 503 } })
})

test('request logging never shows credential query parameters', async (t) => {
  const { app, logs } = await build(t, { env: { OAUTH_ISSUER, LOG_FORMAT: 'cloud-logging' } })
  await app.inject({ method: 'GET', url: '/no-such-page?code=one-time-code&access_token=opaque-token&keep=me' })
  const text = logs.lines.join('')
  t.notMatch(text, 'one-time-code')
  t.notMatch(text, 'opaque-token')
  t.match(text, 'code=[REDACTED]&access_token=[REDACTED]&keep=me')
  t.ok(logs.entries.some((entry) => typeof entry.message === 'string' && entry.message.startsWith('Route GET:/no-such-page?code=[REDACTED]')), 'the 404 line too')
})

test('a deliberately logged header object has its Authorization and Cookie values redacted', async (t) => {
  const { app, logs } = await build(t, { env: { OAUTH_ISSUER, LOG_FORMAT: 'cloud-logging' } })
  logs.clear()
  app.log.info({ headers: { authorization: 'Bearer opaque-access-token', cookie: 'session=abc', 'content-type': 'application/json' } }, 'debugging the headers')
  app.log.warn({ request: { headers: { Authorization: 'Basic dXNlcjpwYXNz' } }, client_secret: 'shh' }, 'nested')
  const [first, second] = logs.entries
  t.same(first?.headers, { authorization: '[REDACTED]', cookie: '[REDACTED]', 'content-type': 'application/json' })
  t.same(second?.request, { headers: { Authorization: '[REDACTED]' } })
  t.equal(second?.client_secret, '[REDACTED]')
  t.notMatch(logs.lines.join(''), /opaque-access-token|session=abc|dXNlcjpwYXNz|shh/)
})

test('LOG_FORMAT=pino (the default outside production) is what pino-pretty and `npm run dev` print readably', async (t) => {
  const { app, config, logs } = await build(t, { env: { OAUTH_ISSUER } })
  t.equal(config.LOG_FORMAT, 'pino')
  logs.clear()
  await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource', headers: { traceparent: TRACEPARENT } })
  const line = logs.lines.find((text) => text.includes('request completed'))
  t.ok(line)
  t.match(JSON.parse(line!), { level: 30, msg: 'request completed', traceId: '0af7651916cd43dd8448eb211c80319c', httpRequest: { status: 200 } })
  const pretty = prettyFactory({ colorize: false })(line!)
  t.match(pretty, /INFO.*request completed/)
  t.match(pretty, /"requestUrl": "\/\.well-known\/oauth-protected-resource"/)
})
