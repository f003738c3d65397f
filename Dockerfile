# herald in a container: the daemon needs the host's network namespace (or the
# one facing the routers) and CAP_NET_ADMIN only for TCP MD5 / TTL socket
# options; CAP_NET_BIND_SERVICE for port 179.
#   docker run --network host --cap-add NET_ADMIN --cap-add NET_BIND_SERVICE \
#     -v /etc/herald:/etc/herald:ro -v /run/herald:/run/herald herald
FROM node:20-bookworm-slim
WORKDIR /opt/herald
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY bgp ./bgp
COPY src ./src
ENTRYPOINT ["node", "--import", "tsx", "src/main.ts"]
CMD ["run", "--config", "/etc/herald/herald.yaml"]
