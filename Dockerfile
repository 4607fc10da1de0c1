# syntax=docker/dockerfile:1
#
# The login/consent/logout app as an image: compile TypeScript with the dev dependencies in one
# stage, then ship dist/, views/, public/ and the production node_modules on the same Node LTS
# base (glibc, so @node-rs/argon2's prebuilt binary matches), running as the non-root `node` user.
#
#   docker build -t hydra-login-consent .
#   docker run --rm -p 3000:3000 -e HYDRA_ADMIN_URL=http://hydra:4445 -e BASE_URL=https://login.example.com \
#     -e SESSION_SECRET=… -v accounts:/app/data hydra-login-consent
# (the SQLite user database is /app/data/accounts.db; several instances: -e DATABASE_URL=postgres://…)
#
# Manage users with the compiled CLI (tsx is a dev dependency, so not `npm run users`):
#   docker run --rm -it -v accounts:/app/data hydra-login-consent node dist/cli/users.js add you@example.com

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 is compiled from source by node-gyp during npm ci (no prebuilt binary is fetched).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY views ./views
COPY locales ./locales
COPY public ./public
# Files stay root-owned and read-only to the process; only the SQLite database's directory is its own.
RUN mkdir -m 0700 /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# The slim image has no curl; node's fetch does the probe. PORT and BASE_URL's path are honoured,
# as the server listens on PORT and mounts every route (health included) under BASE_URL's path.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const p=new URL(process.env.BASE_URL||'http://x').pathname.replace(/\\/+$/,'');fetch('http://127.0.0.1:'+(process.env.PORT||3000)+p+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 (not npm, not a shell): `docker stop`'s SIGTERM reaches the server, which stops
# accepting connections, finishes in-flight requests (SHUTDOWN_TIMEOUT) and exits.
CMD ["node", "dist/server.js"]
