# herald in a container: the daemon needs the host's network namespace (or the
# one facing the routers) and CAP_NET_ADMIN only for TCP MD5 / TTL socket
# options; CAP_NET_BIND_SERVICE for port 179.
#   docker run --network host --cap-add NET_ADMIN --cap-add NET_BIND_SERVICE \
#     -v /etc/herald:/etc/herald:ro -v /run/herald:/run/herald herald
# The operator CLI inside it: docker exec CONTAINER routes [COMMAND] (docs/cli.md).
FROM node:20-bookworm-slim
WORKDIR /opt/herald
# The sources come before `npm ci`: its `prepare` script bundles the routes
# CLI into dist/routes.mjs (decisions/0016).
COPY package.json package-lock.json tsconfig.json ./
COPY bgp ./bgp
COPY src ./src
RUN npm ci --omit=dev --no-audit --no-fund \
 && ln -s /opt/herald/src/bin/routes.mjs /usr/local/bin/routes
# The daemon runs its sources through tsx (decisions/0007), as herald.mjs does.
ENTRYPOINT ["node", "src/bin/herald.mjs"]
CMD ["run", "--config", "/etc/herald/herald.yaml"]
