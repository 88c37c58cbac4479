#!/bin/sh
# build-once.sh NAME PACKAGE: go build PACKAGE into .cache/bin/NAME, for the
# Makefile targets that then exec it. The first build of a binary can take a
# while (compiling its dependencies), so it says so, once, on stderr; later
# builds are quick and quiet.
set -eu
name=$1 pkg=$2
bin=.cache/bin/$name
if [ ! -x "$bin" ]; then
	echo "first run: building $pkg (later runs reuse the build cache)" >&2
fi
exec ${GO:-go} build -o "$bin" "$pkg"
