# The standalone hitcounter server as a container image: the static binary,
# built on the host (make image), on an empty base. Nothing here runs a
# command at build time (no RUN), so any builder can build it for any
# architecture without emulation: `make image` does, with podman, for
# linux/amd64 and linux/arm64. The build context (.cache/image/context) holds
# bin/hitcounter-linux-<arch> and an empty data/.
#
#   docker run -d -p 3000:3000 -v hitcounter-data:/data -e API_KEYS=change-me hitcounter
#
# The counters live in /data/hitcounter.db, on the /data volume: durable
# (every acknowledged hit is on disk before its answer), one file to back up
# (docs/self-hosting.md).
FROM scratch
ARG TARGETARCH
COPY --chmod=0755 bin/hitcounter-linux-${TARGETARCH} /hitcounter
# /data belongs to the server's user, so that a new volume mounted there
# does too (Docker and podman copy the image's directory into it).
COPY --chown=65532:65532 data/ /data/
USER 65532:65532
ENV STORE=file DATA_PATH=/data/hitcounter.db PORT=3000
WORKDIR /data
VOLUME /data
EXPOSE 3000
# scratch has no curl: the binary asks its own /health (exit 0 or 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["/hitcounter", "healthcheck"]
# SIGTERM (docker stop) stops it cleanly: requests in flight finish, the
# data file is closed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/hitcounter"]
