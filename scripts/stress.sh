#!/usr/bin/env bash
# make stress: the soak runs that make test leaves out, for before a release
# or after touching concurrency or fault handling. Each step repeats tests
# that make test runs once; STRESS_COUNT scales them (default 50 for the
# concurrency tests, a fifth of it for the kill and fault loops).
set -euo pipefail
cd "$(dirname "$0")/.."

count=${STRESS_COUNT:-50}
loops=$(( count / 5 > 0 ? count / 5 : 1 ))
GO=${GO:-go}

step() { echo; echo "== stress: $*"; }

step "in-process concurrency: rate limiter, memory store, conformance suites ($count runs)"
"$GO" test -race -count="$count" -timeout 60m ./internal/ratelimit ./internal/memstore ./internal/counter/...

step "DynamoDB Local: the conformance suites (concurrent increments, creates, keyed writes), hits over time ($loops runs)"
"$GO" test -race -count="$loops" -timeout 60m -run 'TestConformance|TestStatsConformance|TestAggregate|TestKeyed' ./internal/dynamostore ./internal/history

step "two regions behind the replication simulator, 10 s of load per run: no increment lost, sets and deletes racing (on sharded counters too), each region's shards growing, hits over time per bucket ($loops runs)"
REGION_LOAD_SECONDS=10 "$GO" test -race -count="$loops" -timeout 60m -run 'TestRegion' ./internal/dynamostore
"$GO" test -race -count="$loops" -timeout 60m -run 'TestRegionsStats' ./internal/history
"$GO" test -race -count="$loops" -timeout 60m ./tools/replsim

step "the file store: the conformance suites, group commit, damage and growth ($loops runs)"
"$GO" test -race -count="$loops" -timeout 60m ./internal/filestore

step "the HTTP server under concurrency and slow clients ($loops runs)"
"$GO" test -race -count="$loops" -timeout 60m ./internal/server ./internal/httpapi

step "kill loops: DynamoDB Local cut off and killed mid-load, clients gone, hanging stores ($loops runs)"
"$GO" test -race -count="$loops" -timeout 90m ./tools/faults

echo
echo "stress: all green"
