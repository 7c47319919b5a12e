import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import type { AdapterPayload } from 'oidc-provider'
import { FileStore } from '../../../lib/dev-auth/file-adapter.ts'

function folder (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpgw-file-adapter-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('what is stored survives a new store on the same folder (a restart)', async (t) => {
  const dir = folder(t)
  const store = new FileStore(dir)
  await store.adapter('Client').upsert('client-1', { client_id: 'client-1', redirect_uris: ['http://127.0.0.1/cb'] })
  await store.adapter('Grant').upsert('grant-1', { accountId: 'alice', clientId: 'client-1' } as AdapterPayload, 3600)
  await store.close()

  const restarted = new FileStore(dir)
  t.same(await restarted.adapter('Client').find('client-1'), { client_id: 'client-1', redirect_uris: ['http://127.0.0.1/cb'] })
  t.match(await restarted.adapter('Grant').find('grant-1'), { accountId: 'alice' })
  t.equal(await restarted.adapter('Grant').find('client-1'), undefined, 'models are kept apart')
  t.equal(statSync(join(dir, 'Client.json')).mode & 0o777, 0o600, 'files are private to the user')
})

test('expired entries are gone, on read and after a restart', async (t) => {
  const dir = folder(t)
  const store = new FileStore(dir)
  const codes = store.adapter('AuthorizationCode')
  await codes.upsert('short', { grantId: 'g' } as AdapterPayload, 0.05)
  await codes.upsert('long', { grantId: 'g' } as AdapterPayload, 60)
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(await codes.find('short'), undefined)
  t.match(await codes.find('long'), { grantId: 'g' })
  await codes.upsert('trigger-write', {} as AdapterPayload, 60)
  t.notMatch(readFileSync(join(dir, 'AuthorizationCode.json'), 'utf8'), /"short"/, 'expired entries are not written back')
})

test('consume, destroy, revokeByGrantId, findByUid and findByUserCode', async (t) => {
  const store = new FileStore(folder(t))
  const codes = store.adapter('AuthorizationCode')
  await codes.upsert('code', { grantId: 'g1' } as AdapterPayload, 60)
  await codes.consume('code')
  t.type((await codes.find('code'))?.consumed, 'number', 'consumed codes are marked')

  const tokens = store.adapter('RefreshToken')
  await tokens.upsert('a', { grantId: 'g1' } as AdapterPayload, 60)
  await tokens.upsert('b', { grantId: 'g2' } as AdapterPayload, 60)
  await tokens.revokeByGrantId('g1')
  t.equal(await tokens.find('a'), undefined, 'tokens of the revoked grant are gone')
  t.match(await tokens.find('b'), { grantId: 'g2' }, 'others stay')
  await tokens.destroy('b')
  t.equal(await tokens.find('b'), undefined)

  const sessions = store.adapter('Session')
  await sessions.upsert('cookie-id', { uid: 'session-uid', accountId: 'alice' } as AdapterPayload, 60)
  t.match(await sessions.findByUid('session-uid'), { accountId: 'alice' })
  t.equal(await sessions.findByUid('other'), undefined)
  await store.adapter('DeviceCode').upsert('dc', { userCode: 'ABCD-EFGH' } as AdapterPayload, 60)
  t.match(await store.adapter('DeviceCode').findByUserCode('ABCD-EFGH'), { userCode: 'ABCD-EFGH' })
})

test('stored payloads are copies: changing what was passed in or read out changes nothing', async (t) => {
  const store = new FileStore(folder(t))
  const grants = store.adapter('Grant')
  const payload = { accountId: 'alice', openid: { scope: 'openid' } } as AdapterPayload
  await grants.upsert('g', payload, 60)
  ;(payload as { accountId: string }).accountId = 'mallory'
  const read = await grants.find('g') as { accountId: string }
  read.accountId = 'eve'
  t.match(await grants.find('g'), { accountId: 'alice' })
})

test('many concurrent changes all reach the file', async (t) => {
  const dir = folder(t)
  const store = new FileStore(dir)
  const clients = store.adapter('Client')
  await Promise.all(Array.from({ length: 50 }, (_, index) => clients.upsert(`c${index}`, { client_id: `c${index}` })))
  const onDisk = JSON.parse(readFileSync(join(dir, 'Client.json'), 'utf8')) as Record<string, unknown>
  t.equal(Object.keys(onDisk).length, 50)
})

test('a damaged file is reported with what to do', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'Client.json'), '{not json')
  await t.rejects(new FileStore(dir).adapter('Client').find('x'), /Client\.json is not valid JSON: delete it \(or the whole development data folder\) to start over/)
})

test('model names cannot escape the folder', async (t) => {
  t.throws(() => new FileStore(folder(t)).adapter('../evil'), /unexpected oidc-provider model name/)
})
