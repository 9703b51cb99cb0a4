/*
 * atomic64_spin.c -- 64-bit atomics emulated with spinlocks.
 *
 * A 32-bit MIPS CPU has no instruction that reads or writes 64 bits at
 * once, so Go (runtime/internal/atomic/atomic_mipsx.go) emulates every
 * 64-bit operation: take a spinlock, do the plain read-modify-write as two
 * 32-bit halves, release the lock.  As long as every access to the word
 * goes through the lock, nobody sees half of an update.
 *
 * The lock table.  Go keeps one lock for all 64-bit words in the process.
 * That is simple, but two threads touching unrelated counters then fight
 * over one cache line.  gort keeps GORT_ATOMIC64_LOCKS locks (a power of
 * two, 64 by default), each alone on its own cache line, and picks one by
 * hashing the address of the word's cache line:
 *
 *     lock = locks[(addr >> 6) * 0x9E3779B9 >> (32 - log2(N))]
 *
 * Fibonacci hashing spreads neighbouring lines over the whole table.  A
 * word only ever maps to one lock, which is all correctness needs; two
 * words sharing a lock merely contend.  Words in one cache line share a
 * lock on purpose: they already share the line, so a second lock would buy
 * nothing.  Like Linux's lib/atomic64.c, this needs no more than a few
 * dozen locks: contention comes from the number of CPUs, not of words.
 *
 * Building with -Datomic64_locks=1 gives Go's layout, every word behind one
 * lock.  The deadlock suite wants that: there the signal handler and the
 * code it interrupted must meet on the same lock.
 *
 * The lock word is a 32-bit int taken with a 32-bit CAS (ll/sc on MIPS)
 * that is a full barrier, and released with a release store.  Go's MIPS
 * code fences the release too; it need not: every other access to the
 * word waits on the lock, so the emulated operations stay sequentially
 * consistent alongside the native ones (see unlock()).
 *
 * Why this file is delicate.  Each function below holds a lock for a few
 * instructions.  A signal handler that runs on the same thread during
 * those instructions and itself calls any 64-bit atomic will spin forever
 * on a lock its own thread holds (golang/go#20146).  Hence every function
 * that can hold the lock is noinline and lives in GORT_ATOMIC_SECTION, so
 * that a handler can ask gort_pc_in_atomic(interrupted pc) and stay away.
 * For the same reason they are not instrumented by the sanitizers: a call
 * into the sanitizer runtime with the lock held would put the PC outside
 * this section.
 */
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomic/atomic.h"

#define CACHE_LINE 64

struct lock64 {
	/* 0: free.  Held: 1, or in a debug runtime the owner thread's id, so
	 * that a thread about to spin on a lock it holds itself -- a signal
	 * handler that interrupted the owner: golang/go#20146 -- is caught
	 * and diagnosed instead of hanging.  Taken by CAS. */
	volatile unsigned word;
	char pad[CACHE_LINE - sizeof(unsigned)];
} __attribute__((aligned(CACHE_LINE)));

static struct lock64 locks[GORT_ATOMIC64_LOCKS];

extern const char __start_gort_atomic_text[] __attribute__((visibility("hidden")));
extern const char __stop_gort_atomic_text[] __attribute__((visibility("hidden")));
const char *const gort_atomic_text_lo = __start_gort_atomic_text;
const char *const gort_atomic_text_hi = __stop_gort_atomic_text;

_Static_assert((GORT_ATOMIC64_LOCKS & (GORT_ATOMIC64_LOCKS - 1)) == 0,
	"GORT_ATOMIC64_LOCKS must be a power of two");

static inline unsigned lock_index(const volatile void *p)
{
#if GORT_ATOMIC64_LOCKS == 1
	(void)p;
	return 0;
#else
	uint32_t line = (uint32_t)((uintptr_t)p / CACHE_LINE);
	return (line * 0x9E3779B9u) >> (32 - __builtin_ctz(GORT_ATOMIC64_LOCKS));
#endif
}

unsigned gort_atomic_lockindex(const volatile void *p)
{
	return lock_index(p);
}

