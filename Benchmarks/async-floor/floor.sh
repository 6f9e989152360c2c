#!/usr/bin/env bash
# The concurrency runtime's floor under the async echo: instructions per wait and per task,
# counted by callgrind as (I(N2) - I(N1)) / (N2 - N1), and anonymous memory per suspended
# task. Needs only the toolchain and valgrind. Usage, from the package root:
#   bash Benchmarks/async-floor/floor.sh
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swiftc -O -parse-as-library floor.swift -o "$work/floor"

instructions() { # count mode
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$work/floor" "$1" "$2" 2>&1 \
        | grep -o "Collected : [0-9]*" | grep -o "[0-9]*$"
}
per_operation() { # mode n1 n2
    local i1 i2
    i1=$(instructions "$2" "$1")
    i2=$(instructions "$3" "$1")
    echo $(((i2 - i1) / ($3 - $2)))
}
echo "instructions per wait, plain continuation: $(per_operation plain 1000 11000)"
echo "instructions per wait, in a cancellation handler: $(per_operation cancellable 1000 11000)"
echo "instructions per task created, waiting once and ending: $(per_operation spawn 1000 6000)"
base=$("$work/floor" 0 hold | grep -o "[0-9]*")
held=$("$work/floor" 10000 hold | grep -o "[0-9]*")
echo "anonymous memory per suspended task (10,000 held): $(((held - base) * 1024 / 10000)) bytes"
