/**
 * The benchmark's baseline: a bare Fastify route on the same Node version, in a
 * process of its own, that parses a JSON body and answers a small JSON object.
 * It logs at the same level as the server under test, so the ratio measures our
 * code rather than logger settings. Started by bench/run.ts (PORT, LOG_LEVEL).
 */
import Fastify from 'fastify'

const fastify = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })

fastify.post('/echo', async (request) => {
  const { id } = request.body as { id?: unknown }
  return { ok: true, id: id ?? null }
})

// A clean exit on SIGTERM lets `node --cpu-prof` write its profile.
process.once('SIGTERM', () => {
  fastify.close().then(() => process.exit(0), () => process.exit(1))
})

await fastify.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
