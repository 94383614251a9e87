import t from 'tap'
import { IAMServiceException, ServiceFailureException } from '@aws-sdk/client-iam'
import { describeIamFailure } from '../../src/aws/iam-errors.js'

const getRole = { operation: 'GetRole', subject: 'role app-reader' }

t.test('a throttled call says so', async (t) => {
  const throttled = new IAMServiceException({
    name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded',
  })
  t.equal(describeIamFailure(throttled, getRole), 'IAM throttled GetRole on role app-reader: Rate exceeded', 'names the call')
})

t.test('any other IAM error keeps its name and HTTP status', async (t) => {
  const failure = new ServiceFailureException({ $metadata: { httpStatusCode: 500 }, message: 'internal error' })
  t.equal(describeIamFailure(failure, getRole),
    'IAM answered GetRole on role app-reader with ServiceFailureException (HTTP 500): internal error', 'names the error')
})

t.test('an error without an HTTP answer means IAM did not answer', async (t) => {
  const refused = Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' })
  t.equal(describeIamFailure(refused, getRole), 'IAM did not answer GetRole on role app-reader: ECONNREFUSED',
    'an empty message falls back to the code')
  t.equal(describeIamFailure(new Error(''), getRole), 'IAM did not answer GetRole on role app-reader: Error',
    'and without a code to the name')
  t.equal(describeIamFailure('socket hang up', getRole), 'IAM did not answer GetRole on role app-reader: socket hang up',
    'a thrown non-error is written as text')
})