#if GORT_DEBUG_RUNTIME
/* --- debug runtime: owners, self-deadlock, injection -----------------------
 * The thread's id, cached (a system call the first time, before any lock
 * is taken). */
static __thread unsigned self_tid __attribute__((tls_model("initial-exec")));

static inline unsigned owner_id(void)
{
	if (__builtin_expect(!self_tid, 0))
		self_tid = (unsigned)syscall(SYS_gettid);
	return self_tid;
}

void (*volatile gort_atomic_selfdeadlock_hook)(unsigned lockindex);

static __attribute__((noinline, cold)) void selfdeadlock(struct lock64 *l)
{
	void (*hook)(unsigned) = gort_atomic_selfdeadlock_hook;
	if (hook)
		hook((unsigned)(l - locks));   /* the profiler explains, and exits */
	gort_atomic_throwf("atomic64 lock %u taken twice by thread %u", (unsigned)(l - locks), self_tid);
	_exit(2);   /* not reached: a throw does not return */
}

/* Injection: the next atomic64 operation on this thread sends itself
 * gort_atomic_inject (a signal number) from inside its critical section,
 * with a raw system call, so that the signal is delivered with the PC on
 * the instruction after it -- inside this file's section, lock held. */
__thread volatile int gort_atomic_inject __attribute__((tls_model("initial-exec")));

static inline __attribute__((always_inline)) void inject(void)
{
	int sig = gort_atomic_inject;
	if (__builtin_expect(!sig, 1))
		return;
	gort_atomic_inject = 0;
	long tid = (long)self_tid, nr = SYS_tkill;
#if defined(__x86_64__)
	long ret;
	__asm__ __volatile__("syscall" : "=a"(ret) : "0"(nr), "D"(tid), "S"((long)sig)
		: "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = tid;
	register long x1 __asm__("x1") = sig;
	__asm__ __volatile__("svc #0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
#elif defined(__mips__)
	register long v0 __asm__("$2") = nr;
	register long a0 __asm__("$4") = tid;
	register long a1 __asm__("$5") = sig;
	register long a3 __asm__("$7");
	__asm__ __volatile__(".set push\n.set noreorder\nsyscall\nnop\n.set pop"
		: "+r"(v0), "=r"(a3) : "r"(a0), "r"(a1)
		: "$1", "$3", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
		  "$24", "$25", "hi", "lo", "memory");
#endif
}
#else
static inline unsigned owner_id(void) { return 1; }
static inline void inject(void) {}
#endif

/* Spin until the lock is ours.  After a short burst of spinning, give the
 * CPU away: the holder may have been preempted, and on a 2-core machine
 * burning our whole time slice would only delay it.  sched_yield is a
 * plain system call, so this stays async-signal-safe. */
static inline __attribute__((always_inline)) struct lock64 *lock(const volatile void *p)
{
	struct lock64 *l = &locks[lock_index(p)];
	unsigned me = owner_id();
	for (unsigned spins = 0; !AO_int_compare_and_swap_full(&l->word, 0, me); spins++) {
#if GORT_DEBUG_RUNTIME
		if (l->word == me)
			selfdeadlock(l);
#endif
		if (spins < 64)
			cpu_relax();
		else
			sched_yield();
	}
	inject();
	return l;
}

/* A release store is enough to let go: the CAS that takes a lock is a full
 * barrier, so no later access of this thread can be observed before it,
 * and an access to the protected word can only be observed by someone who
 * has seen this store. */
static inline __attribute__((always_inline)) void unlock(struct lock64 *l)
{
	AO_int_store_release(&l->word, 0);
}

/* Refuse a misaligned word, then touch it: a bad pointer must fault here,
 * before the lock is taken, or the fault's handler -- and with it the
 * panic that reports it -- would run with an atomic64 lock held.  (Go's
 * lockAndCheck dereferences the word first for the same reason.) */
static inline __attribute__((always_inline)) void check_aligned(const volatile void *p, const char *op)
{
	if ((uintptr_t)p & 7)
		gort_atomic_unaligned(p, op);
	(void)*(const volatile uint32_t *)p;
}

#define ATOMIC64 __attribute__((noinline, used, section(GORT_ATOMIC_SECTION), \
	no_sanitize("address", "undefined")))

