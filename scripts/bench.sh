#!/usr/bin/env bash
# make bench: every benchmark beside its baseline, measured in one run on
# this machine, with the ratios printed. Results are also written to
# .cache/bench/latest.md; docs/benchmarks.md records a reviewed run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
out=.cache/bench
mkdir -p "$out"
report="$out/latest.md"
: >"$report"
# Each figure that has a project target adds a row here (hitbench -targets,
# and the Lambda and size checks below); printed at the end.
targets="$out/targets.md"
: >"$targets"

if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing wrk (apt-get install wrk)"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
	else
		echo "bench: the load generator wrk is missing: install it (apt-get install wrk)" >&2
		exit 1
	fi
fi

echo "== Go benchmarks: increment path (in-process; dynamostore's against DynamoDB Local)"
# -v prints the benchmarks' log lines: the ratios of sides that run in one
# benchmark (BenchmarkRegionIncrement, BenchmarkTwoRegionIncrement).
go test -run '^$' -bench 'Increment' -benchmem -count 3 -v \
	./internal/memstore ./internal/filestore ./internal/httpapi ./internal/jsonlog ./internal/dynamostore | tee "$out/go-bench.txt"

echo
echo "== Hits over time on DynamoDB Local: write units per hit, aggregator writes per 1,000 hits, lag from a hit to its bucket"
go test -run 'TestWriteUnitsPerHit' -v ./internal/dynamostore | grep -E '^(--- |ok|FAIL)' | tee "$out/stats-bench.txt"
echo "== Unique visitors: the increment path with uniques and the crawler filter on vs off (ratio on/off), memory store and DynamoDB Local, with write units per increment; the aggregator's units per 1,000 hits"
go test -run '^$' -bench 'IncrementUniques' -benchtime 2000x ./internal/httpapi | grep -E '^Benchmark' | tee -a "$out/stats-bench.txt"
go test -run '^$' -bench 'IncrementUniques' -benchtime 300x ./internal/dynamostore | grep -E '^Benchmark' | tee -a "$out/stats-bench.txt"
HITCOUNTER_MEASURE_UNITS=1 go test -count=1 -run 'TestAggregatorUnitsPerThousandHits' -v -timeout 15m ./internal/dynamostore | grep -E 'per 1,000 hits|^(--- |ok|FAIL)' | tee -a "$out/stats-bench.txt"
echo "== The aggregator per 1,000 hits by traffic and batching window (1 s before, 60 s StatsBatchWindowSeconds' default, 300 s)"
HITCOUNTER_MEASURE_UNITS=1 go test -count=1 -run 'TestAggregatorCostByWindow' -v -timeout 15m ./internal/history | grep -E '^ +\||^(--- |ok|FAIL)' | tee -a "$out/stats-bench.txt"
go test -run '^$' -bench 'Aggregate|StatsLag' -benchtime 20x ./internal/history ./internal/dynamostore | tee -a "$out/stats-bench.txt"

echo
echo "== Standalone server (memory store, request log on) vs a bare net/http handler, under wrk"
go build -o "$out/hitcounter" ./cmd/hitcounter
go build -o "$out/hitbench" ./tools/cmd/hitbench
{
	echo "## Standalone server, memory store, vs bare net/http ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
	echo
} >>"$report"
"$out/hitbench" -server "$out/hitcounter" -duration "$DURATION" -rounds "$ROUNDS" -out "$report" -targets "$targets"

echo
echo "== Standalone server, 200,000 counters: increments alone vs while 4 clients loop on GET /counters?limit=1"
{
	echo
	echo "## Standalone server, 200,000 counters: increments alone and while clients list"
	echo
} >>"$report"
"$out/hitbench" -suite listing -server "$out/hitcounter" -duration "$DURATION" -rounds "$ROUNDS" -out "$report" -targets "$targets"

echo
echo "== Standalone server: the durable file store (every acknowledged increment on disk) vs the memory store, 32 clients"
{
	echo
	echo "## Standalone server: file store vs memory store"
	echo
} >>"$report"
# The data file goes under .cache/bench, on the project's disk: a tmpfs
# (which /tmp may be) would make fdatasync free and the figure meaningless.
"$out/hitbench" -suite file -server "$out/hitcounter" -duration "$DURATION" -rounds "$ROUNDS" -data-dir "$out" -out "$report" -targets "$targets"

echo
echo "== Standalone server: memory and /health while thousands of connections stall or idle (default connection cap)"
{
	echo
	echo "## Standalone server: thousands of stalled or idle connections"
	echo
} >>"$report"
"$out/hitbench" -suite conns -server "$out/hitcounter" -out "$report"

