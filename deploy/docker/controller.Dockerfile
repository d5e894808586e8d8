# The Launchfleet controller image. Build from the repository root:
#   docker build -f deploy/docker/controller.Dockerfile -t launchfleet/controller:local .
# Stages: `build` compiles the TypeScript with dev dependencies; `deps` installs only the
# controller's runtime dependencies (npm ci --omit=dev); the final image holds those, the
# compiled JavaScript and the proto files, and runs as the unprivileged `node` user.

FROM node:24-bookworm-slim AS build
WORKDIR /src
# Dependencies first, so source edits do not re-run npm ci. --ignore-scripts: the root
# "prepare" script builds, and the sources are not here yet.
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY shared/package.json shared/
COPY node-agent/package.json node-agent/
COPY controller/package.json controller/
COPY test/package.json test/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY proto proto
COPY shared/tsconfig.json shared/
COPY shared/src shared/src
COPY controller/tsconfig.json controller/
COPY controller/src controller/src
COPY controller/bin controller/bin
# tsc --build follows the project references: shared, then the controller.
RUN npx tsc --build controller

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY node-agent/package.json node-agent/
COPY controller/package.json controller/
COPY test/package.json test/
# Only the controller's runtime dependencies (and the link to @launchfleet/shared).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace @launchfleet/controller

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/proto proto
COPY --from=build /src/shared/package.json shared/
COPY --from=build /src/shared/dist shared/dist
COPY --from=build /src/controller/package.json controller/
COPY --from=build /src/controller/bin controller/bin
COPY --from=build /src/controller/dist controller/dist
# The node image's unprivileged user (uid 1000). The controller keeps no local state: desired
# state, node status and events live in JetStream.
USER node
# 7400: gRPC API; 9470: fleet-wide /metrics.
EXPOSE 7400 9470
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9470/metrics').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "controller/bin/launchfleet-controller.js"]
CMD ["--config", "/etc/launchfleet/controller.json"]
