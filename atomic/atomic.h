/*
 * atomic.h -- package atomic, the runtime's internal view.
 *
 * The rest of gort calls these inline forms rather than the exported
 * gort_atomic_* functions so that a 32-bit CAS in the scheduler is one
 * instruction sequence, not a call.  The primitives come from libatomic_ops;
 * every form here is sequentially consistent (the AO "_full" variants).
 *
 * 64-bit words go through atomic_*64, which is inline on the native backend
 * and a call into the spinlock table on the spinlock backend.  Nothing in
 * gort may use the C compiler's 64-bit __atomic builtins or <stdatomic.h>
 * on a 64-bit object: on a 32-bit target gcc turns them into calls into
 * libatomic, which takes a pthread mutex behind our back (golang/go#20146
 * again, in C).  tests/no_libatomic.sh checks the built library for them.
 */
#ifndef GORT_ATOMIC_ATOMIC_H
#define GORT_ATOMIC_ATOMIC_H

#include <atomic_ops.h>
#include <stdint.h>

#include "gort.h"
#include "gort_config.h"

#define GORT_INLINE static inline __attribute__((always_inline))

/* --- 32-bit words: AO's "int" is unsigned int, 32 bits on every target. */
_Static_assert(sizeof(unsigned) == 4, "AO int must be 32 bits");
#define AO32(p) ((volatile unsigned *)(p))

GORT_INLINE uint32_t atomic_load32(const volatile uint32_t *p)
{
	return AO_int_load_full(AO32(p));
}
GORT_INLINE void atomic_store32(volatile uint32_t *p, uint32_t v)
{
	AO_int_store_full(AO32(p), v);
}
GORT_INLINE uint32_t atomic_add32(volatile uint32_t *p, int32_t d)
{
	return AO_int_fetch_and_add_full(AO32(p), (unsigned)d) + (uint32_t)d;
}
GORT_INLINE int atomic_cas32(volatile uint32_t *p, uint32_t old, uint32_t new_)
{
	return AO_int_compare_and_swap_full(AO32(p), old, new_);
}
GORT_INLINE uint32_t atomic_xchg32(volatile uint32_t *p, uint32_t v)
{
	uint32_t old;
	do
		old = AO_int_load(AO32(p));
	while (!AO_int_compare_and_swap_full(AO32(p), old, v));
	return old;
}
GORT_INLINE uint32_t atomic_and32(volatile uint32_t *p, uint32_t m)
{
	uint32_t old;
	do
		old = AO_int_load(AO32(p));
	while (!AO_int_compare_and_swap_full(AO32(p), old, old & m));
	return old;
}
GORT_INLINE uint32_t atomic_or32(volatile uint32_t *p, uint32_t m)
{
	uint32_t old;
	do
		old = AO_int_load(AO32(p));
	while (!AO_int_compare_and_swap_full(AO32(p), old, old | m));
	return old;
}

/* Acquire loads and release stores, for the few hot paths that need no
 * more (Go's LoadAcq, StoreRel): the run queues' head and tail. */
GORT_INLINE uint32_t atomic_loadacq32(const volatile uint32_t *p)
{
	return AO_int_load_acquire(AO32(p));
}
GORT_INLINE void atomic_storerel32(volatile uint32_t *p, uint32_t v)
{
	AO_int_store_release(AO32(p), v);
}

