#!/usr/bin/env bash
# Regenerates Sources/echo-server/link-order.txt: the functions a serving echo-server runs,
# hottest first, which the release link hands to lld (--symbol-ordering-file) so they sit side
# by side in the binary. The kernel faults code in 64 KiB at a time; spread over the binary,
# the few hundred functions a serving loop runs kept 1.5 MiB of it resident.
#
# What counts as "serving": everything inside the event loops' run (callgrind toggled on
# there, so start-up is left out) and the page release's own loop, while clients connect,
# echo and close, with the callback and the async API, and with an idle timeout (a timer
# scheduled). Run from the package root:
#   bash Benchmarks/scale/link-order.sh
# A function renamed since the list was made is skipped by the link (no warning), so a stale
# list costs memory, not correctness; regenerate it after changing the hot path.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${PORT:-17530}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
swift build -c release --product echo-server >/dev/null
# valgrind 3.19 cannot read Swift's DWARF5 debug information.
objcopy --strip-debug .build/release/echo-server "$work/server"

profile() { # name api [echo-server flags]
    local name=$1 api=$2
    shift 2
    port=$((port + 1))
    valgrind --tool=callgrind --demangle=no --collect-atstart=no \
        --toggle-collect='$s9Selectors17IsolatedEventLoopV3run*' \
        --toggle-collect='$s9Selectors14ResidentMemoryO7release*' \
        --callgrind-out-file="$work/$name.out" \
        "$work/server" --port "$port" --api "$api" --quiet "$@" >"$work/$name.log" 2>&1 &
    local server=$!
    for _ in $(seq 150); do grep -q "listening" "$work/$name.log" && break; sleep 0.2; done
    for operation in "conn 300" "rr 1000" "rr10 200"; do
        # shellcheck disable=SC2086
        python3 Benchmarks/callgrind/drive.py 127.0.0.1 "$port" $operation 64 0
    done
    kill -TERM "$server"
    wait "$server"
}
profile callbacks callbacks
profile async async
# A timer scheduled: the loop's timed iterations (runIOAndTimers) and the idle sweep.
profile timed callbacks --idle-timeout 60

python3 - "$work/callbacks.out" "$work/async.out" "$work/timed.out" >Sources/echo-server/link-order.txt <<'PY'
import collections, re, sys
cost = collections.Counter()
for path in sys.argv[1:]:
    names, function, after_call = {}, None, False
    for line in open(path):
        match = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if match:
            kind, number, name = match.groups()
            if name:
                names[number] = name
            if kind == "fn":
                function = re.sub(r"'\d+$", "", names[number])  # callgrind's recursion mark
            continue
        if line.startswith("calls="):
            after_call = True  # the next cost line is the call's inclusive cost
            continue
        if line[:1].isdigit() or line[:1] in "+-*":
            fields = line.split()
            if not after_call and function and len(fields) >= 2:
                cost[function] += int(fields[1])
            after_call = False
for function, instructions in cost.most_common():
    if instructions > 0 and not function.startswith("0x") and function != "???":
        print(function)
PY
wc -l < Sources/echo-server/link-order.txt | xargs echo "functions listed:"
# The list is not an input SwiftPM tracks: without the binary, the next build links again.
rm -f .build/release/echo-server
