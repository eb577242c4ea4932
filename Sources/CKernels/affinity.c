// The CPUs this process may run on. Swift's Glibc module does not import sched_getaffinity
// (it needs _GNU_SOURCE), so it is asked here.
#define _GNU_SOURCE
#include "d2l_kernels.h"

#if defined(__linux__)
#include <sched.h>

int d2l_affinity_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
}
#else
int d2l_affinity_cpu_count(void) { return 0; }
#endif
