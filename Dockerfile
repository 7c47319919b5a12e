# syntax=docker/dockerfile:1
# mcp-gateway for Cloud Run (deploy/README.md).
#
# CI has no container engine: scripts/check-production.ts reads this file, runs its
# COPY and RUN steps and its CMD the way a container would (production dependencies
# only, NODE_ENV=production, a non-root user) and fails when this file and package.json
# disagree (the Node major) or when it uses an instruction the check cannot reproduce.

# Build stage: every dependency, TypeScript compiled to dist/.
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime stage: the compiled app and production dependencies, nothing else.
FROM node:26-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: no production dependency needs one, and package.json's own
# postinstall prepares the test runner, which is not installed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Cloud Run sets PORT (8080); the default is for `docker run -p 8080:8080`.
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
# The official image's unprivileged user.
USER node
# Exec form: node is PID 1 and receives SIGTERM itself (lib/shutdown.ts drains).
CMD ["node", "dist/server.js"]
