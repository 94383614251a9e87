import type { Finding } from '../policy/findings.js'

/** Human output for a terminal: one block per violation, then the warnings. */
export function formatFindings(violations: Finding[], warnings: Finding[], indent = ''): string {
  const blocks: string[] = []
  for (const violation of violations) {
    const count = violation.actions ? `  (${violation.actions.length} ${violation.actions.length === 1 ? 'action' : 'actions'})` : ''
    blocks.push([`${indent}✗ ${violation.code}${count}`, ...wrap(violation.message, `${indent}    `)].join('\n'))
  }
  for (const warning of warnings) {
    blocks.push([`${indent}! warning ${warning.code}`, ...wrap(warning.message, `${indent}    `)].join('\n'))
  }
  return blocks.join('\n\n')
}

/** JSON form of a finding: code, message, and actions/details when present. */
export function findingJson(finding: Finding): Record<string, unknown> {
  const out: Record<string, unknown> = { code: finding.code, message: finding.message }
  if (finding.actions) out.actions = finding.actions
  if (finding.details) out.details = finding.details
  return out
}

function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(indent + line)
  return lines
}
