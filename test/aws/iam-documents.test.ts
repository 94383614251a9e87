import t from 'tap'
import { BaseRoleUnavailableError } from '../../src/aws/base-role-source.js'
import { decodePolicyDocument, policyDocumentText } from '../../src/aws/iam-documents.js'

const roleArn = 'arn:aws:iam::123456789012:role/app'

t.test('decodePolicyDocument', async (t) => {
  t.equal(decodePolicyDocument('%7B%22a%22%3A%22b%2520%2B%22%7D'), '{"a":"b%20+"}', 'decodes IAM encoding once')
  t.equal(decodePolicyDocument('%0A%20%7B%7D'), '\n {}', 'decodes encoded leading whitespace')
  t.equal(decodePolicyDocument(' {"a":"100%"}'), ' {"a":"100%"}', 'keeps a document that is already JSON')
})

t.test('policyDocumentText', async (t) => {
  t.equal(policyDocumentText(roleArn, 'managed policy p', '%7B%7D'), '{}', 'the decoded JSON text')
  const cases: [string | undefined, string][] = [
    [undefined, 'IAM returned no document for managed policy p'],
    ['%7B%ZZ', 'the document of managed policy p is not JSON'],
    ['%7Bnot%20json', 'the document of managed policy p is not JSON'],
  ]
  for (const [text, reason] of cases) {
    t.throws(() => policyDocumentText(roleArn, 'managed policy p', text), new BaseRoleUnavailableError(roleArn, reason),
      `${String(text)}: ${reason}`)
  }
})
