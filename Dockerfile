# herald in a container, built from the Debian package (decision 0027):
#
#   npm ci && npm run package:deb && docker build -t herald .
#
# Debian 13's own nodejs (20.x) satisfies the package's `nodejs (>= 20)`.
# The package creates the unprivileged `herald` user the container runs as.
#
# Run it in the network namespace that faces the routers (usually the host's):
#
#   docker run -d --name herald --network host \
#     --cap-drop ALL --cap-add NET_BIND_SERVICE \
#     -v /etc/herald:/etc/herald:ro herald
#
# Capabilities: NET_BIND_SERVICE only, for the BGP port 179 (node carries it
# as a file capability, because a non-root process gets no ambient
# capabilities from `docker run`; so do not add --security-opt
# no-new-privileges, which would cancel it — or set `listen.port` above 1023
# and let herald dial out to the routers). TCP MD5 and the TTL options need
# no capability (not NET_ADMIN). The config must be readable by the
# container's `herald` user (`docker run --rm herald id` prints its uid).
#
# PID 1 is tini: exec health checks that leave grandchildren behind are
# reaped (no `--init` needed). The HEALTHCHECK asks the daemon over its
# control socket. The operator CLI: `docker exec herald routes [COMMAND]`.
#
# packaging/test-root.mjs builds this image's filesystem from these steps
# with mmdebstrap (debian:trixie-slim is Debian's minbase) and runs them.
FROM debian:trixie-slim
COPY build/herald_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/herald_*.deb tini libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f /usr/bin/node)" \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /tmp/herald_*.deb \
 && install -d -o herald -g herald -m 0750 /run/herald
USER herald
WORKDIR /var/lib/herald
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/bin/herald"]
CMD ["run", "--config", "/etc/herald/herald.yaml"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["/usr/bin/routes", "peers"]
