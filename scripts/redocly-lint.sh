#!/usr/bin/env bash
# scripts/redocly-lint.sh [FILE]: lints the OpenAPI document (default
# docs/openapi.yaml) with Redocly's recommended rules (npm @redocly/cli,
# pinned), installed once into .cache/ on first use. `make lint` runs it.
# Exit status: 0 clean, 1 findings, 2 setup failure.
set -euo pipefail

version=2.77.0
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HITCOUNTER_CACHE:-$repo/.cache}/redocly-cli-$version"
file="${1:-$repo/docs/openapi.yaml}"

if [ ! -x "$cache/node_modules/.bin/redocly" ]; then
	command -v npm >/dev/null 2>&1 || { echo "redocly-lint.sh: needs npm (Node.js 20+)" >&2; exit 2; }
	echo "lint: installing @redocly/cli@$version into $cache (first run only)" >&2
	mkdir -p "$cache"
	npm install --prefix "$cache" --no-audit --no-fund --silent "@redocly/cli@$version" >&2 ||
		{ echo "redocly-lint.sh: npm install @redocly/cli@$version failed" >&2; exit 2; }
fi
cd "$repo" # .redocly.lint-ignore.yaml lists the intended findings, each with why
# --extends recommended: the rule set; no telemetry, no update check.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	"$cache/node_modules/.bin/redocly" lint --extends recommended --format stylish "$file"