/* A spin-wait hint for the CPU: pause (x86), yield (arm64). */
GORT_INLINE void cpu_relax(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* --- pointer-sized words: AO_t is exactly a pointer on every target. */
_Static_assert(sizeof(AO_t) == sizeof(uintptr_t), "AO_t must be pointer-sized");
#define AOP(p) ((volatile AO_t *)(p))

GORT_INLINE uintptr_t atomic_loaduintptr(const volatile uintptr_t *p)
{
	return AO_load_full(AOP(p));
}
GORT_INLINE void atomic_storeuintptr(volatile uintptr_t *p, uintptr_t v)
{
	AO_store_full(AOP(p), v);
}
GORT_INLINE uintptr_t atomic_loadacquintptr(const volatile uintptr_t *p)
{
	return AO_load_acquire(AOP(p));
}
GORT_INLINE void atomic_storereluintptr(volatile uintptr_t *p, uintptr_t v)
{
	AO_store_release(AOP(p), v);
}
GORT_INLINE uintptr_t atomic_adduintptr(volatile uintptr_t *p, intptr_t d)
{
	return AO_fetch_and_add_full(AOP(p), (AO_t)d) + (uintptr_t)d;
}
GORT_INLINE int atomic_casuintptr(volatile uintptr_t *p, uintptr_t old, uintptr_t new_)
{
	return AO_compare_and_swap_full(AOP(p), old, new_);
}
GORT_INLINE uintptr_t atomic_xchguintptr(volatile uintptr_t *p, uintptr_t v)
{
	uintptr_t old;
	do
		old = AO_load(AOP(p));
	while (!AO_compare_and_swap_full(AOP(p), old, v));
	return old;
}
GORT_INLINE uintptr_t atomic_anduintptr(volatile uintptr_t *p, uintptr_t m)
{
	uintptr_t old;
	do
		old = AO_load(AOP(p));
	while (!AO_compare_and_swap_full(AOP(p), old, old & m));
	return old;
}
GORT_INLINE uintptr_t atomic_oruintptr(volatile uintptr_t *p, uintptr_t m)
{
	uintptr_t old;
	do
		old = AO_load(AOP(p));
	while (!AO_compare_and_swap_full(AOP(p), old, old | m));
	return old;
}
GORT_INLINE void *atomic_loadp(void *const volatile *p)
{
	return (void *)AO_load_full(AOP(p));
}
GORT_INLINE void atomic_storep(void *volatile *p, void *v)
{
	AO_store_full(AOP(p), (AO_t)v);
}
GORT_INLINE void *atomic_loadacqp(void *const volatile *p)
{
	return (void *)AO_load_acquire(AOP(p));
}
GORT_INLINE void atomic_storerelp(void *volatile *p, void *v)
{
	AO_store_release(AOP(p), (AO_t)v);
}
/* A full memory barrier (Go: publicationBarrier's big brother). */
GORT_INLINE void atomic_fence(void)
{
	AO_nop_full();
}
GORT_INLINE int atomic_casp(void *volatile *p, void *old, void *new_)
{
	return AO_compare_and_swap_full(AOP(p), (AO_t)old, (AO_t)new_);
}

/* --- 64-bit words: two implementations, both always compiled where the
 * target allows, so tests and benchmarks can compare them in one binary.
 * The exported gort_atomic_*64 names are aliases of the backend the build
 * chose (see atomic64_spin.c and atomic64_native.c).
 *
 * The spinlock functions are the only code in gort that runs with an
 * atomic64 lock held.  They are real functions, never inlined, and live in
 * the linker section GORT_ATOMIC_SECTION, so gort_pc_in_atomic() can tell a
 * PC inside them even in a stripped executable. */
#define GORT_ATOMIC_SECTION "gort_atomic_text"

/* Export target under the public name too: same code, same address. */
#define GORT_EXPORT_ALIAS(name, target) \
	extern __typeof__(target) name __attribute__((alias(#target), visibility("default")));

uint64_t gort_atomic_spin_load64(const volatile uint64_t *p);
void     gort_atomic_spin_store64(volatile uint64_t *p, uint64_t v);
uint64_t gort_atomic_spin_add64(volatile uint64_t *p, int64_t d);
int      gort_atomic_spin_cas64(volatile uint64_t *p, uint64_t old, uint64_t new_);
uint64_t gort_atomic_spin_xchg64(volatile uint64_t *p, uint64_t v);
uint64_t gort_atomic_spin_and64(volatile uint64_t *p, uint64_t m);
uint64_t gort_atomic_spin_or64(volatile uint64_t *p, uint64_t m);

/* Index of the spinlock that guards the word at p (tests, benchmarks and
 * the deadlock diagnosis want to know which words share a lock). */
unsigned gort_atomic_lockindex(const volatile void *p);

#if GORT_DEBUG_RUNTIME
/* Debug runtime (atomic64_spin.c): set gort_atomic_inject to a signal
 * number and the next spinlock operation on this thread raises it inside
 * its critical section; the hook is called, instead of spinning forever,
 * when a thread wants an atomic64 lock it holds itself. */
extern __thread volatile int gort_atomic_inject __attribute__((tls_model("initial-exec")));
extern void (*volatile gort_atomic_selfdeadlock_hook)(unsigned lockindex);
void gort_atomic_spin_hold64(const volatile uint64_t *p, unsigned long spins);
#endif

/* The bounds of GORT_ATOMIC_SECTION.  The linker defines them as
 * __start_/__stop_gort_atomic_text; atomic64_spin.c copies them here so
 * that anyone who asks also links that file in (from a static library the
 * linker would otherwise leave it out, and the bounds with it). */
extern const char *const gort_atomic_text_lo, *const gort_atomic_text_hi;

/* Refuses a misaligned 64-bit word, Go-style: panic and traceback. */
__attribute__((noreturn, cold)) void gort_atomic_unaligned(const volatile void *p, const char *op);

/* How the package dies.  atomic is the lowest package and may call no
 * other (docs/HACKING.md, "Layers"), yet two of its errors are fatal: a
 * misaligned word (a panic, as in Go) and, in a debug runtime, a thread
 * taking a lock it holds (a throw).  It dies through these two, which
 * package runtime points at gort_runtime_panicf and gort_runtime_throwf
 * from a constructor, before main: traceback, atdie hooks, exit status
 * 2.  Until then they hold atomic's last resort, which writes the
 * message unformatted and exits with status 2.  Neither returns.
 * Written once at start-up, read-only after; async-signal-safe. */
extern void (*gort_atomic_panicf)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern void (*gort_atomic_throwf)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#if GORT_ATOMIC64_NATIVE_AVAILABLE
#define AO64(p) ((volatile AO_t *)(p))

/* On the native backend a 64-bit word is an AO_t.  The inline forms do not
 * check alignment: the runtime's own 64-bit fields are aligned by their
 * types; the exported functions check for user code. */
GORT_INLINE uint64_t native_load64(const volatile uint64_t *p)
{
	return AO_load_full(AO64(p));
}
GORT_INLINE void native_store64(volatile uint64_t *p, uint64_t v)
{
	AO_store_full(AO64(p), v);
}
GORT_INLINE uint64_t native_add64(volatile uint64_t *p, int64_t d)
{
	return AO_fetch_and_add_full(AO64(p), (AO_t)d) + (uint64_t)d;
}
GORT_INLINE int native_cas64(volatile uint64_t *p, uint64_t old, uint64_t new_)
{
	return AO_compare_and_swap_full(AO64(p), old, new_);
}
GORT_INLINE uint64_t native_xchg64(volatile uint64_t *p, uint64_t v)
{
	return atomic_xchguintptr((volatile uintptr_t *)p, v);
}
GORT_INLINE uint64_t native_and64(volatile uint64_t *p, uint64_t m)
{
	return atomic_anduintptr((volatile uintptr_t *)p, m);
}
GORT_INLINE uint64_t native_or64(volatile uint64_t *p, uint64_t m)
{
	return atomic_oruintptr((volatile uintptr_t *)p, m);
}

/* The same, as out-of-line functions (the exported names alias them on the
 * native backend; benchmarks call them to compare like with like). */
uint64_t gort_atomic_native_load64(const volatile uint64_t *p);
void     gort_atomic_native_store64(volatile uint64_t *p, uint64_t v);
uint64_t gort_atomic_native_add64(volatile uint64_t *p, int64_t d);
int      gort_atomic_native_cas64(volatile uint64_t *p, uint64_t old, uint64_t new_);
uint64_t gort_atomic_native_xchg64(volatile uint64_t *p, uint64_t v);
uint64_t gort_atomic_native_and64(volatile uint64_t *p, uint64_t m);
uint64_t gort_atomic_native_or64(volatile uint64_t *p, uint64_t m);
#endif

#if GORT_ATOMIC64_SPINLOCK
#define atomic_load64  gort_atomic_spin_load64
#define atomic_store64 gort_atomic_spin_store64
#define atomic_add64   gort_atomic_spin_add64
#define atomic_cas64   gort_atomic_spin_cas64
#define atomic_xchg64  gort_atomic_spin_xchg64
#define atomic_and64   gort_atomic_spin_and64
#define atomic_or64    gort_atomic_spin_or64
#else
#define atomic_load64  native_load64
#define atomic_store64 native_store64
#define atomic_add64   native_add64
#define atomic_cas64   native_cas64
#define atomic_xchg64  native_xchg64
#define atomic_and64   native_and64
#define atomic_or64    native_or64
#endif

#endif /* GORT_ATOMIC_ATOMIC_H */
