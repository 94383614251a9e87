import { thousands } from '../util/text.js'
import type { Finding } from './findings.js'

/** EKS's limit on a session policy, counted on the normalized form. */
export const MAX_POLICY_CHARACTERS = 2048

/** The characters EKS accepts in a session policy: U+0020–U+00FF, tab, line feed, carriage return. */
function isAllowedCharacter(code: number): boolean {
  return (code >= 0x20 && code <= 0xff) || code === 0x09 || code === 0x0a || code === 0x0d
}

const OUTSIDE_CHARACTER_SET = /[^\t\n\r\u0020-\u00ff]/

/** POLICY_TOO_LARGE findings for a normalized policy: its length and its character set. */
export function sizeFindings(normalized: string): Finding[] {
  const findings: Finding[] = []
  if (normalized.length > MAX_POLICY_CHARACTERS) {
    findings.push({
      code: 'POLICY_TOO_LARGE',
      message:
        `the normalized session policy is ${thousands(normalized.length)} characters; EKS accepts at most ` +
        `${thousands(MAX_POLICY_CHARACTERS)}: merge statements, use wildcards the base role covers, or split the workload`,
      details: { length: normalized.length, limit: MAX_POLICY_CHARACTERS },
    })
  }
  const outside = OUTSIDE_CHARACTER_SET.test(normalized) ? [...normalized].filter((c) => !isAllowedCharacter(c.codePointAt(0) as number)) : []
  if (outside.length > 0) {
    const unique = [...new Set(outside)]
    const shown = unique.slice(0, 5).map(describeCharacter).join(', ')
    findings.push({
      code: 'POLICY_TOO_LARGE',
      message: `the session policy contains characters EKS does not accept (only U+0020–U+00FF, tab, LF and CR): ${shown}; replace them`,
      details: { characters: unique.map(describeCharacter) },
    })
  }
  return findings
}

function describeCharacter(c: string): string {
  const hex = (c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')
  return `U+${hex} ${JSON.stringify(c)}`
}
