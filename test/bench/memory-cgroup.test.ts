import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { instanceMemoryBytes } from '../../bench/memory-cgroup.ts'

test('the instance memory is read from the Cloud Run service definition', async (t) => {
  t.equal(instanceMemoryBytes('resources:\n  limits:\n    cpu: \'1\'\n    memory: 512Mi\n'), 512 * 2 ** 20)
  t.equal(instanceMemoryBytes("    memory: '1Gi'"), 2 ** 30)
  t.equal(instanceMemoryBytes('    memory: 256M'), 256e6)
  t.throws(() => instanceMemoryBytes('cpu: 1'), /no memory limit/)
  t.equal(instanceMemoryBytes(readFileSync(new URL('../../deploy/service.yaml', import.meta.url), 'utf8')), 512 * 2 ** 20, 'the deployed limit')
})
