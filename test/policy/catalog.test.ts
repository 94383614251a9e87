import t from 'tap'
import { ActionCatalog } from '../../src/policy/catalog.js'
import { allActionNames, testCatalog } from '../support/catalog.js'

const small = new ActionCatalog({
  s3: ['GetObject', 'GetObjectAcl', 'PutObject', 'ListBucket'],
  's3-outposts': ['GetObject'],
  sqs: ['SendMessage', 'GetQueueUrl'],
})
const names = (ids: readonly number[]) => ids.map((id) => small.name(id))

t.test('assigns ids in sorted service:action order', async (t) => {
  t.same(Array.from({ length: small.size }, (_, i) => small.name(i)), [
    's3-outposts:GetObject', 's3:GetObject', 's3:GetObjectAcl', 's3:ListBucket', 's3:PutObject', 'sqs:GetQueueUrl', 'sqs:SendMessage',
  ])
})

t.test('expands literal, wildcard and case-insensitive patterns', async (t) => {
  t.same(names(small.expand('S3:getobject')), ['s3:GetObject'])
  t.same(names(small.expand('s3:Get*')), ['s3:GetObject', 's3:GetObjectAcl'])
  t.same(names(small.expand('s3:?etObject')), ['s3:GetObject'])
  t.same(names(small.expand('s3*:GetObject')), ['s3-outposts:GetObject', 's3:GetObject'])
  t.same(names(small.expand('*:Get*')).length, 4)
  t.same(names(small.expand('*')).length, 7)
})

t.test('matches nothing for unknown services, actions and malformed patterns', async (t) => {
  t.same(small.expand('s4:GetObject'), [])
  t.same(small.expand('s3:GetObjekt'), [])
  t.same(small.expand('s3:Get.bject'), [], 'a dot is not a wildcard')
  t.same(small.expand('GetObject'), [])
})

t.test('the real catalog holds every IAM action', async (t) => {
  const catalog = await testCatalog()
  t.ok(catalog.size > 20000, `${catalog.size} actions`)
  t.ok(catalog.serviceCount > 400, `${catalog.serviceCount} services`)
  const all = await allActionNames()
  const expected = all.filter((name) => /^ec2:describe/i.test(name))
  t.same(catalog.expand('ec2:Describe*').map((id) => catalog.name(id)), expected, 'ec2:Describe* is every ec2 Describe action')
  t.same(catalog.expand('iam:PassRole').map((id) => catalog.name(id)), ['iam:PassRole'])
})
