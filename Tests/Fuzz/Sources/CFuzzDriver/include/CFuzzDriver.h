#ifndef LOYALTY_CFUZZDRIVER_H
#define LOYALTY_CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>
// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer). SwiftPM gives every executable a
// `main` of its own, so the fuzzers start libFuzzer from theirs rather than using libFuzzer's.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
