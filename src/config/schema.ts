/**
 * JSON Schema of the configuration file (YAML). ajv fills the defaults, so the loaded object is a
 * complete `Config`. Every key is documented in README.md "Configuration".
 */
const policyDocument = { oneOf: [{ type: 'string', minLength: 2 }, { type: 'object' }] }
const glob = { type: 'string', minLength: 1 }
const port = { type: 'integer', minimum: 0, maximum: 65535 }

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['clusterName', 'region'],
  properties: {
    annotationPrefix: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', maxLength: 200, default: 'session-guard.dev' },
    mode: { enum: ['enforce', 'warn'], default: 'enforce' },
    clusterName: { type: 'string', pattern: '^[0-9A-Za-z][A-Za-z0-9\\-_]*$', maxLength: 100 },
    region: { type: 'string', pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$' },
    baseRoles: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        source: { enum: ['iam', 'static'], default: 'iam' },
        static: {
          type: 'object',
          default: {},
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['policies'],
            properties: {
              policies: { type: 'array', minItems: 1, items: policyDocument },
              permissionsBoundary: policyDocument,
            },
          },
        },
        iam: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            endpoint: { type: 'string', pattern: '^https?://' },
            cacheTtlSeconds: { type: 'integer', minimum: 0, default: 300 },
            maxStaleSeconds: { type: 'integer', minimum: 0, default: 3600 },
            maxRoles: { type: 'integer', minimum: 1, default: 1000 },
            lookupTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 30, default: 3 },
          },
        },
      },
    },
    guardrails: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        allowedRoles: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['namespaces', 'roles'],
            properties: {
              namespaces: { type: 'array', minItems: 1, items: glob },
              roles: { type: 'array', minItems: 1, items: glob },
            },
          },
        },
      },
    },
    webhook: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        port: { ...port, default: 8443 },
        metricsPort: { ...port, default: 9090 },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['certFile', 'keyFile'],
          properties: { certFile: { type: 'string', minLength: 1 }, keyFile: { type: 'string', minLength: 1 } },
        },
        bodyLimitBytes: { type: 'integer', minimum: 1024, default: 1048576 },
      },
    },
    sync: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        namespaces: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
        resyncSeconds: { type: 'integer', minimum: 10, default: 300 },
        concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 8 },
        adoptExisting: { type: 'boolean', default: false },
        restartWorkloads: { type: 'boolean', default: false },
        eksEndpoint: { type: 'string', pattern: '^https?://' },
        lease: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            name: { type: 'string', minLength: 1, default: 'session-guard-sync' },
            namespace: { type: 'string', minLength: 1, default: 'session-guard' },
            durationSeconds: { type: 'integer', minimum: 2, default: 15 },
            renewSeconds: { type: 'integer', minimum: 1, default: 5 },
          },
        },
        port: { ...port, default: 8081 },
        installationId: { type: 'string', minLength: 1, maxLength: 200, default: 'session-guard' },
      },
    },
  },
} as const
