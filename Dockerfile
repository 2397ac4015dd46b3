# syntax=docker/dockerfile:1
#
# The Vigil node image: `node bin/vigil.js start` on Node 20, listening on 0.0.0.0:8080.
#
#   docker build -t vigil:dev .
#   docker run --rm -p 127.0.0.1:8080:8080 -e VIGIL_ADMIN_TOKEN=... -e VIGIL_DEMO_TOKEN=... vigil:dev
#
# Used by docker-compose.yml (service `vigil`) and deploy/k8s/vigil-statefulset.json. Checked by
# test/deploy/dockerfile.test.ts (base images, EXPOSE = VIGIL_PORT, ENV names against the
# configuration schema, every COPY source present and not excluded by .dockerignore, the files
# the built node reads at run time copied). Configuration: README "Running a node" and
# docs/runbook.md.
#
# Debian (glibc) images on purpose, not Alpine: the uWebSockets.js native binding and chDB's
# libchdb (@chdb/lib-linux-*-gnu) are built against glibc and do not load on musl.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# 1. Compile the TypeScript sources to dist/ (needs the dev dependencies: typescript, @types/node).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are not needed to compile (tsc only) and would fetch dev-only binaries (deno).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# Exactly the folders tsconfig.build.json compiles.
COPY runtime runtime
COPY actors actors
COPY adapters adapters
COPY load load
COPY test/fixtures test/fixtures
RUN npm run build

# ---------------------------------------------------------------------------------------------
# 2. Production dependencies only, with their install scripts (native prebuilds for glibc).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---------------------------------------------------------------------------------------------
# 3. The runtime image.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    VIGIL_HOST=0.0.0.0 \
    VIGIL_PORT=8080 \
    VIGIL_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
# Read by the built node at run time: the analytics views (migrate), the ops page (/ops),
# the load scenarios (`vigil load`) and the example tenant configuration (VIGIL_CONFIG_DIR).
COPY dashboards/clickhouse dashboards/clickhouse
COPY dashboards/ops dashboards/ops
COPY load/scenarios load/scenarios
COPY deploy/config deploy/config
# The embedded analytics store (chDB) and the ClickHouse spool live in VIGIL_DATA_DIR.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# Liveness only (the process answers HTTP); readiness (/readyz: NATS and Redis reachable) is
# for balancers and Kubernetes, so a broker outage does not get the node restarted.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.VIGIL_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM (docker stop, Kubernetes) drains: actors passivate with a final snapshot.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/vigil.js"]
CMD ["start"]
