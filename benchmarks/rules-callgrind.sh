#!/usr/bin/env bash
# Instructions per event of `RuleSimulation.run` (the evaluation of `loyalty bench rules`) under
# callgrind: a count that does not depend on what else the machine runs, unlike events/s.
#
#   benchmarks/rules-callgrind.sh [BINARY] [EVENTS]     # defaults: $SCRATCH_PATH/release/loyalty, 200000
#
# Two work-arounds for valgrind 3.19 (Debian 12): it gives up on the DWARF of a Swift 6.3 binary
# ("Possibly corrupted debuginfo file"), so it runs a copy without debug info (symbols stay); and it
# crashes on libdispatch's rt_sigsuspend, whose signal mask is read-only (valgrind writes to it),
# so a preloaded sigsuspend passes a copy. Prints the instructions collected inside
# `RuleSimulation.run` (one run) and per event, and leaves the profile for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-${SCRATCH_PATH:-.build}/release/loyalty}
events=${2:-200000}
work=$(mktemp -d /tmp/rules-callgrind.XXXXXX)
cat > "$work/sigsuspend.c" <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return syscall(SYS_rt_sigsuspend, &copy, 8); }
C
gcc -O2 -shared -fPIC "$work/sigsuspend.c" -o "$work/sigsuspend.so"
objcopy --strip-debug "$binary" "$work/loyalty"
LD_PRELOAD="$work/sigsuspend.so" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
    --toggle-collect='$s14RuleSimulationAAV3run_9countFromAA0B6ReportVAA14PreparedEventsV_s5Int64VtF' \
    "$work/loyalty" bench rules --events "$events" --runs 1 --evaluations 1 >"$work/bench.txt" 2>"$work/valgrind.txt"
collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/valgrind.txt")
echo "instructions in RuleSimulation.run: $collected for $events events = $((collected / events)) per event"
echo "profile: callgrind_annotate $work/callgrind.out | swift demangle --simplified"
