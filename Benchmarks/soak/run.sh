#!/usr/bin/env bash
# Soaks of echo-server on loopback, each bounded and stopping by itself (about 5 minutes in
# all); the figures go to BENCHMARKS.md ("Soaks").
#   1. 150 never-reading clients: RSS while they are paused, the peak while they read their
#      echoes back, and RSS once they are gone (freed buffers given back);
#   2. 400 never-readers: the server-wide cap (--total-high-water, 64 MiB) holds RSS down;
#   3. slowloris: 1,000 connections trickling a byte a second for 20 s, fresh clients probed;
#   4. blocked stderr: ulimit -n 64 and a 4 KiB stderr pipe nobody reads, 60 rounds of
#      running out of descriptors; the server must echo in every round;
#   5. mixed load for MIXED seconds (default 180): selector-bench runs, never-reader cycles,
#      slowloris and probes at once, RSS and descriptors sampled every 5 s.
# Usage, from the package root:
#   swift build -c release --product echo-server --product selector-bench
#   bash Benchmarks/soak/run.sh [path/to/echo-server] [port] [mixed seconds]
# SOAK_ONLY=1 (or 1,3, ...) runs only those soaks.
set -euo pipefail
SERVER=${1:-.build/release/echo-server}
PORT=${2:-31700}
MIXED=${3:-180}
BENCH=${BENCH:-$(dirname "$SERVER")/selector-bench}
ONLY=${SOAK_ONLY:-1,2,3,4,5}
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENTS="python3 $HERE/clients.py"
TMP=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
mib() { awk -v kb="$1" 'BEGIN {printf "%.1f MiB", kb / 1024}'; }
wait_for() { # file text [seconds]
    local tries=$(( ${3:-60} * 10 ))
    for _ in $(seq "$tries"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "timed out waiting for '$2' in $1:"; cat "$1"; exit 1
}
start_server() { # extra flags...
    "$SERVER" --port "$PORT" "$@" > "$TMP/server.out" 2> "$TMP/server.err" &
    PID=$!
    wait_for "$TMP/server.out" "listening on"
}
stop_server() {
    kill -TERM "$PID"
    local status=0
    wait "$PID" || status=$?
    PID=
    echo "  server exit status $status; $(grep 'stopped;' "$TMP/server.out" | sed 's/^echo-server: //')"
    [ "$status" -eq 0 ]
}
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }

