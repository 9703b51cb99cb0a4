/* heapprof.c -- placeholder until the heap profile lands */
#include <errno.h>
#include "prof/prof.h"
int64_t gort_prof_set_heap_rate(int64_t bytes) { (void)bytes; return -ENOSYS; }
int gort_prof_heapprof_write(int fd, int allocs) { (void)fd; (void)allocs; return -ENOSYS; }
