import { BaseRoleUnavailableError } from './base-role-source.js'

/**
 * IAM returns policy documents URL-encoded (RFC 3986). Some emulators return GetPolicyVersion documents
 * as plain JSON; a policy document always starts with `{`, which IAM's encoding never leaves as is.
 */
export function decodePolicyDocument(text: string): string {
  return text.trimStart().startsWith('{') ? text : decodeURIComponent(text)
}

/** A document IAM returned, as JSON text; a missing or unreadable one makes the role unavailable. */
export function policyDocumentText(roleArn: string, subject: string, text: string | undefined): string {
  if (text === undefined) throw new BaseRoleUnavailableError(roleArn, `IAM returned no document for ${subject}`)
  let decoded: string
  try {
    decoded = decodePolicyDocument(text)
    JSON.parse(decoded)
  } catch (error) {
    throw new BaseRoleUnavailableError(roleArn, `the document of ${subject} is not JSON`, { cause: error })
  }
  return decoded
}
