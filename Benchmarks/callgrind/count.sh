#!/usr/bin/env bash
# User-space instructions per echo operation in the echo-server, counted by callgrind.
#
# Usage: Benchmarks/callgrind/count.sh [backend|c|c-kept|swift-kept|swift-closure] [rr|rr10|conn] [N1] [N2] [level|edge]
# (rr10: ten connections, a message on each per round, so waits return batches; N1 and N2
# count round trips in all and must be multiples of ten)
# (backend: epoll, uring, poll, select, or c for the C reference server; c-kept for the C
# server that also keeps what a short write leaves, checks generations and counts:
# Benchmarks/scale/c_echo_kept.c; swift-kept for the same server written in plain Swift without
# the library, Benchmarks/scale/swift_echo_kept.swift, built with swiftc -O; swift-closure for
# that server with a library's shape, a handler closure and a write method: the same file
# built with -D CLOSURE_SHAPE)
# Runs the release echo-server (or, with backend "c", the minimal C epoll server in
# Benchmarks/scale/c_echo.c, as a reference) under callgrind twice, driven by drive.py with
# N1 and then N2 operations, and prints (I(N2) - I(N1)) / (N2 - N1): start-up and shutdown
# cancel out. The fifth argument is the echo-server's --trigger (default level; ignored for c).
# PACE=SECONDS makes the client pause after each operation (see drive.py: needed for edge).
# conn counts depend on how a cycle's steps (accept, data, end of stream) fall into waits, which
# timing decides: unpaced, runs of one tree spread by up to 100. PACE=0.001 gives each step a
# wait of its own, and the count repeats to the instruction: compare conn figures paced.
# API=async counts the echo-server's --api async (a task per connection) instead of callbacks.
# SERVER_ARGS adds echo-server flags (e.g. "--idle-timeout 60", which keeps a timer scheduled).
# valgrind 3.19 cannot read Swift's DWARF5 debug info, so it runs a copy without it.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=${1:-epoll}
mode=${2:-rr}
n1=${3:-2000}
n2=${4:-6000}
trigger=${5:-level}
port=${PORT:-17099}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$backend" = c ] || [ "$backend" = c-kept ]; then
    source=Benchmarks/scale/c_echo.c
    if [ "$backend" = c-kept ]; then source=Benchmarks/scale/c_echo_kept.c; fi
    cc -O2 -o "$work/server" "$source"
    server_command=("$work/server" "$port")
elif [ "$backend" = swift-kept ] || [ "$backend" = swift-closure ]; then
    # The server imports the project's C header (for epoll), through a module map of its own.
    printf 'module CSelectors {\n  header "%s/Sources/CSelectors/include/CSelectors.h"\n  export *\n}\n' \
        "$PWD" >"$work/module.modulemap"
    shape=()
    if [ "$backend" = swift-closure ]; then shape=(-D CLOSURE_SHAPE); fi
    swiftc -O "${shape[@]}" -I "$work" Benchmarks/scale/swift_echo_kept.swift -o "$work/server"
    server_command=("$work/server" "$port")
else
    swift build -c release --product echo-server >/dev/null
    objcopy --strip-debug .build/release/echo-server "$work/server"
    server_command=("$work/server" --port "$port" --backend "$backend" --trigger "$trigger" --api "${API:-callbacks}" --quiet ${SERVER_ARGS:-})
fi

count() {
    local n=$1
    valgrind --tool=callgrind --callgrind-out-file="$work/out.$n" \
        "${server_command[@]}" >/dev/null 2>"$work/valgrind.$n" &
    local server=$!
    for _ in $(seq 100); do
        python3 - "$port" <<'PY' 2>/dev/null && break
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
        sleep 0.2
    done
    python3 Benchmarks/callgrind/drive.py 127.0.0.1 "$port" "$mode" "$n" 64 "${PACE:-0}"
    # SIGTERM, not SIGINT: a background job of a script starts with SIGINT ignored.
    kill -TERM "$server"
    if [ "$backend" = uring ]; then
        # valgrind 3.19 runs io_uring_enter as a system call that does not block, holding its
        # lock: a server waiting in it never gets to handle the signal. One connection ends
        # the wait (the same one in both runs, so it cancels out).
        sleep 0.5
        python3 - "$port" <<'PY' 2>/dev/null || true
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
PY
    fi
    wait "$server"
    # KEEP=path keeps the profile of the larger run, for callgrind_annotate.
    if [ -n "${KEEP:-}" ]; then cp "$work/out.$n" "$KEEP"; fi
    grep -o "Collected : [0-9]*" "$work/valgrind.$n" | grep -o "[0-9]*$"
}

i1=$(count "$n1")
i2=$(count "$n2")
echo "backend=$backend trigger=$trigger api=${API:-callbacks} mode=$mode N1=$n1 I1=$i1 N2=$n2 I2=$i2"
echo "instructions per operation: $(( (i2 - i1) / (n2 - n1) ))"
