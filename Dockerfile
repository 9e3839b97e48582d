# One image for every Herald process; docker-compose.yml picks the process with `command`
# (node dist/workers/<stage>/<stage>.worker.js, or node dist/infra/stack.js topics).

# --- build: all dependencies, compile TypeScript to dist/ ------------------------------------------------
FROM node:20-slim AS build
WORKDIR /app
# .npmrc carries ignore-scripts=true: no dependency runs an install script (onnxruntime-node needs none on CPU).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY services ./services
COPY workers ./workers
COPY infra ./infra
RUN npm run build

# --- runtime: production dependencies and the compiled code only ------------------------------------------
FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Data files the processes read at run time (AFFINITY_PATH defaults to infra/data/affinity.json).
COPY infra/data ./infra/data
# out/ is where the development sink writes (SINK_FILE); the image runs as the unprivileged `node` user.
RUN mkdir -p out && chown node:node out
USER node
CMD ["node", "dist/infra/stack.js", "topics"]