# RSS while N never-readers are paused, the peak while they drain, and after they leave.
never_readers() { # count
    start_server
    local base; base=$(rss "$PID")
    $CLIENTS never-readers --port "$PORT" --count "$1" --hold 3 > "$TMP/nr.out" &
    local clients=$!
    wait_for "$TMP/nr.out" PAUSED 120
    sleep 1
    local paused; paused=$(rss "$PID")
    wait_for "$TMP/nr.out" DRAINING 30
    local peak=$paused
    while ! grep -q DRAINED "$TMP/nr.out"; do
        local now; now=$(rss "$PID"); [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.05
    done
    wait_for "$TMP/nr.out" CLOSED 30
    wait "$clients" || { echo "FAIL: the never-readers saw wrong or missing echoes:"; cat "$TMP/nr.out"; exit 1; }
    sleep 1
    local after; after=$(rss "$PID")
    echo "  $1 never-readers: RSS idle $(mib "$base"), paused $(mib "$paused"), peak while draining $(mib "$peak"), 1 s after they left $(mib "$after")"
    sed 's/^/  clients: /' "$TMP/nr.out"
    stop_server
}

if wanted 1; then
    echo "== 1. 150 never-readers"
    never_readers 150
fi

if wanted 2; then
    echo "== 2. 400 never-readers against the 64 MiB server-wide cap"
    never_readers 400
fi

if wanted 3; then
    echo "== 3. slowloris: 1,000 connections, a byte a second each, for 20 s"
    start_server
    $CLIENTS slowloris --port "$PORT" --count 1000 --duration 20 > "$TMP/slow.out" &
    slow=$!
    sleep 2
    for _ in 1 2 3 4; do
        $CLIENTS probe --port "$PORT" --count 20 | sed 's/^/  /'
        echo "  RSS $(mib "$(rss "$PID")"), $(fds "$PID") descriptors"
        sleep 4
    done
    wait "$slow"
    sed 's/^/  /' "$TMP/slow.out"
    stop_server
fi

if wanted 4; then
    echo "== 4. blocked stderr: ulimit -n 64, a 4 KiB stderr pipe nobody reads, 60 rounds out of descriptors"
    $CLIENTS blocked-stderr --server "$SERVER" --port "$PORT" --rounds 60 | sed 's/^/  /'
fi

if wanted 5; then
    echo "== 5. mixed load for $MIXED s: selector-bench, never-reader cycles, slowloris, probes"
    start_server --idle-timeout 30
    end=$(( $(date +%s) + MIXED ))
    $CLIENTS slowloris --port "$PORT" --count 500 --duration "$MIXED" > "$TMP/mixed-slow.out" &
    slow=$!
    ( status=0
      while [ "$(date +%s)" -lt "$end" ]; do
          "$BENCH" --target "127.0.0.1:$PORT" --scenario conn,rr,stream --duration 3 --warmup 0.2 \
              --connections 8 > "$TMP/bench.last" 2>&1 || { status=1; cat "$TMP/bench.last"; }
          sleep 2
      done
      exit $status ) > "$TMP/mixed-bench.out" &
    bench=$!
    ( status=0
      while [ "$(( $(date +%s) + 25 ))" -lt "$end" ]; do
          $CLIENTS never-readers --port "$PORT" --count 100 --hold 5 > "$TMP/nr-cycle.out" || status=1
          grep DRAINED "$TMP/nr-cycle.out"
      done
      exit $status ) > "$TMP/mixed-nr.out" &
    readers=$!
    samples=0; rss_min=999999999; rss_max=0; fd_min=999999; fd_max=0; slowest=0
    while [ "$(date +%s)" -lt "$end" ]; do
        r=$(rss "$PID"); f=$(fds "$PID")
        [ "$r" -lt "$rss_min" ] && rss_min=$r; [ "$r" -gt "$rss_max" ] && rss_max=$r
        [ "$f" -lt "$fd_min" ] && fd_min=$f; [ "$f" -gt "$fd_max" ] && fd_max=$f
        samples=$((samples + 1))
        echo "$(( MIXED - end + $(date +%s) )) s: RSS $r kB, $f descriptors" >> "$TMP/samples"
        if [ $((samples % 2)) -eq 0 ]; then
            $CLIENTS probe --port "$PORT" --count 5 >> "$TMP/probes" || echo "PROBE FAILED" >> "$TMP/probes"
        fi
        sleep 5
    done
    failures=0
    wait "$slow" || failures=$((failures + 1))
    wait "$bench" || failures=$((failures + 1))
    wait "$readers" || failures=$((failures + 1))
    sleep 1
    echo "  $samples samples: RSS $(mib "$rss_min") to $(mib "$rss_max"), descriptors $fd_min to $fd_max; after the load: RSS $(mib "$(rss "$PID")"), $(fds "$PID") descriptors"
    echo "  probes: $(grep -c PROBE "$TMP/probes") rounds, $(grep -c FAILED "$TMP/probes") failed, $(grep -o 'slowest [0-9.]* ms' "$TMP/probes" | sort -k2 -n | tail -1)"
    echo "  selector-bench runs with errors: $(grep -c FAILED "$TMP/mixed-bench.out" || true); never-reader cycles: $(grep -c DRAINED "$TMP/mixed-nr.out" || true)"
    sed 's/^/  /' "$TMP/mixed-slow.out"
    stop_server
    [ "$failures" -eq 0 ] || { echo "FAIL: $failures of the mixed-load clients failed"; cat "$TMP/mixed-bench.out" "$TMP/mixed-nr.out"; exit 1; }
fi
echo "soak passed"