echo
echo "== DynamoDB Local: the store and the server vs a raw SDK UpdateItem loop, same table, same concurrency; the hot path with and without the stats aggregator"
{
	echo
	echo "## DynamoDB Local: store and server vs a raw SDK UpdateItem loop"
	echo
} >>"$report"
"$out/hitbench" -suite dynamodb -server "$out/hitcounter" -duration "$DURATION" -rounds "$ROUNDS" -c 16 -out "$report" -targets "$targets"
echo
echo "== DynamoDB Local behind a per-key throttle (20 write units/s, 60 read): one hot counter under 32 clients, shards off vs on"
{
	echo
	echo "## One hot counter behind a per-key limit: shards off vs on"
	echo
} >>"$report"
"$out/hitbench" -suite hot -server "$out/hitcounter" -duration "${HOT_DURATION:-15s}" -c 32 -out "$report" -targets "$targets"

echo
echo "== Lambda: the real bootstraps vs a hello-world aws-lambda-go bootstrap under the same Runtime Interface Emulator"
go test -run '^$' -bench 'ColdStart|WarmInvoke' -benchtime 30x -count 3 ./tools/localapi | tee "$out/lambda-bench.txt"
{
	echo
	echo "## Lambda under the Runtime Interface Emulator (host build), vs hello world"
	echo
	echo '| measure | hello world | get (memory) | get (as on AWS) | get (DynamoDB Local) |'
	echo '|---|---|---|---|---|'
	awk '
		/^BenchmarkColdStart\// { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); init[a[2]] += $5; cold[a[2]] += $3/1e6; nc[a[2]]++ }
		/^BenchmarkWarmInvoke\// { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); warm[a[2]] += $3/1e6; nw[a[2]]++ }
		function avg(s, n) { return n ? sprintf("%.2f ms", s / n) : "-" }
		function ratio(s, n, b, m) { return (n && m) ? sprintf(" (%.2fx)", (s / n) / (b / m)) : "" }
		END {
			h = "hello"
			printf "| init (INIT REPORT) | %s | %s%s | %s%s | %s%s |\n", avg(init[h], nc[h]),
				avg(init["get-memory"], nc["get-memory"]), ratio(init["get-memory"], nc["get-memory"], init[h], nc[h]),
				avg(init["get-as-on-aws"], nc["get-as-on-aws"]), ratio(init["get-as-on-aws"], nc["get-as-on-aws"], init[h], nc[h]),
				avg(init["get-dynamodb"], nc["get-dynamodb"]), ratio(init["get-dynamodb"], nc["get-dynamodb"], init[h], nc[h])
			printf "| emulator start to first answer | %s | %s | %s | %s |\n", avg(cold[h], nc[h]),
				avg(cold["get-memory"], nc["get-memory"]), avg(cold["get-as-on-aws"], nc["get-as-on-aws"]), avg(cold["get-dynamodb"], nc["get-dynamodb"])
			printf "| warm invoke | %s | %s%s | - | %s |\n", avg(warm[h], nw[h]),
				avg(warm["get-memory"], nw["get-memory"]), ratio(warm["get-memory"], nw["get-memory"], warm[h], nw[h]),
				avg(warm["get-dynamodb"], nw["get-dynamodb"])
		}' "$out/lambda-bench.txt"
	echo
	echo "Function binaries (linux/arm64, make build):"
	echo
	echo '```'
	make --no-print-directory build 2>&1 | grep bytes
	echo '```'
} | tee -a "$report"

# The Lambda targets: init at most 1.5x and a warm invoke at most 1.3x those
# of hello world (init: the function configured as on AWS; warm: the same
# function on the memory store, so that DynamoDB Local's time is not in it).
awk -v targets="$targets" '
	/^BenchmarkColdStart\// { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); init[a[2]] += $5; nc[a[2]]++ }
	/^BenchmarkWarmInvoke\// { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); warm[a[2]] += $3; nw[a[2]]++ }
	function row(what, got, limit) {
		printf "| %s | %.2fx | ≤ %.2fx | %s |\n", what, got, limit, (got <= limit ? "**holds**" : "**MISSED**") >> targets
	}
	END {
		h = "hello"
		if (nc[h] && nc["get-as-on-aws"]) row("Lambda init under the emulator vs hello world", (init["get-as-on-aws"] / nc["get-as-on-aws"]) / (init[h] / nc[h]), 1.5)
		if (nw[h] && nw["get-memory"]) row("Lambda warm invoke under the emulator vs hello world", (warm["get-memory"] / nw["get-memory"]) / (warm[h] / nw[h]), 1.3)
	}' "$out/lambda-bench.txt"
make --no-print-directory build 2>/dev/null | awk -v targets="$targets" '
	/ bytes / { if ($2 > max) { max = $2; name = $1 } }
	END { printf "| largest function binary (%s), bytes | %d | ≤ 10000000 | %s |\n", name, max, (max <= 10000000 ? "**holds**" : "**MISSED**") >> targets }'

{
	echo
	echo "## Targets"
	echo
	echo "| what | this run | target | |"
	echo "|---|---|---|---|"
	cat "$targets"
} | tee -a "$report"

echo
echo "bench: report written to $report"
