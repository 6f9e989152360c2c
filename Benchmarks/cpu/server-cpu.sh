#!/usr/bin/env bash
# The echo-server's CPU time (user + system, from /proc/PID/stat) per 100,000 operations.
#
# Usage: Benchmarks/cpu/server-cpu.sh BACKEND CASE [D1] [D2]
#   CASE: rr1     rr on 1 connection           (selector-bench --scenario rr --connections 1)
#         rr100   rr on 100 connections        (--scenario rr --connections 100)
#         conn    connect, echo, close cycles  (--scenario conn, 32 clients)
#         idle10k rr on 32 connections while 10,000 idle ones are held (--scenario idle --idle 10000)
# Starts the release echo-server (--backend BACKEND) as its own process and loads it with
# selector-bench --target twice, for D1 and D2 seconds (default 2 and 6). The server's CPU
# ticks are read before and after each run, and the operations come from the bench's JSON;
# the answer is (CPU(D2) - CPU(D1)) / (ops(D2) - ops(D1)), so connecting, warm-up and teardown
# cancel. CPU ticks are 10 ms: the longer the runs, the finer the figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=${1:?backend}
case_name=${2:?case}
d1=${3:-2}
d2=${4:-6}
port=${PORT:-17150}
case "$case_name" in
    rr1) load=(--scenario rr --connections 1) ;;
    rr100) load=(--scenario rr --connections 100) ;;
    conn) load=(--scenario conn) ;;
    idle10k) load=(--scenario idle --idle 10000) ;;
    *) echo "unknown case $case_name (rr1, rr100, conn, idle10k)" >&2; exit 2 ;;
esac

swift build -c release --product echo-server >/dev/null
swift build -c release --product selector-bench >/dev/null
work=$(mktemp -d)
.build/release/echo-server --port "$port" --backend "$backend" --quiet >"$work/server.out" 2>&1 &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/server.out" && break; sleep 0.05; done

ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
run() { # duration: prints "ticks operations"
    local before after
    before=$(ticks)
    .build/release/selector-bench --target "127.0.0.1:$port" "${load[@]}" --duration "$1" --json >"$work/bench.json"
    after=$(ticks)
    local operations
    operations=$(grep -o '"operations":[0-9]*' "$work/bench.json" | tail -1 | cut -d: -f2)
    echo "$((after - before)) $operations"
}
read -r t1 o1 < <(run "$d1")
read -r t2 o2 < <(run "$d2")
hz=$(getconf CLK_TCK)
awk -v t1="$t1" -v t2="$t2" -v o1="$o1" -v o2="$o2" -v hz="$hz" -v b="$backend" -v c="$case_name" 'BEGIN {
    seconds = (t2 - t1) / hz
    per = seconds / (o2 - o1) * 100000
    printf "backend=%s case=%s: %d ops in %.1f s CPU, %d ops in %.1f s CPU -> %.3f s CPU per 100,000 ops (%.2f us/op), %.0f ops/s in the long run\n",
        b, c, o1, t1 / hz, o2, t2 / hz, per, per * 10, o2 / '"$d2"'
}'
