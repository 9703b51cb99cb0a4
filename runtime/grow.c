/*
 * grow.c -- growing an array by doubling: the one helper behind the symbol
 * table's and the pprof writer's tables.  Not for signal handlers: it
 * calls realloc.
 */
#include <stdlib.h>

#include "runtime/runtime.h"

int gort_runtime_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	void **p = pp;
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	void *q = realloc(*p, ncap * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = ncap;
	return 0;
}
