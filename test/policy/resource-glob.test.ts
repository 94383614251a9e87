import t from 'tap'
import { globIncludes, globsIntersect } from '../../src/policy/resource-glob.js'

t.test('intersection: some ARN matches both patterns', async (t) => {
  t.equal(globsIntersect('*', 'arn:aws:s3:::b'), true)
  t.equal(globsIntersect('arn:aws:s3:::team-*', 'arn:aws:s3:::team-a/*'), true)
  t.equal(globsIntersect('arn:aws:s3:::team-*/*', 'arn:aws:s3:::*-a/x'), true)
  t.equal(globsIntersect('arn:aws:s3:::a?c', 'arn:aws:s3:::abc'), true)
  t.equal(globsIntersect('arn:aws:s3:::team-a/*', 'arn:aws:s3:::team-b/*'), false)
  t.equal(globsIntersect('arn:aws:s3:::team', 'arn:aws:s3:::team/*'), false)
  t.equal(globsIntersect('arn:aws:s3:::Team', 'arn:aws:s3:::team'), false, 'case-sensitive')
  t.equal(globsIntersect('arn:aws:s3:::shared/${aws:PrincipalTag/x}/*', 'arn:aws:s3:::shared/orders/a'), true, 'a variable can be anything')
})

t.test('inclusion: every ARN of the inner pattern matches the outer', async (t) => {
  t.equal(globIncludes('*', 'arn:aws:s3:::b/*'), true)
  t.equal(globIncludes('arn:aws:s3:::team-*', 'arn:aws:s3:::team-a*'), true)
  t.equal(globIncludes('arn:aws:s3:::team-a*', 'arn:aws:s3:::team-*'), false)
  t.equal(globIncludes('arn:aws:s3:::a?c', 'arn:aws:s3:::abc'), true)
  t.equal(globIncludes('arn:aws:s3:::abc', 'arn:aws:s3:::a?c'), false)
  t.equal(globIncludes('arn:aws:s3:::b', 'arn:aws:s3:::b'), true)
})

t.test('a resource of any length is compared without overflowing the stack', async (t) => {
  const long = `arn:aws:s3:::acme-team-a/${'x'.repeat(300_000)}`
  t.equal(globsIntersect('arn:aws:s3:::acme-team-*/*', long), true, 'a long ARN in a base pattern')
  t.equal(globsIntersect('arn:aws:s3:::other-*/*', long), false, 'a long ARN outside a base pattern')
  t.equal(globsIntersect(`${'*a'.repeat(100)}`, `${'a*'.repeat(2_000)}`), true, 'stars on both sides')
  t.equal(globIncludes('arn:aws:s3:::acme-*', `${long}*`), true, 'a long pattern inside a base pattern')
  t.equal(globIncludes('arn:aws:s3:::acme-team-a/x', `${long}*`), false, 'a long pattern outside a base ARN')
})
