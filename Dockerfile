# syntax=docker/dockerfile:1
# oauth-gateway: multi-stage build on Node 24 LTS (slim). The runtime image holds production
# dependencies and compiled JavaScript only, runs as the unprivileged `node` user and writes
# nothing to its filesystem (logs go to stdout), so it works with readOnlyRootFilesystem.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
# --max-semi-space-size=4: V8's young generation otherwise grows to 2 × 16 MB under load. A sidecar
# runs once per pod, so ~20 MB of resident memory is worth the ~2% more CPU of more frequent (and
# shorter) scavenges (BENCHMARKS.md, issue 21; the bench starts the gateway with this line's value).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=4" \
    OAUTH_GATEWAY_CONFIG=/etc/oauth-gateway/gateway.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Demo config so `docker run` works out of the box; mount your own at /etc/oauth-gateway.
COPY gateway.yaml credentials.yaml /etc/oauth-gateway/
USER node
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js", "run"]
