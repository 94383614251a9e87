import { ApiException } from '@kubernetes/client-node'

/** The HTTP status of a failed Kubernetes API call (client-node's ApiException or a watch error). */
export function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code
  if (typeof error === 'object' && error !== null) {
    const { statusCode, code } = error as { statusCode?: unknown; code?: unknown }
    if (typeof statusCode === 'number') return statusCode
    if (typeof code === 'number') return code
  }
  return undefined
}

/** A short description of a failed call, without the request headers ApiException carries. */
export function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as { message?: unknown } | undefined
    const message = typeof body === 'object' && body !== null && typeof body.message === 'string' ? body.message : ''
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`
  }
  return error instanceof Error ? error.message : String(error)
}
