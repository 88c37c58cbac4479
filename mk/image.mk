# mk/image.mk: the container image of the standalone server (included by the
# top-level Makefile). scripts/image.sh says how; Dockerfile what.

.PHONY: image

## image: the container image (FROM scratch, linux/amd64 + linux/arm64) with podman, as localhost/hitcounter
image:
	@GO=$(GO) scripts/image.sh
