# The Launchfleet agent image, for Linux nodes run as containers (fleet simulations, CI).
# Build from the repository root:
#   docker build -f deploy/docker/agent.Dockerfile -t launchfleet/agent:local .
# The agent runs as root in the container: it runs jobs as their UserName and users' agents as
# those users, as launchd does.

FROM node:24-bookworm-slim AS build
# The agent's native piece (node-agent/native) is built with node-gyp.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY shared/package.json shared/
COPY node-agent/package.json node-agent/
COPY controller/package.json controller/
COPY test/package.json test/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY proto proto
COPY shared/tsconfig.json shared/
COPY shared/src shared/src
COPY node-agent/tsconfig.json node-agent/
COPY node-agent/src node-agent/src
COPY node-agent/bin node-agent/bin
COPY node-agent/scripts node-agent/scripts
COPY node-agent/native node-agent/native
# Without BuildKit the .dockerignore beside this file is not read, and a checkout's own native
# build output would come along: build from sources only.
RUN rm -rf node-agent/native/build \
  && npm run build:native --workspace @launchfleet/node-agent \
  && npx tsc --build node-agent

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY node-agent/package.json node-agent/
COPY controller/package.json controller/
COPY test/package.json test/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace @launchfleet/node-agent

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/proto proto
COPY --from=build /src/shared/package.json shared/
COPY --from=build /src/shared/dist shared/dist
COPY --from=build /src/node-agent/package.json node-agent/
COPY --from=build /src/node-agent/bin node-agent/bin
COPY --from=build /src/node-agent/dist node-agent/dist
# the lf-exec spawn shim and the socket addon (node-agent/src/adapters/native-build.ts)
COPY --from=build /src/node-agent/native/build/Release node-agent/native/build/Release
RUN mkdir -p /etc/launchfleet/LaunchDaemons /etc/launchfleet/LaunchAgents /var/lib/launchfleet \
    /var/log/launchfleet /run/launchfleet \
  && chmod 700 /var/lib/launchfleet
COPY deploy/agent/agent.example.json /etc/launchfleet/agent.json
# 9469: the agent's local /metrics (bind it to 0.0.0.0 in the config to scrape it from outside).
EXPOSE 9469
# The agent stops its jobs honouring their ExitTimeOut on SIGTERM: give `docker stop` time
# (docker stop -t 60, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
# The bin itself, not `node` on it: its #! line carries the agent's Node flags
# (node-agent/src/agent/node-flags.ts).
ENTRYPOINT ["/app/node-agent/bin/launchfleet-agent.js"]
CMD ["--config", "/etc/launchfleet/agent.json"]
