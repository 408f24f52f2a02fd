#ifndef LOYALTY_CTIMERFD_H
#define LOYALTY_CTIMERFD_H

#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

/// A timer file descriptor (Linux) that becomes readable at an absolute CLOCK_MONOTONIC instant,
/// so that a thread can wait in one poll for its sockets or that instant, to the microsecond
/// (zmq_poll's own timeout counts in milliseconds). Swift's Glibc module does not export
/// <sys/timerfd.h>; these two wrappers are all the benchmarks' load generator needs.
/// - Returns: the descriptor, or -1 with errno set.
static inline int loyalty_timer_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

/// Arms `fd` to fire once at `nanoseconds` on CLOCK_MONOTONIC. - Returns: 0, or -1 with errno set.
static inline int loyalty_timer_arm(int fd, uint64_t nanoseconds) {
    struct itimerspec spec = {0};
    spec.it_value.tv_sec = (time_t)(nanoseconds / 1000000000u);
    spec.it_value.tv_nsec = (long)(nanoseconds % 1000000000u);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, 0);
}

#endif
