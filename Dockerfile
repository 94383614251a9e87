# syntax=docker/dockerfile:1
# session-guard: one image for the admission webhook, the sync sidecar and the CLI.
#   docker build -t session-guard:0.1.0 .
#   docker run --rm session-guard:0.1.0 check --base-policy base.json --session-policy session.json
# The Helm chart runs it with `webhook …` and `sync …` as arguments.

ARG NODE_VERSION=24

# Build with the full toolchain (TypeScript and every dev dependency).
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY scripts/post-build.mjs ./scripts/
COPY src/ ./src/
RUN npm run build

# Production dependencies only, without running any package's install scripts.
FROM node:${NODE_VERSION}-bookworm-slim AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json LICENSE ./
# `session-guard` on the PATH too, for `kubectl exec … -- session-guard check …`.
RUN ln -s /app/dist/cli.js /usr/local/bin/session-guard
# Everything above is owned by root and read-only to the process: it writes nothing to the root
# filesystem at run time (the chart mounts config and certificates read-only and a /tmp emptyDir),
# so it runs with readOnlyRootFilesystem. 65532 is a numeric non-root user, so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443 9090 8081
ENTRYPOINT ["node", "/app/dist/cli.js"]
