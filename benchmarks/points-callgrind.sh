#!/usr/bin/env bash
# Instructions per event of the points-accrual plugin replaying a journal of purchases, under
# callgrind: a count that does not depend on what else the machine runs, unlike events/s.
#
#   benchmarks/points-callgrind.sh [PURCHASES] [CUSTOMERS] [PLUGIN]   # defaults: 20000, 5000, points-accrual
#
# Runs `loyalty bench points --replay-only` with the plugin under valgrind (the same two
# work-arounds for valgrind 3.19 as benchmarks/rules-callgrind.sh: copies without debug info, and a
# preloaded sigsuspend). Prints the instructions of the whole plugin process and of its event feed
# (decoding, applying and committing each run: `EventFeed.applyRun`), per event, and leaves the
# profiles for callgrind_annotate. Valgrind runs every thread on one core, so the outbox's trip to
# the bus is in the first figure and not the second.
set -euo pipefail
cd "$(dirname "$0")/.."
purchases=${1:-20000}
customers=${2:-5000}
plugin=${3:-points-accrual}
bin=${SCRATCH_PATH:-.build}/release
work=$(mktemp -d /tmp/points-callgrind.XXXXXX)
cat > "$work/sigsuspend.c" <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return syscall(SYS_rt_sigsuspend, &copy, 8); }
C
gcc -O2 -shared -fPIC "$work/sigsuspend.c" -o "$work/sigsuspend.so"
objcopy --strip-debug "$bin/loyalty" "$work/loyalty"
objcopy --strip-debug "$bin/$plugin" "$work/$plugin"
run() {   # $1: output file, $2...: extra callgrind options
    local out=$1; shift
    "$work/loyalty" bench points --purchases "$purchases" --customers "$customers" --plugin "$plugin" --replay-only \
        --plugin-prefix "LD_PRELOAD=$work/sigsuspend.so valgrind --tool=callgrind --callgrind-out-file=$out $*" >"$work/bench.txt" 2>&1
    callgrind_annotate "$out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) (100.0%).*PROGRAM TOTALS.*/\1/p' | tr -d ,
}
whole=$(run "$work/whole.out")
feed=$(run "$work/feed.out" '--toggle-collect=$s13PluginRuntime9EventFeedV8applyRun*')
events=$(sed -n 's/^replay: \([0-9]*\) purchases.*/\1/p' "$work/bench.txt")
echo "$plugin, $events purchases of $customers customers:"
echo "  whole plugin process: $whole instructions = $((whole / events)) per event"
echo "  event feed (EventFeed.applyRun): $feed instructions = $((feed / events)) per event"
echo "profiles: callgrind_annotate $work/feed.out | swift demangle --simplified"
