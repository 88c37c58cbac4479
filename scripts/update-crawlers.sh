#!/usr/bin/env bash
# Updates the vendored crawler list (internal/crawlers) from the npm package
# crawler-user-agents: scripts/update-crawlers.sh [VERSION] (default: latest).
# Review the diff and run the package's tests before committing.
set -euo pipefail
version=${1:-latest}
dir=$(cd "$(dirname "$0")/../internal/crawlers" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "crawler-user-agents@$version" >/dev/null && tar xzf crawler-user-agents-*.tgz)
resolved=$(node -p "require('$tmp/package/package.json').version")
cp "$tmp/package/crawler-user-agents.json" "$dir/crawler-user-agents.json"
cp "$tmp/package/LICENSE" "$dir/LICENSE.crawler-user-agents"
sum=$(sha256sum "$dir/crawler-user-agents.json" | cut -d' ' -f1)
cat >"$dir/SOURCE" <<END
crawler-user-agents.json and LICENSE.crawler-user-agents are copied unchanged from the npm
package crawler-user-agents (https://github.com/monperrus/crawler-user-agents, MIT licence).
version: $resolved
sha256 of crawler-user-agents.json: $sum
updated by: scripts/update-crawlers.sh [VERSION]
END
echo "crawler-user-agents $resolved vendored into internal/crawlers; now: go test ./internal/crawlers/" >&2
