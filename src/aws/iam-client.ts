import { IAMClient } from '@aws-sdk/client-iam'

export interface IamClientSettings {
  /** The config's `region`; IAM is global, but the region picks the partition's endpoint. */
  region?: string
  /** `baseRoles.iam.endpoint`: tests and VPC endpoints. The SDK's endpoint otherwise. */
  endpoint?: string
}

/**
 * An IAM client from the standard SDK chain (credentials from Pod Identity in the cluster). Timeouts are
 * short because an admission review waits on it; IamBaseRoles also bounds a whole lookup (timeoutMs).
 */
export function createIamClient(settings: IamClientSettings = {}): IAMClient {
  return new IAMClient({
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
  })
}
