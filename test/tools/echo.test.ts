import { test } from 'tap'
import { Compile } from 'typebox/compile'
import echo from '../../tools/echo.ts'
import { testContext } from '../support/tool-context.ts'

test('echo returns its message unchanged', async (t) => {
  t.same(await echo.handler({ message: 'héllo\nworld' }, testContext()), { message: 'héllo\nworld' })
  t.equal(echo.render?.({ message: 'abc' }), 'abc')
})

test('echo accepts 1 to 10,000 characters and nothing else', async (t) => {
  const input = Compile(echo.input)
  t.ok(input.Check({ message: 'x' }))
  t.ok(input.Check({ message: 'x'.repeat(10_000) }))
  t.notOk(input.Check({ message: '' }))
  t.notOk(input.Check({ message: 'x'.repeat(10_001) }))
  t.notOk(input.Check({ message: 1 }))
  t.notOk(input.Check({ message: 'x', extra: true }))
  t.notOk(input.Check({}))
})
