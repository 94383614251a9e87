/**
 * The baseline of the admission figures: a bare Fastify HTTPS server (the project's Fastify, the same
 * certificate and TLS settings as the webhook) that parses the AdmissionReview body and answers a fixed
 * AdmissionReview, with no logging, no schema, no judgment.
 *
 *   node bench/baseline-server.mjs --port N --tls-cert FILE --tls-key FILE --response FILE
 *
 * Prints `{"port":N}` on stdout once listening; stops on SIGTERM.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'

const { values } = parseArgs({
  options: { port: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, response: { type: 'string' } },
})
const fixed = readFileSync(values.response, 'utf8')
const app = Fastify({
  logger: false,
  https: { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key'], 'utf8'), minVersion: 'TLSv1.2' },
  keepAliveTimeout: 65_000,
  bodyLimit: 1_048_576,
})
const answer = async (_request, reply) => reply.type('application/json; charset=utf-8').send(fixed)
app.post('/validate', answer)
app.post('/mutate', answer)
app.get('/readyz', async () => ({ status: 'ready' }))
await app.listen({ port: Number(values.port), host: '127.0.0.1' })
console.log(JSON.stringify({ port: app.server.address().port }))
process.once('SIGTERM', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})
