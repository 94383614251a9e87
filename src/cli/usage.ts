/** Wrong words on the command line: exit 2 with the message and a pointer to the usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export const USAGE = `usage: session-guard <command> [options]

commands:
  check --base-policy FILE [--base-policy FILE …] [--permissions-boundary FILE] --session-policy FILE [--json]
        judge a session policy against the policies of its base role
  review --config FILE [--json] PATH…
        judge every ServiceAccount in YAML/JSON files or folders as the webhook judges a CREATE
  webhook --config FILE [--port N] [--tls-cert FILE --tls-key FILE]
        run the admission webhook (HTTPS, port 8443 by default)
  sync --config FILE
        run the sync sidecar (EKS Pod Identity associations)

exit status: 0 admitted, 1 denied, 2 bad usage or unreadable input`