/* Inside the lock, the word is read and written as plain memory; volatile
 * keeps the compiler from caching it across the lock's barriers. */
#define PLAIN(p) (*(volatile uint64_t *)(p))

ATOMIC64 uint64_t gort_atomic_spin_load64(const volatile uint64_t *p)
{
	check_aligned(p, "load64");
	struct lock64 *l = lock(p);
	uint64_t v = PLAIN(p);
	unlock(l);
	return v;
}

ATOMIC64 void gort_atomic_spin_store64(volatile uint64_t *p, uint64_t v)
{
	check_aligned(p, "store64");
	struct lock64 *l = lock(p);
	PLAIN(p) = v;
	unlock(l);
}

ATOMIC64 uint64_t gort_atomic_spin_add64(volatile uint64_t *p, int64_t d)
{
	check_aligned(p, "add64");
	struct lock64 *l = lock(p);
	uint64_t v = PLAIN(p) + (uint64_t)d;
	PLAIN(p) = v;
	unlock(l);
	return v;
}

ATOMIC64 int gort_atomic_spin_cas64(volatile uint64_t *p, uint64_t old, uint64_t new_)
{
	check_aligned(p, "cas64");
	struct lock64 *l = lock(p);
	int ok = PLAIN(p) == old;
	if (ok)
		PLAIN(p) = new_;
	unlock(l);
	return ok;
}

ATOMIC64 uint64_t gort_atomic_spin_xchg64(volatile uint64_t *p, uint64_t v)
{
	check_aligned(p, "xchg64");
	struct lock64 *l = lock(p);
	uint64_t old = PLAIN(p);
	PLAIN(p) = v;
	unlock(l);
	return old;
}

ATOMIC64 uint64_t gort_atomic_spin_and64(volatile uint64_t *p, uint64_t m)
{
	check_aligned(p, "and64");
	struct lock64 *l = lock(p);
	uint64_t old = PLAIN(p);
	PLAIN(p) = old & m;
	unlock(l);
	return old;
}

ATOMIC64 uint64_t gort_atomic_spin_or64(volatile uint64_t *p, uint64_t m)
{
	check_aligned(p, "or64");
	struct lock64 *l = lock(p);
	uint64_t old = PLAIN(p);
	PLAIN(p) = old | m;
	unlock(l);
	return old;
}

#if GORT_DEBUG_RUNTIME
/* Hold the lock of p's word for `spins` iterations: the deadlock suite's
 * way to make one M hold an atomic64 lock while another takes SIGPROF. */
ATOMIC64 void gort_atomic_spin_hold64(const volatile uint64_t *p, unsigned long spins)
{
	check_aligned(p, "hold64");
	struct lock64 *l = lock(p);
	for (volatile unsigned long i = 0; i < spins; i++)
		;
	unlock(l);
}
#endif

#if GORT_ATOMIC64_SPINLOCK
/* This build's 64-bit atomics are these: export them under the public
 * names.  An alias is the same code at the same address, so a PC in
 * gort_atomic_add64 is a PC in this section. */
GORT_EXPORT_ALIAS(gort_atomic_load64, gort_atomic_spin_load64)
GORT_EXPORT_ALIAS(gort_atomic_store64, gort_atomic_spin_store64)
GORT_EXPORT_ALIAS(gort_atomic_add64, gort_atomic_spin_add64)
GORT_EXPORT_ALIAS(gort_atomic_cas64, gort_atomic_spin_cas64)
GORT_EXPORT_ALIAS(gort_atomic_xchg64, gort_atomic_spin_xchg64)
GORT_EXPORT_ALIAS(gort_atomic_and64, gort_atomic_spin_and64)
GORT_EXPORT_ALIAS(gort_atomic_or64, gort_atomic_spin_or64)
#endif
