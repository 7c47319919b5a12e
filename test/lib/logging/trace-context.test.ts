import { test } from 'tap'
import { traceContextOf, traceLogFields } from '../../../lib/logging/trace-context.ts'

test('traceparent (W3C) gives the trace, the span and the sampled flag', async (t) => {
  t.same(traceContextOf({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
    { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sampled: true })
  t.same(traceContextOf({ traceparent: '00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-00' }),
    { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sampled: false })
  t.same(traceContextOf({ traceparent: '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future' })?.traceId,
    '0af7651916cd43dd8448eb211c80319c', 'a later version may append fields')
})

test('X-Cloud-Trace-Context gives the trace, the span (decimal → 16 hex digits) and o=1', async (t) => {
  t.same(traceContextOf({ 'x-cloud-trace-context': '105445aa7843bc8bf206b12000100000/1;o=1' }),
    { traceId: '105445aa7843bc8bf206b12000100000', spanId: '0000000000000001', sampled: true })
  t.same(traceContextOf({ 'x-cloud-trace-context': '105445AA7843BC8BF206B12000100000/18446744073709551615;o=0' }),
    { traceId: '105445aa7843bc8bf206b12000100000', spanId: 'ffffffffffffffff', sampled: false })
  t.same(traceContextOf({ 'x-cloud-trace-context': '105445aa7843bc8bf206b12000100000' }),
    { traceId: '105445aa7843bc8bf206b12000100000', spanId: undefined, sampled: false })
})

test('traceparent wins over X-Cloud-Trace-Context; an invalid traceparent falls back to it', async (t) => {
  const cloud = '105445aa7843bc8bf206b12000100000/1;o=1'
  t.equal(traceContextOf({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-cloud-trace-context': cloud })?.traceId,
    '0af7651916cd43dd8448eb211c80319c')
  t.equal(traceContextOf({ traceparent: 'garbage', 'x-cloud-trace-context': cloud })?.traceId, '105445aa7843bc8bf206b12000100000')
})

test('malformed or all-zero trace headers give no trace', async (t) => {
  for (const traceparent of [
    '00-00000000000000000000000000000000-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
    'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
    '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01'
  ]) t.equal(traceContextOf({ traceparent }), undefined, traceparent)
  for (const cloud of ['00000000000000000000000000000000/1;o=1', 'nothex/1', '105445aa7843bc8bf206b12000100000/abc']) {
    t.equal(traceContextOf({ 'x-cloud-trace-context': cloud }), undefined, cloud)
  }
  t.equal(traceContextOf({}), undefined)
})

test('Cloud Logging fields name the project; without one, plain ids', async (t) => {
  const trace = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sampled: true }
  t.same(traceLogFields(trace, 'my-project'), {
    'logging.googleapis.com/trace': 'projects/my-project/traces/0af7651916cd43dd8448eb211c80319c',
    'logging.googleapis.com/spanId': 'b7ad6b7169203331',
    'logging.googleapis.com/trace_sampled': true
  })
  t.same(traceLogFields(trace, undefined), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' })
})
