import type { Finding } from '../policy/findings.js'

/** Kubernetes' limits: a warning over 256 characters is truncated by the API server, and all
 * together should stay under 4 KiB; keep them short so `kubectl` shows them whole. */
const MAX_WARNING = 256
const MAX_TOTAL = 4000

export function warningTexts(findings: Finding[], prefix = ''): string[] {
  const texts: string[] = []
  let total = 0
  for (const [i, finding] of findings.entries()) {
    const text = truncate(`${prefix}${finding.code}: ${finding.message}`)
    const remaining = findings.length - i
    if (total + text.length > MAX_TOTAL - 64) {
      texts.push(`…and ${remaining} more warning${remaining === 1 ? '' : 's'}; run \`session-guard review\` to see them all`)
      break
    }
    texts.push(text)
    total += text.length
  }
  return texts
}

function truncate(text: string): string {
  // Warnings must be printable single lines.
  const line = text.replace(/\s+/g, ' ')
  return line.length <= MAX_WARNING ? line : `${line.slice(0, MAX_WARNING - 1)}…`
}
