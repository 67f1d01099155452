# Mandate runs its TypeScript sources directly on Node 24 (type stripping): no build stage.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production MANDATE_HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY src ./src
COPY migrations ./migrations
COPY examples ./examples
COPY policy-paths ./policy-paths
COPY bin ./bin
USER node
EXPOSE 3000 3001 9000
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["serve"]
