#!/usr/bin/env bash
# Scale check of echo-server on loopback:
#   1. resident memory (VmRSS) with 10,000 idle connections (and the same for a minimal C
#      epoll server, c_echo.c, as a reference, if a C compiler is present);
#   2. one process holding 19,000 connections (two client processes of 9,500, their sources
#      spread over 127.0.0.2-21) and echoing on every one of them while all are open.
# Usage, from the package root:
#   swift build -c release --product echo-server
#   bash Benchmarks/scale/measure.sh [path/to/echo-server] [port]
# SERVER_ARGS="--api async" passes options on to echo-server (word-split).
set -euo pipefail
SERVER=${1:-.build/release/echo-server}
PORT=${2:-7400}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
ulimit -n "$(ulimit -Hn)"

# VmRSS, and its anonymous part (heap, stacks; the rest is mapped library code, shared).
rss() { awk '/^VmRSS/ {total = $2} /^RssAnon/ {anon = $2} END {print total " kB (anonymous " anon " kB)"}' "/proc/$1/status"; }
descriptors() { ls "/proc/$1/fd" | wc -l; }
wait_for() { # file text
    for _ in $(seq 1200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "timed out waiting for '$2' in $1:"; cat "$1"; exit 1
}
start() { # name command...
    local name=$1; shift
    "$@" > "$TMP/$name.out" 2>&1 &
    PID=$!
    wait_for "$TMP/$name.out" "listening on"
}

idle_10k() { # name command...
    start "$@"
    local server=$PID
    sleep 0.2
    echo "$1: baseline RSS $(rss $server)"
    python3 "$HERE/hold_connections.py" --port "$PORT" --count 10000 --hold 4 > "$TMP/idle.out" 2>&1 &
    local client=$!
    wait_for "$TMP/idle.out" READY
    sleep 1
    echo "$1: 10,000 idle connections: RSS $(rss $server), $(descriptors $server) descriptors"
    wait $client || { cat "$TMP/idle.out"; exit 1; }
    grep -E "connected|echo round" "$TMP/idle.out" | sed "s/^/  client: /"
    kill -TERM $server; wait $server || true
}

# shellcheck disable=SC2086 # SERVER_ARGS is a list of options
idle_10k echo-server "$SERVER" --port "$PORT" ${SERVER_ARGS:-}
grep stopped "$TMP/echo-server.out" | sed 's/^/  /'
if command -v cc > /dev/null; then
    cc -O2 -o "$TMP/c_echo" "$HERE/c_echo.c"
    idle_10k c_echo "$TMP/c_echo" "$PORT"
fi

# shellcheck disable=SC2086
start echo-server-19k "$SERVER" --port "$PORT" ${SERVER_ARGS:-}
server=$PID
python3 "$HERE/hold_connections.py" --port "$PORT" --count 9500 --sources 127.0.0.2-127.0.0.11 \
    --wait-for "$TMP/go" --hold 3 > "$TMP/a.out" 2>&1 &
a=$!
python3 "$HERE/hold_connections.py" --port "$PORT" --count 9500 --sources 127.0.0.12-127.0.0.21 \
    --wait-for "$TMP/go" --hold 3 > "$TMP/b.out" 2>&1 &
b=$!
wait_for "$TMP/a.out" READY
wait_for "$TMP/b.out" READY
echo "echo-server: 19,000 connections held: RSS $(rss $server), $(descriptors $server) descriptors"
touch "$TMP/go"   # both clients now echo again on all 19,000 connections at once
wait_for "$TMP/a.out" "echo round 2"
wait_for "$TMP/b.out" "echo round 2"
echo "echo-server: after echoing on all 19,000: RSS $(rss $server)"
status=0
wait $a || status=1
wait $b || status=1
for client in a b; do grep -vE READY "$TMP/$client.out" | sed "s/^/  client $client: /"; done
kill -TERM $server; wait $server || true
grep stopped "$TMP/echo-server-19k.out" | sed 's/^/  /'
exit $status
