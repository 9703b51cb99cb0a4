/*
 * atomic.c -- package atomic's exported 32-bit, pointer-sized and pointer
 * operations, and what the package says about itself.  The 64-bit
 * operations are in atomic64_native.c and atomic64_spin.c.
 */
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "atomic/atomic.h"

uint32_t gort_atomic_load32(const volatile uint32_t *p) { return atomic_load32(p); }
void gort_atomic_store32(volatile uint32_t *p, uint32_t v) { atomic_store32(p, v); }
uint32_t gort_atomic_add32(volatile uint32_t *p, int32_t d) { return atomic_add32(p, d); }
int gort_atomic_cas32(volatile uint32_t *p, uint32_t o, uint32_t n) { return atomic_cas32(p, o, n); }
uint32_t gort_atomic_xchg32(volatile uint32_t *p, uint32_t v) { return atomic_xchg32(p, v); }
uint32_t gort_atomic_and32(volatile uint32_t *p, uint32_t m) { return atomic_and32(p, m); }
uint32_t gort_atomic_or32(volatile uint32_t *p, uint32_t m) { return atomic_or32(p, m); }

uintptr_t gort_atomic_loaduintptr(const volatile uintptr_t *p) { return atomic_loaduintptr(p); }
void gort_atomic_storeuintptr(volatile uintptr_t *p, uintptr_t v) { atomic_storeuintptr(p, v); }
uintptr_t gort_atomic_adduintptr(volatile uintptr_t *p, intptr_t d) { return atomic_adduintptr(p, d); }
int gort_atomic_casuintptr(volatile uintptr_t *p, uintptr_t o, uintptr_t n) { return atomic_casuintptr(p, o, n); }
uintptr_t gort_atomic_xchguintptr(volatile uintptr_t *p, uintptr_t v) { return atomic_xchguintptr(p, v); }
uintptr_t gort_atomic_anduintptr(volatile uintptr_t *p, uintptr_t m) { return atomic_anduintptr(p, m); }
uintptr_t gort_atomic_oruintptr(volatile uintptr_t *p, uintptr_t m) { return atomic_oruintptr(p, m); }

void *gort_atomic_loadp(void *const volatile *p) { return atomic_loadp(p); }
void gort_atomic_storep(void *volatile *p, void *v) { atomic_storep(p, v); }
int gort_atomic_casp(void *volatile *p, void *o, void *n) { return atomic_casp(p, o, n); }
void *gort_atomic_xchgp(void *volatile *p, void *v)
{
	return (void *)atomic_xchguintptr((volatile uintptr_t *)p, (uintptr_t)v);
}

const char *gort_atomic64_backend(void)
{
	return GORT_ATOMIC64_BACKEND;
}

unsigned gort_atomic64_locks(void)
{
	return GORT_ATOMIC64_SPINLOCK ? GORT_ATOMIC64_LOCKS : 0;
}

/* Go panics with this message on 32-bit targets (runtime/internal/atomic's
 * panicUnaligned); the address and the operation make it actionable. */
void gort_atomic_unaligned(const volatile void *p, const char *op)
{
	gort_atomic_panicf("unaligned 64-bit atomic operation (%s at %p)", op, (const void *)p);
	_exit(2);   /* not reached: a panic does not return */
}

/* The last resort, before package runtime has installed its own (see
 * atomic.h): the formatter is the runtime's, so the format is written as
 * it is.  Async-signal-safe: writev(2) and _exit. */
static __attribute__((noreturn)) void lastresort(const char *prefix, const char *fmt)
{
	struct iovec v[3] = { { (void *)prefix, strlen(prefix) }, { (void *)fmt, strlen(fmt) },
		{ (void *)"\n", 1 } };
	ssize_t ignored = writev(2, v, 3);   /* nothing to be done if it fails */
	(void)ignored;
	_exit(2);
}

static void panic0(const char *fmt, ...) { lastresort("panic: ", fmt); }
static void throw0(const char *fmt, ...) { lastresort("fatal error: ", fmt); }

void (*gort_atomic_panicf)(const char *fmt, ...) = panic0;
void (*gort_atomic_throwf)(const char *fmt, ...) = throw0;
