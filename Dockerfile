# SPDX-License-Identifier: MIT
# syntax=docker/dockerfile:1
# memscope's headless server example (examples/headless_server) in a container: JSON and
# Prometheus metrics on port 9090, served by a non-root user.
#
#   docker build -t memscope-headless .
#   docker run --rm -p 9090:9090 memscope-headless
#   curl -s http://localhost:9090/metrics
#
# Every build step is in scripts/container-build.sh, which CI runs natively, so the image
# is built by the steps CI tested.

FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/container-build.sh --prefix /opt/memscope --build-dir /tmp/build --smoke-test

FROM debian:12 AS runtime
COPY scripts/container-build.sh /tmp/container-build.sh
RUN /tmp/container-build.sh --runtime-setup && rm /tmp/container-build.sh
COPY --from=build /opt/memscope/bin/headless_server /opt/memscope/bin/headless_server
COPY --from=build /opt/memscope/share/memscope /opt/memscope/share/memscope
USER 10001:10001
# Inside the container the server must listen on every interface to be reachable through
# the published port; outside it, memscope's default stays loopback.
ENV MEMSCOPE_BIND=0.0.0.0 \
    MEMSCOPE_PORT=9090
EXPOSE 9090
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${MEMSCOPE_PORT}/healthz" >/dev/null || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/memscope/bin/headless_server"]
