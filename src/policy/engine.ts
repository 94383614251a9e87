import { baseRoleKey, compileBaseRole, type BaseRoleInput, type CompiledBaseRole } from './base-role.js'
import type { ActionCatalog } from './catalog.js'
import type { Finding } from './findings.js'
import { sizeFindings } from './limits.js'
import { normalizePolicy } from './normalize.js'
import { describeProblem, parsePolicy } from './parse.js'
import { resourceWarnings } from './resource-warnings.js'
import { outsideActionsFinding, requestedActions, unknownActionFinding } from './session-actions.js'
import { sessionTagWarnings } from './session-tag-warnings.js'

/** The judgment of a session policy against its base role (policy level: no annotations). */
export interface PolicyCheck {
  allowed: boolean
  normalizedPolicy: string | null
  violations: Finding[]
  warnings: Finding[]
}

export interface CheckOptions {
  /** Warn about base statements that use EKS session tags (true whenever a session policy is sent). */
  sessionTagsDisabled?: boolean
}

const COMPILED_ROLES_KEPT = 256
/** Judgments kept: a cluster re-applies the same few policies (GitOps syncs, dry runs, retries). */
const CHECKS_KEPT = 2000
/** A judgment listing more outside actions than this (a `*` policy) is cheaper to redo than to keep. */
const CACHED_ACTIONS_MAX = 2000
/**
 * Characters kept in judgments (each weighs its key, which holds the whole policy text, plus its JSON),
 * and the most one may weigh: a policy text can be nearly as large as the request body limit, and
 * 2,000 distinct large ones must not pile up in memory.
 */
const CHECK_CHARS_KEPT = 16 * 2 ** 20
const CHECK_CHARS_MAX = 64 * 2 ** 10

/**
 * The policy engine: compiles base roles (cached by content, least recently used dropped first) and
 * judges session policies against them. Pure: the catalog comes in as a parameter.
 */
export class PolicyEngine {
  private readonly compiled = new Map<string, CompiledBaseRole>()
  /** Base-role sources hand out one object per role version: most lookups skip hashing. */
  private readonly byDocuments = new WeakMap<object, CompiledBaseRole>()
  private readonly checks = new Map<string, { check: PolicyCheck; chars: number }>()
  private readonly checksKept: number
  private checkChars = 0

  /** `checksKept`: how many judgments to remember (0: judge every time, as the engine benchmark does). */
  constructor(readonly catalog: ActionCatalog, options: { checksKept?: number } = {}) {
    this.checksKept = options.checksKept ?? CHECKS_KEPT
  }

  /** The compiled form of a base role; throws BasePolicyError when a document is not a policy. */
  baseRole(input: BaseRoleInput): CompiledBaseRole {
    const key = baseRoleKey(input)
    let role = this.compiled.get(key)
    if (role) {
      this.compiled.delete(key) // re-insert: most recently used last
    } else {
      role = compileBaseRole(this.catalog, input, key)
      if (this.compiled.size >= COMPILED_ROLES_KEPT) this.compiled.delete(this.compiled.keys().next().value as string)
    }
    this.compiled.set(key, role)
    return role
  }

  /** The compiled form of a documents object, remembered by identity (then by content). */
  baseRoleFor(documents: BaseRoleInput): CompiledBaseRole {
    let role = this.byDocuments.get(documents)
    if (!role) {
      role = this.baseRole(documents)
      this.byDocuments.set(documents, role)
    }
    return role
  }

  /**
   * Judges the text of a session policy against a compiled base role. Without a base role (its ARN is
   * wrong, not allowed, or unreadable) only what needs none is judged: grammar, size, unknown actions.
   */
  check(sessionPolicyText: string, baseRole: CompiledBaseRole | undefined, options: CheckOptions = {}): PolicyCheck {
    const key = `${baseRole?.key ?? '-'}\u0000${options.sessionTagsDisabled ?? true}\u0000${sessionPolicyText}`
    const cached = this.checks.get(key)
    if (cached) {
      this.checks.delete(key) // re-insert: most recently used last
      this.checks.set(key, cached)
      return cached.check
    }
    const result = deepFreeze(this.checkUncached(sessionPolicyText, baseRole, options))
    this.remember(key, result)
    return result
  }

  private remember(key: string, check: PolicyCheck): void {
    const size = check.violations.reduce((n, v) => n + (v.actions?.length ?? 0), 0)
    if (this.checksKept === 0 || size > CACHED_ACTIONS_MAX || key.length > CHECK_CHARS_MAX) return
    const chars = key.length + JSON.stringify(check).length
    if (chars > CHECK_CHARS_MAX) return
    while (this.checks.size > 0 && (this.checks.size >= this.checksKept || this.checkChars + chars > CHECK_CHARS_KEPT)) {
      const [oldest, entry] = this.checks.entries().next().value as [string, { chars: number }]
      this.checks.delete(oldest)
      this.checkChars -= entry.chars
    }
    this.checks.set(key, { check, chars })
    this.checkChars += chars
  }

  private checkUncached(sessionPolicyText: string, baseRole: CompiledBaseRole | undefined, options: CheckOptions): PolicyCheck {
    const parsed = parsePolicy(sessionPolicyText)
    if (!parsed.ok) {
      const violations: Finding[] = [{
        code: 'INVALID_POLICY',
        message: `the session policy is not a valid IAM policy: ${parsed.problems.map(describeProblem).join('; ')}`,
        details: { problems: parsed.problems },
      }]
      return { allowed: false, normalizedPolicy: null, violations, warnings: [] }
    }
    const policy = parsed.policy
    const normalizedPolicy = normalizePolicy(policy)
    const violations: Finding[] = [...sizeFindings(normalizedPolicy)]
    const unknown = unknownActionFinding(this.catalog, policy)
    if (unknown) violations.push(unknown)
    if (!baseRole) return { allowed: violations.length === 0, normalizedPolicy, violations, warnings: [] }
    const outside = outsideActionsFinding(this.catalog, policy, requestedActions(this.catalog, policy), baseRole.allowed)
    if (outside) violations.push(outside)
    const warnings = resourceWarnings(this.catalog, policy, baseRole)
    if (options.sessionTagsDisabled ?? true) warnings.push(...sessionTagWarnings(baseRole))
    return { allowed: violations.length === 0, normalizedPolicy, violations, warnings }
  }

  /** Base-role statements that stop matching once session tags are disabled. */
  sessionTagWarnings(baseRole: CompiledBaseRole): Finding[] {
    return sessionTagWarnings(baseRole)
  }

  /** The normalized form of a session policy, or null when it is not a valid policy. */
  normalize(sessionPolicyText: string): string | null {
    const parsed = parsePolicy(sessionPolicyText)
    return parsed.ok ? normalizePolicy(parsed.policy) : null
  }
}

/** Judgments are shared between callers (cached): none may change one. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
