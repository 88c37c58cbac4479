// Package image tests the standalone server's container image (the
// Dockerfile at the root, built by make image): it unpacks the image that
// podman built and runs its entrypoint as the image's configuration says.
package image
