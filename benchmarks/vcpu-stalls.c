// How late a thread pinned to one CPU wakes from 0.2-ms sleeps: run one per CPU beside a latency
// benchmark to tell the machine's own stalls (a vCPU not running) from the request path's.
//
//   gcc -O2 -o /tmp/vcpu-stalls benchmarks/vcpu-stalls.c
//   /tmp/vcpu-stalls 10 0 & /tmp/vcpu-stalls 10 1 & .build/release/loyalty bench campaigns; wait
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SECONDS CPU\n", argv[0]);
        return 2;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(atoi(argv[2]), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("sched_setaffinity");
        return 1;
    }
    double end = now() + atof(argv[1]), worst = 0, lost = 0;
    int sleeps = 0, over1 = 0, over5 = 0;
    while (now() < end) {
        double before = now();
        usleep(200);
        double late = (now() - before) * 1000 - 0.2;
        sleeps++;
        if (late > 1) { over1++; lost += late; }
        if (late > 5) over5++;
        if (late > worst) worst = late;
    }
    printf("cpu %s: %d sleeps of 0.2 ms; late > 1 ms: %d, > 5 ms: %d, worst %.1f ms, %.0f ms late in all\n",
           argv[2], sleeps, over1, over5, worst, lost);
    return 0;
}
