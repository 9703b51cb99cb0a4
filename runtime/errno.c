/*
 * errno.c -- gort.h's errno: the calling thread's, looked up again at
 * every use, because a goroutine may resume on another thread after any
 * gort call (gort.h explains).  Here, in package runtime, because the
 * runtime's own code reads errno through gort.h too (print.c, signal.c),
 * and it may call nothing above it.
 */
#include <errno.h>

#include "runtime/runtime.h"

/* Never to be taken for a constant: glibc declares __errno_location
 * const, and a compiler that inlines this function, or infers its
 * attributes from its body (clang does), would cache errno's address
 * across a switch again -- in gort's own code first.  The empty asm with
 * a memory clobber makes every call a call. */
__attribute__((noinline)) int *gort_errno_location(void)
{
	int *p = __errno_location();
	__asm__ __volatile__("" : "+r"(p) : : "memory");
	return p;
}
