#!/usr/bin/env bash
# System calls the echo-server makes per echo operation, counted by `strace -f -c`.
#
# Usage: Benchmarks/strace/syscalls.sh [backend] [level|edge] [rr|conn] [N]
# (backend: epoll, uring, poll, select, or c for the minimal C epoll server in
# Benchmarks/scale/c_echo.c, as a reference; the trigger is ignored for c)
# Runs the release echo-server under strace, drives N operations with
# Benchmarks/callgrind/drive.py (rr: one connection, N round trips of 64 bytes; conn: N cycles
# of connect, echo, close), stops it with SIGTERM, and prints each system call the server made
# at least N/10 times, with its count per operation. Start-up calls fall below that threshold.
# PACE=SECONDS makes the client pause after each operation (see drive.py: needed for edge).
# API=async counts the echo-server's --api async instead of callbacks.
# COUNTER=perf counts with `perf stat` on the syscall tracepoints instead, attached to the
# running server for the drive only: strace stops the server at every call, which slows it
# enough to change which events share a wait; perf barely slows it. Same output.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend=${1:-epoll}
trigger=${2:-level}
mode=${3:-rr}
n=${4:-2000}
port=${PORT:-17099}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$backend" = c ]; then
    cc -O2 -o "$work/c_echo" Benchmarks/scale/c_echo.c
    server_command=("$work/c_echo" "$port")
else
    swift build -c release --product echo-server >/dev/null
    server_command=(.build/release/echo-server --port "$port" --backend "$backend" --trigger "$trigger"
        --api "${API:-callbacks}" --quiet)
fi
if [ "${COUNTER:-strace}" = perf ]; then
    "${server_command[@]}" >/dev/null &
    server=$!
    for _ in $(seq 100); do
        python3 - "$port" <<'PY' 2>/dev/null && break
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
        sleep 0.1
    done
    events=(-e raw_syscalls:sys_enter)
    for name in io_uring_enter epoll_wait epoll_ctl accept4 read close sendto; do
        events+=(-e "syscalls:sys_enter_$name")
    done
    perf stat -x, "${events[@]}" -p "$server" -o "$work/counts" &
    counter=$!
    sleep 0.3
    python3 Benchmarks/callgrind/drive.py 127.0.0.1 "$port" "$mode" "$n" 64 "${PACE:-0}"
    kill -INT "$counter"
    wait "$counter" || true
    kill -TERM "$server"
    # The C server has no SIGTERM handler: it dies of the signal, which is no failure here.
    wait "$server" || [ "$backend" = c ]
    echo "backend=$backend trigger=$trigger mode=$mode N=$n: system calls per operation (perf)"
    # perf stat -x, columns: count, unit, event, ...
    awk -F, -v n="$n" '$3 ~ /sys_enter/ && $1 ~ /^[0-9]+$/ && $1 >= n / 10 {
        name = $3; sub(/.*sys_enter_?/, "", name); if (name == "") name = "all"
        printf "  %-14s %6.2f\n", name, $1 / n
    }' "$work/counts"
    exit 0
fi
strace -f -c -o "$work/counts" "${server_command[@]}" >/dev/null &
tracer=$!
for _ in $(seq 100); do
    python3 - "$port" <<'PY' 2>/dev/null && break
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
    sleep 0.1
done
python3 Benchmarks/callgrind/drive.py 127.0.0.1 "$port" "$mode" "$n" 64 "${PACE:-0}"
# The server is strace's child; SIGTERM to strace itself would only detach it.
kill -TERM "$(pgrep -P "$tracer")"
wait "$tracer" || [ "$backend" = c ]
echo "backend=$backend trigger=$trigger mode=$mode N=$n: system calls per operation"
# strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
awk -v n="$n" '$4 ~ /^[0-9]+$/ && $NF != "total" && $4 >= n / 10 {
    printf "  %-14s %6.2f\n", $NF, $4 / n; sum += $4 / n
} END { printf "  %-14s %6.2f\n", "all", sum }' "$work/counts"
