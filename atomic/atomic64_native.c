/*
 * atomic64_native.c -- lock-free 64-bit atomics, for targets with a 64-bit
 * word (x86-64, aarch64).  Compiled wherever such a word exists, whichever
 * backend the build exports, so that tests and benchmarks can compare the
 * two backends inside one binary.
 */
#include "atomic/atomic.h"

#if GORT_ATOMIC64_NATIVE_AVAILABLE

static inline __attribute__((always_inline)) void check_aligned(const volatile void *p, const char *op)
{
	if ((uintptr_t)p & 7)
		gort_atomic_unaligned(p, op);
}

uint64_t gort_atomic_native_load64(const volatile uint64_t *p)
{
	check_aligned(p, "load64");
	return native_load64(p);
}

void gort_atomic_native_store64(volatile uint64_t *p, uint64_t v)
{
	check_aligned(p, "store64");
	native_store64(p, v);
}

uint64_t gort_atomic_native_add64(volatile uint64_t *p, int64_t d)
{
	check_aligned(p, "add64");
	return native_add64(p, d);
}

int gort_atomic_native_cas64(volatile uint64_t *p, uint64_t old, uint64_t new_)
{
	check_aligned(p, "cas64");
	return native_cas64(p, old, new_);
}

uint64_t gort_atomic_native_xchg64(volatile uint64_t *p, uint64_t v)
{
	check_aligned(p, "xchg64");
	return native_xchg64(p, v);
}

uint64_t gort_atomic_native_and64(volatile uint64_t *p, uint64_t m)
{
	check_aligned(p, "and64");
	return native_and64(p, m);
}

uint64_t gort_atomic_native_or64(volatile uint64_t *p, uint64_t m)
{
	check_aligned(p, "or64");
	return native_or64(p, m);
}

#if !GORT_ATOMIC64_SPINLOCK
GORT_EXPORT_ALIAS(gort_atomic_load64, gort_atomic_native_load64)
GORT_EXPORT_ALIAS(gort_atomic_store64, gort_atomic_native_store64)
GORT_EXPORT_ALIAS(gort_atomic_add64, gort_atomic_native_add64)
GORT_EXPORT_ALIAS(gort_atomic_cas64, gort_atomic_native_cas64)
GORT_EXPORT_ALIAS(gort_atomic_xchg64, gort_atomic_native_xchg64)
GORT_EXPORT_ALIAS(gort_atomic_and64, gort_atomic_native_and64)
GORT_EXPORT_ALIAS(gort_atomic_or64, gort_atomic_native_or64)
#endif

#endif /* GORT_ATOMIC64_NATIVE_AVAILABLE */
