#!/usr/bin/env bash
# make image: the container image of the standalone server (Dockerfile), for
# linux/amd64 and linux/arm64, with podman: each architecture tagged
# hitcounter:<arch>, both in the manifest list hitcounter:latest. The static
# binaries are built here (CGO_ENABLED=0); the Dockerfile only copies them,
# so no emulator is needed. Docker format (--format docker), since the OCI
# image format has no HEALTHCHECK. Prints each image's size.
#
# IMAGE (default hitcounter) names the image; IMAGE_ARCHS (default
# "amd64 arm64") the architectures.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-hitcounter}
ARCHS=${IMAGE_ARCHS:-amd64 arm64}
MAX_BYTES=${IMAGE_MAX_BYTES:-20000000}

if ! command -v podman >/dev/null 2>&1; then
	echo "image: podman is not installed (apt-get install podman; make deps installs it when run as root)" >&2
	exit 1
fi

ctx=.cache/image/context
rm -rf "$ctx"
mkdir -p "$ctx/bin" "$ctx/data"
for arch in $ARCHS; do
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" ${GO:-go} build -trimpath -ldflags "-s -w" \
		-o "$ctx/bin/hitcounter-linux-$arch" ./cmd/hitcounter
done

podman manifest rm "localhost/$IMAGE:latest" >/dev/null 2>&1 || podman rmi "localhost/$IMAGE:latest" >/dev/null 2>&1 || true
podman manifest create "localhost/$IMAGE:latest" >/dev/null
for arch in $ARCHS; do
	# --layers=false: no intermediate image per step, and no step taken
	# from a cache that a changed Dockerfile line might wrongly match.
	podman build --quiet --layers=false --format docker --platform "linux/$arch" -f Dockerfile -t "localhost/$IMAGE:$arch" "$ctx" >/dev/null
	podman manifest add "localhost/$IMAGE:latest" "containers-storage:localhost/$IMAGE:$arch" >/dev/null
	size=$(podman image inspect --format '{{.Size}}' "localhost/$IMAGE:$arch")
	printf 'image: localhost/%s:%s  linux/%s  %d bytes\n' "$IMAGE" "$arch" "$arch" "$size"
	if [ "$size" -gt "$MAX_BYTES" ]; then
		echo "image: localhost/$IMAGE:$arch is larger than $MAX_BYTES bytes" >&2
		exit 1
	fi
done
echo "image: localhost/$IMAGE:latest lists linux/${ARCHS// /, linux/}"
