import { test } from 'tap'
import { REDACTED, redactSecrets, scrubSecrets, scrubUrl, serializeError } from '../../../lib/logging/secrets.ts'

const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU'
const jwe = 'eyJhbGciOiJSU0EtT0FFUCJ9.ZW5jcnlwdGVk-a2V5.aXY.Y2lwaGVydGV4dA.dGFn'

test('scrubSecrets replaces JWTs, JWEs, Authorization values and credential parameters', async (t) => {
  t.equal(scrubSecrets(`jwt malformed: ${jwt}`), `jwt malformed: ${REDACTED}`)
  t.equal(scrubSecrets(`token ${jwe} is encrypted`), `token ${REDACTED} is encrypted`)
  t.equal(scrubSecrets('upstream sent Authorization: Bearer opaque-token_123.abc'), `upstream sent Authorization: Bearer ${REDACTED}`)
  t.equal(scrubSecrets('Basic dXNlcjpwYXNz== rejected'), `Basic ${REDACTED} rejected`)
  t.equal(scrubSecrets('"authorization":"DPoP abc"'), `"authorization":"DPoP ${REDACTED}"`)
  t.equal(scrubSecrets('POST /token body grant_type=refresh_token&refresh_token=r3fr3sh&client_secret=s3cr3t'),
    `POST /token body grant_type=refresh_token&refresh_token=${REDACTED}&client_secret=${REDACTED}`)
  t.equal(scrubSecrets('{"access_token":"abc","token_type":"Bearer"}'), `{"access_token":"${REDACTED}","token_type":"Bearer"}`)
  t.equal(scrubSecrets('password: hunter2'), `password: ${REDACTED}`)
})

test('scrubSecrets leaves challenges and ordinary text alone', async (t) => {
  const challenge = 'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="read:profile", error="invalid_token"'
  t.equal(scrubSecrets(challenge), challenge)
  t.equal(scrubSecrets('Bearer realm="mcp"'), 'Bearer realm="mcp"')
  const hint = 'send it as "Authorization: Bearer <token>"'
  t.equal(scrubSecrets(hint), hint)
  t.equal(scrubSecrets('request completed'), 'request completed')
})

test('scrubUrl blanks credential query parameters and keeps the rest', async (t) => {
  t.equal(scrubUrl('/mcp'), '/mcp')
  t.equal(scrubUrl(`/mcp?access_token=${jwt}&x=1`), `/mcp?access_token=${REDACTED}&x=1`)
  t.equal(scrubUrl('/oauth/callback?code=abc123&state=xyz'), `/oauth/callback?code=${REDACTED}&state=xyz`)
  t.equal(scrubUrl('/cb?Client_Secret=s&%63ode=c'), `/cb?Client_Secret=${REDACTED}&%63ode=${REDACTED}`)
  t.equal(scrubUrl('/search?q=tokens'), '/search?q=tokens')
})

test('redactSecrets blanks secret keys at any depth and scrubs strings, copying only what changes', async (t) => {
  const headers = { authorization: `Bearer ${jwt}`, Cookie: 'sid=1', 'content-type': 'application/json' }
  const logged = { headers, nested: { deeper: { client_secret: 's3cr3t', list: [{ refresh_token: 'r' }, 'fine'] } }, note: `saw ${jwt}` }
  const redacted = redactSecrets(logged)
  t.same(redacted, {
    headers: { authorization: REDACTED, Cookie: REDACTED, 'content-type': 'application/json' },
    nested: { deeper: { client_secret: REDACTED, list: [{ refresh_token: REDACTED }, 'fine'] } },
    note: `saw ${REDACTED}`
  })
  t.equal(headers.authorization, `Bearer ${jwt}`, 'the logged object itself is not modified')
  const clean = { a: 1, b: { c: 'text' }, d: [1, 2] }
  t.equal(redactSecrets(clean), clean, 'nothing to redact: the same object, no copy')
  class Opaque { authorization = 'x' }
  const opaque = new Opaque()
  t.equal(redactSecrets(opaque), opaque, 'class instances are left to their serializers')
})

test('serializeError scrubs message, stack, causes and fields, and keeps what helps debugging', async (t) => {
  const cause = new Error(`401 from upstream for Bearer ${jwt}`)
  const error = Object.assign(new Error(`verify failed: ${jwt}`, { cause }), {
    code: 'E_UPSTREAM',
    statusCode: 502,
    config: { headers: { Authorization: `Bearer ${jwt}` }, url: 'https://api.example.com/x?access_token=abc' },
    token: jwt
  })
  const serialized = serializeError(error) as Record<string, any>
  const text = JSON.stringify(serialized)
  t.notMatch(text, jwt)
  t.notMatch(text, 'access_token=abc')
  t.equal(serialized.type, 'Error')
  t.equal(serialized.message, `verify failed: ${REDACTED}`)
  t.match(serialized.stack, /^Error: verify failed: \[REDACTED\]/)
  t.equal(serialized.code, 'E_UPSTREAM')
  t.equal(serialized.statusCode, 502)
  t.equal(serialized.token, REDACTED)
  t.equal(serialized.config.headers.Authorization, REDACTED)
  t.equal(serialized.cause.message, `401 from upstream for Bearer ${REDACTED}`)
  const aggregate = serializeError(new AggregateError([new Error(jwt)], 'many')) as Record<string, any>
  t.equal(aggregate.aggregateErrors[0].message, REDACTED)
  t.same(serializeError({ not: 'an error', password: 'p' }), { not: 'an error', password: REDACTED })
})
