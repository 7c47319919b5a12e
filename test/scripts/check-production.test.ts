/**
 * The production-path check's reading of the Dockerfile: it must accept the real one
 * and refuse every kind of drift. (CI runs the whole check: npm run check:production.)
 */
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { CheckFailed, checkConsistency, excluded, ignorePatterns, nodeMajorOfImage, parseDockerfile, parseEnv } from '../../scripts/check-production.ts'

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8')

test('the Dockerfile: two stages on the project\'s Node major, and consistent with package.json', async (t) => {
  const stages = parseDockerfile(dockerfile)
  t.same(stages.map(({ name }) => name), ['build', 'runtime'])
  const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const pinned = Number(/\d+/.exec(packageJson.devDependencies.node)?.[0])
  for (const stage of stages) t.equal(nodeMajorOfImage(stage.image), pinned)
  t.doesNotThrow(() => checkConsistency(stages))
})

test('drift between the Dockerfile and the project fails the check, saying what drifted', async (t) => {
  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ['another Node major', (text) => text.replace('FROM node:26-slim AS runtime', 'FROM node:24-slim AS runtime'), /uses Node 24.*pins Node 26/],
    ['an unknown base image', (text) => text.replace('FROM node:26-slim AS build', 'FROM alpine:3 AS build'), /cannot tell the Node version/],
    ['no NODE_ENV=production', (text) => text.replace('ENV NODE_ENV=production', 'ENV NODE_ENV=development'), /NODE_ENV=production/],
    ['dev dependencies at runtime', (text) => text.replace('npm ci --omit=dev', 'npm ci'), /production dependencies only/],
    ['root at runtime', (text) => text.replace('USER node', 'USER root'), /non-root USER/],
    ['no USER', (text) => text.replace('USER node', ''), /non-root USER/],
    ['a shell-form CMD', (text) => text.replace('CMD ["node", "dist/server.js"]', 'CMD node dist/server.js'), /exec form/],
    ['an entry point with no source', (text) => text.replace('dist/server.js', 'dist/main.js'), /no main\.ts/],
    ['a loopback host', (text) => text.replace('ENV HOST=0.0.0.0', 'ENV HOST=127.0.0.1'), /listen on 127\.0\.0\.1/],
    ['an instruction the check cannot reproduce', (text) => text.replace('WORKDIR /app', 'ARG VERSION\nWORKDIR /app'), /ARG is not an instruction/],
    ['a RUN flag', (text) => text.replace('RUN npm run build', 'RUN --mount=type=cache,target=/root/.npm npm run build'), /RUN flags/]
  ]
  for (const [what, change, message] of cases) {
    const changed = change(dockerfile)
    t.not(changed, dockerfile, `${what}: the case changes the Dockerfile`)
    t.throws(() => checkConsistency(parseDockerfile(changed)), { constructor: CheckFailed, message }, what)
  }
})

test('ENV lines in both forms', async (t) => {
  t.same(parseEnv('HOST=0.0.0.0 PORT=8080'), { HOST: '0.0.0.0', PORT: '8080' })
  t.same(parseEnv('GREETING="hello world" A=1'), { GREETING: 'hello world', A: '1' })
  t.same(parseEnv('NODE_ENV production'), { NODE_ENV: 'production' })
})

test('.dockerignore: the allow-list lets the sources in and keeps everything else out', async (t) => {
  const patterns = ignorePatterns(readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8'))
  for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'app.ts', 'server.ts', 'lib/auth/challenges.ts', 'plugins/app/auth.ts', 'routes/mcp/index.ts', 'tools/echo.ts']) {
    t.notOk(excluded(path, patterns), `${path} is in the context`)
  }
  for (const path of ['.env', '.git/config', 'node_modules/fastify/package.json', 'test/helper.ts', 'dist/server.js', '.data/keys.json', 'README.md', 'deploy/service.yaml', 'scripts/check-production.ts']) {
    t.ok(excluded(path, patterns), `${path} is kept out`)
  }
  const docker = ignorePatterns('**/*.log\nsecrets\n!secrets/public.pem')
  t.ok(excluded('a/b/c.log', docker))
  t.ok(excluded('c.log', docker))
  t.ok(excluded('secrets/key.pem', docker))
  t.notOk(excluded('secrets/public.pem', docker))
})
