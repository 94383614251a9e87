/** Every decision code (PRODUCT.md "Decisions"); fixed, part of the product contract. */
export type ViolationCode =
  | 'INVALID_POLICY'
  | 'POLICY_TOO_LARGE'
  | 'UNKNOWN_ACTION'
  | 'ACTION_OUTSIDE_BASE_ROLE'
  | 'SESSION_TAGS_ENABLED'
  | 'INVALID_ROLE_ARN'
  | 'ROLE_NOT_ALLOWED'
  | 'BASE_ROLE_UNAVAILABLE'
  | 'NORMALIZED_POLICY_MISMATCH'

/** Codes of findings that admit but warn. */
export type WarningCode =
  | 'RESOURCE_OUTSIDE_BASE_ROLE'
  | 'SESSION_TAG_CONDITION_DISABLED'
  | 'NO_GUARDRAILS'
  | ViolationCode // in `mode: warn` a violation is reported as a warning with its own code

/** One violation or warning: a value with a code, written for the person at the terminal. */
export interface Finding<Code extends string = string> {
  code: Code
  message: string
  /** Every action (or pattern) concerned, for ACTION_OUTSIDE_BASE_ROLE and UNKNOWN_ACTION. */
  actions?: string[]
  details?: Record<string, unknown>
}
