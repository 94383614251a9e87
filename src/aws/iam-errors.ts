/**
 * Turns what the IAM client throws into the sentence a developer reads after "the policies of ROLE
 * cannot be read: ". The admission message carries it, so it names the IAM call and what to do.
 */

/** What a failed IAM call was about, e.g. `role app-reader` or `managed policy arn:aws:iam::…`. */
export interface IamCallSubject {
  /** The IAM operation, e.g. `GetRole`. */
  operation: string
  /** The thing asked for, written as it should appear in the sentence. */
  subject: string
}

const accessDeniedCodes = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'])
const throttlingCodes = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded'])

/** The reason for BaseRoleUnavailableError when an IAM call fails. */
export function describeIamFailure(error: unknown, call: IamCallSubject): string {
  const name = errorName(error)
  const message = errorMessage(error)
  if (name === 'NoSuchEntityException' || name === 'NoSuchEntity') {
    return `${call.subject} does not exist in IAM`
  }
  if (accessDeniedCodes.has(name)) {
    return `IAM denied ${call.operation} on ${call.subject} (${message}); allow iam:${call.operation} to the webhook's IAM role`
  }
  if (throttlingCodes.has(name)) {
    return `IAM throttled ${call.operation} on ${call.subject}: ${message}`
  }
  const status = httpStatusOf(error)
  if (status === undefined) {
    // No HTTP status: the request never got an answer (connection refused, DNS, timeout).
    return `IAM did not answer ${call.operation} on ${call.subject}: ${message}`
  }
  return `IAM answered ${call.operation} on ${call.subject} with ${name} (HTTP ${status}): ${message}`
}

function errorName(error: unknown): string {
  if (error instanceof Error) return error.name
  return 'Error'
}

function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  if (error.message !== '') return error.message
  // Node's AggregateError for a refused dual-stack connection has an empty message but a code.
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : error.name
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata
  const status = metadata?.httpStatusCode
  return typeof status === 'number' ? status : undefined
}
