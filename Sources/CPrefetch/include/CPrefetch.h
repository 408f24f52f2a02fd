#ifndef LOYALTY_CPREFETCH_H
#define LOYALTY_CPREFETCH_H

/// A cache prefetch hint, for loops whose next memory accesses are known in advance but would
/// miss the cache (the rule simulation's per-customer state, visited in random order). Swift
/// has no prefetch of its own. A prefetch never faults and has no effect on results: any
/// address, even a stale or invalid one, is allowed.
static inline __attribute__((always_inline)) void loyalty_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
