# syntax=docker/dockerfile:1
# The gateway as a container image. Build from the repository root:
#   docker build -t mcp-resource-gateway .
# docs/deployment.md describes how to run it; test/deploy/dockerfile.test.ts checks this file.

# Build stage: the dev dependencies (TypeScript) compile src/ to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm ci` runs the `prepare` script, which compiles src/ to dist/.
# The npm cache stays in a BuildKit cache mount, out of the image.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

# Runtime stage: production dependencies and dist/ only, run as the unprivileged `node` user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    MCP_LISTEN_HOST=0.0.0.0 \
    MCP_LISTEN_PORT=8080 \
    MCP_ADMIN_HOST=0.0.0.0 \
    MCP_ADMIN_PORT=9090
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` needs the dev dependencies, and dist/ comes from the build stage.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
# uid 1000 in the node image; ports above 1024 need no capability.
USER node
EXPOSE 8080 9090
# node is PID 1: the gateway handles SIGTERM itself (drain up to MCP_SHUTDOWN_TIMEOUT, then exit)
# and SIGHUP (reload). `docker stop` waits 10 s by default: use --stop-timeout 40.
STOPSIGNAL SIGTERM
# /healthz on the admin listener, which keeps answering while the main port drains. No curl in the
# image: node's own fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MCP_ADMIN_PORT || 9090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
