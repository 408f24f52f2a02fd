#ifndef LOYALTY_CLINUX_H
#define LOYALTY_CLINUX_H

// Linux calls that Swift's Glibc module does not export: a timer file descriptor and binding a
// thread to CPUs. The only C of the project besides libzmq's headers.

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

/// Binds the calling thread to the `count` CPUs in `cpus` (defined in CLinux.c, which asks for
/// the GNU extensions of <sched.h> before any header). - Returns: 0, or -1 with errno set.
int loyalty_bind_current_thread(const int *cpus, int count);

/// The CPUs this process may run on (its affinity mask), written into `cpus` (room for `capacity`).
/// - Returns: how many, or -1 with errno set.
int loyalty_allowed_cpus(int *cpus, int capacity);

#endif
