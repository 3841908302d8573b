#!/bin/sh
# Runs knit serve's load benchmark (docs/BENCHMARKS.md, issue 5) the same
# way every time: builds knit and the load generator, and for each run
# starts from a fresh copy of server/testdata/shop (rate limit raised to
# 100,000 requests/s per key), runs `knit run`, starts `knit serve` on
# loopback, runs one load mode against it, and stops the server. The load
# average is printed before and after each run.
#
#   bench/load/run.sh mixed 3              # 10,000 events/s + 5,000 lookups/s, 30 s, three runs
#   bench/load/run.sh ingest 3             # batches of 100, 60 s
#   bench/load/run.sh visibility 3         # identify then lookup, 1,000 trials
#   bench/load/run.sh mixed 1 -duration 10s  # extra flags go to the load generator
#
# KNIT_LOAD_DIR (default /tmp/knit-load) holds the binaries and the project
# copy; KNIT_LOAD_PORT (default 8720) is the server's port; KNIT_LOAD_BUILD=0
# reuses the binaries already there; KNIT_LOAD_INGEST_PRIORITY (low or
# normal) sets the project's serve.ingest_priority (default: knit's, low),
# so both can be compared with one binary. The server's
# environment passes through, so GOGC=... applies to it; the generator
# sets its own GOGC=400 unless GOGC is set (it prints the value).
set -eu
mode=${1:-mixed}
runs=${2:-3}
[ $# -ge 2 ] && shift 2 || shift $#
dir=${KNIT_LOAD_DIR:-/tmp/knit-load}
port=${KNIT_LOAD_PORT:-8720}
url=http://127.0.0.1:$port
cd "$(dirname "$0")/../.."
mkdir -p "$dir"
if [ "${KNIT_LOAD_BUILD:-1}" != 0 ]; then
	go build -o "$dir/knit" ./cmd/knit
	go build -o "$dir/load" ./bench/load
fi
case $mode in
mixed) defaults="-duration 30s" ;;
ingest) defaults="-duration 60s" ;;
*) defaults="" ;;
esac
export KNIT_TEST_WRITE_KEY=wk KNIT_TEST_READ_TOKEN=rt KNIT_TEST_ADMIN_TOKEN=at
for i in $(seq "$runs"); do
	rm -rf "$dir/shop"
	cp -r server/testdata/shop "$dir/shop"
	printf '  rate_limit: 100000\n' >>"$dir/shop/knit.yaml"
	if [ -n "${KNIT_LOAD_INGEST_PRIORITY:-}" ]; then
		printf '  ingest_priority: %s\n' "$KNIT_LOAD_INGEST_PRIORITY" >>"$dir/shop/knit.yaml"
	fi
	"$dir/knit" run "$dir/shop" >"$dir/run.log" 2>&1
	"$dir/knit" serve "$dir/shop" --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
	pid=$!
	tries=0
	until curl -sf "$url/ready" >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ $tries -gt 300 ]; then
			echo "knit serve did not become ready; see $dir/serve.log" >&2
			kill "$pid"
			exit 1
		fi
		sleep 0.1
	done
	echo "== $mode run $i/$runs, $(date -u +%H:%M:%S) UTC, before:$(uptime | sed 's/.*load average//')"
	# shellcheck disable=SC2086 # defaults is a list of flags
	"$dir/load" -url "$url" -write-key wk -read-token rt -admin-token at -server-pid "$pid" -mode "$mode" $defaults "$@"
	echo "   after:$(uptime | sed 's/.*load average//')"
	kill "$pid"
	wait "$pid" || true
done
