import { Ajv } from 'ajv'
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { mutate, validate, type ReviewDependencies, type ReviewResult } from '../admission/review.js'
import type { AdmissionRequest } from '../admission/types.js'
import type { WebhookMetrics } from './metrics.js'

export interface AdmissionAppOptions {
  review: ReviewDependencies
  metrics?: WebhookMetrics
  /** Whether the process is shutting down: /readyz then answers 503 so no new traffic is sent. */
  draining?: () => boolean
}

// The object's metadata as the review reads it: annotation values that are not strings (which the API
// server never sends) are a malformed body, not something for the judge to trip over.
const kubeObject = {
  type: ['object', 'null'],
  properties: {
    metadata: {
      type: ['object', 'null'],
      properties: {
        name: { type: 'string' },
        generateName: { type: 'string' },
        namespace: { type: 'string' },
        annotations: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
      },
    },
  },
} as const

const admissionReviewBody = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid'],
      properties: {
        uid: { type: 'string', minLength: 1 },
        operation: { type: 'string' },
        namespace: { type: 'string' },
        name: { type: 'string' },
        kind: { type: 'object' },
        object: kubeObject,
        oldObject: kubeObject,
      },
    },
  },
} as const

// Fastify's default validator coerces types (42 → "42", null → "", ["x"] → "x"): a non-string annotation
// or uid would be judged, or echoed, as a string it never was. A review is checked as sent.
const reviewValidator = new Ajv({ coerceTypes: false, allErrors: false, allowUnionTypes: true, validateSchema: false }).compile(admissionReviewBody)

/**
 * The admission routes. A handler reads, calls one function and replies: every decision is an
 * AdmissionReview with the request's uid; HTTP errors are only for malformed HTTP.
 */
const admissionApp: FastifyPluginAsync<AdmissionAppOptions> = async (app, options) => {
  app.removeContentTypeParser('text/plain') // AdmissionReviews are JSON; anything else is a 415
  const route = (endpoint: 'mutate' | 'validate', review: (request: AdmissionRequest) => Promise<ReviewResult> | ReviewResult) => {
    app.post<{ Body: { request: AdmissionRequest } }>(`/${endpoint}`, { schema: { body: admissionReviewBody }, validatorCompiler: () => reviewValidator }, async (req, reply) => {
      const started = process.hrtime.bigint()
      const request = req.body.request
      let result: ReviewResult
      try {
        result = await review(request)
      } catch (error) {
        req.log.error({ err: error, uid: request.uid }, 'review failed')
        result = failedReview(endpoint, request.uid)
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      options.metrics?.observe(endpoint, request.operation ?? 'UNKNOWN', result.outcome, seconds)
      if (result.outcome.decision !== 'skipped' || endpoint === 'validate') {
        req.log.info({
          uid: request.uid, namespace: request.namespace, name: request.object?.metadata?.name ?? request.name,
          operation: request.operation, endpoint, decision: result.outcome.decision, codes: result.outcome.codes,
          patched: result.outcome.patched, durationMs: Math.round(seconds * 1e6) / 1e3,
        }, 'admission review')
      }
      return reply.send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: result.response })
    })
  }
  route('mutate', (request) => mutate(request, options.review))
  route('validate', (request) => validate(request, options.review))

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => (options.draining?.() ? reply.code(503).send({ status: 'draining' }) : { status: 'ready' }))

  app.setErrorHandler(clientErrorHandler)
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'Not Found', message: `no route ${req.method} ${req.url}` }))
}

/** A review that threw (a bug, not the user's input): validate fails closed, mutate changes nothing. */
function failedReview(endpoint: 'mutate' | 'validate', uid: string): ReviewResult {
  if (endpoint === 'mutate') return { response: { uid, allowed: true }, outcome: { decision: 'admitted', codes: [], patched: false } }
  return {
    response: { uid, allowed: false, status: { code: 500, reason: 'InternalError', message: 'session-guard could not judge this ServiceAccount (internal error); it is denied until it can. The webhook logs say why.' } },
    outcome: { decision: 'denied', codes: ['INTERNAL_ERROR'], patched: false },
  }
}

function clientErrorHandler(error: FastifyError, _req: unknown, reply: FastifyReply): FastifyReply {
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
  if (status === 500) reply.log.error({ err: error }, 'request failed')
  const message = error.validation ? `not an admission.k8s.io/v1 AdmissionReview: ${error.message}` : error.message
  return reply.code(status).send({ error: status === 500 ? 'Internal Server Error' : httpReason(status), message })
}

function httpReason(status: number): string {
  return { 400: 'Bad Request', 404: 'Not Found', 413: 'Payload Too Large', 415: 'Unsupported Media Type' }[status] ?? 'Client Error'
}

export default fp(admissionApp, { name: 'session-guard-admission', fastify: '5.x' })

export type { FastifyInstance }
