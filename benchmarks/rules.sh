#!/usr/bin/env bash
# How fast `loyalty rules simulate` evaluates rules: the 50 typical rules of
# benchmarks/rules/fifty-rules.yaml over 1,000,000 synthetic events (about a year of a 5-store
# chain with 20,000 customers) on one thread, best and median of 3 runs; then single condition
# evaluations in ns/op beside CEL-Go's published 357 ns/op sample.
#
# Extra arguments go to `loyalty bench rules`, e.g. --events 5000000 --customers 100000 or --json.
# SCRATCH_PATH picks the build folder (default .build), to keep clear of other builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${SCRATCH_PATH:-.build}
swift build -c release --product loyalty --scratch-path "$scratch" >/dev/null
loyalty="$scratch/release/loyalty"
"$loyalty" rules check benchmarks/rules/fifty-rules.yaml >/dev/null
"$loyalty" bench rules "$@"
