#!/usr/bin/env bash
# scripts/axe-core.sh: installs axe-core (npm, pinned) into .cache/ on first
# use and prints the path of axe.min.js, which the browser tests inject into
# the dashboard's pages to audit them (tools/browser). Exit status: 0, or 2
# when it cannot be installed.
set -euo pipefail

version=4.14.1
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HITCOUNTER_CACHE:-$repo/.cache}/axe-core-$version"
file="$cache/node_modules/axe-core/axe.min.js"

if [ ! -f "$file" ]; then
	command -v npm >/dev/null 2>&1 || { echo "axe-core.sh: needs npm (Node.js 20+)" >&2; exit 2; }
	echo "axe-core.sh: installing axe-core@$version into $cache (first run only)" >&2
	mkdir -p "$cache"
	npm install --prefix "$cache" --no-audit --no-fund --silent "axe-core@$version" >&2 ||
		{ echo "axe-core.sh: npm install axe-core@$version failed" >&2; exit 2; }
fi
echo "$file"
