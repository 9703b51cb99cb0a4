/*
 * deadlock_suite.c -- gort-deadlock-suite: a catalog of signal-safety
 * hazards around the CPU profiler, each reproduced on purpose, each run in
 * a child process under a watchdog, with a table of what happened.
 *
 *     gort-deadlock-suite [--list] [--only NAME] [--fix=on|off|both]
 *                         [--runs N] [--json FILE] [--timeout SECONDS]
 *
 * For every scenario the fix-on run must pass (no hang, an exact ledger);
 * where a scenario has a hazard the fix exists for, the fix-off run must
 * reproduce it (a suite that cannot fail proves nothing), every time.  The
 * exit status is non-zero if anything did otherwise.  docs/deadlocks.md
 * describes each scenario and the incident it mirrors.
 *
 * Deterministic delivery.  The atomic scenarios do not wait for luck: in a
 * debug runtime (-Ddebug_runtime=true) the atomic package sends SIGPROF to
 * its own thread from inside the critical section, so the handler always
 * interrupts code that holds the lock; with the fix off, the lock records
 * its owner and the runtime diagnoses the self-deadlock at once:
 *
 *   deadlock: SIGPROF handler on M0 wants atomic64 lock 0 held by the
 *   interrupted gort_atomic_add64+0x10b
 *
 * The watchdog (a timeout per child) is the net for hangs that cannot be
 * seen that way; it then says which threads were stuck.
 *
 * No scenario counts on an idle machine.  Where a scenario needs so many
 * signals, it asks for CPU time, not wall time (the timers tick on CPU
 * time, and a busy machine stretches the wall clock); where it needs a
 * state, it waits for the state (a buffer that has overflowed, a signal
 * that was injected) rather than for a time in which it usually happens.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "prof/prof.h"
#include "runtime/sigctxt.h"
#include "sched/sched.h"

extern volatile uint32_t gort_sched_preempt_why[5];

/* Under qemu-user (a cross build) the cases ask for fewer events. */
#if GORT_TEST_EMULATED
#define SCALE 10
#else
#define SCALE 1
#endif

/* ------------------------------------------------------------------------
 * What a scenario is.
 * ---------------------------------------------------------------------- */

enum need { ANY, SPINLOCK, SPINLOCK_DEBUG, HASHED_DEBUG, X86_64, DEBUG, TRAPFLAG };

struct scenario {
	const char *name;
	const char *what;
	enum need need;
	int hazard;              /* the fix-off run: 0 none, 1 must deadlock (the
	                            hazard is reproduced), 2 must run clean
	                            (this build's design has no hazard here) */
	int procs;               /* GORTMAXPROCS for the child */
	int (*run)(void *arg);   /* the child's gort main */
	void *arg;
	const char *env;         /* more GORTDEBUG settings, or NULL */
	/* Preemption's cases (15): */
	const char *expect;      /* what a fix-off run must print (NULL: the
	                            SIGPROF deadlock, or a hang) */
	uint32_t unsafe;         /* PREEMPT_* switched off in the fix-off run, for
	                            the goroutines the case makes (debug runtime) */
	void (*before)(void);    /* in the child, before gort starts */
	const char *offenv;      /* the GORTDEBUG setting that switches this
	                            case's fix off (NULL: lostatomic64=0) */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t process_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Let the other goroutines run until the process has used ns more CPU
 * time: however busy the machine, they get the same number of signals. */
static void sleep_cpu(int64_t ns)
{
	int64_t t0 = process_cpu_ns();
	while (process_cpu_ns() - t0 < ns)
		gort_sleep(10000000);
}

static volatile uint64_t sink;

static __attribute__((noinline)) void burn(int64_t ns)
{
	uint64_t x = 1;
	int64_t t0 = thread_cpu_ns();
	do {
		for (int i = 0; i < 20000; i++)
			x = x * 6364136223846793005ull + (uint64_t)i;
		sink = x;
	} while (thread_cpu_ns() - t0 < ns);
}

/* Every child ends with this line; the runner reads the ledger from it. */
static int report(void)
{
	struct gort_prof_stats st;
	if (gort_prof_stats(&st) != 0)
		return 1;
	printf("RESULT signals=%llu samples=%llu lostatomic=%llu lostfull=%llu\n",
		(unsigned long long)st.signals, (unsigned long long)st.samples,
		(unsigned long long)st.lost_atomic64, (unsigned long long)st.lost_full);
	if (st.signals != st.samples + st.lost_atomic64 + st.lost_full) {
		printf("FAIL: the ledger does not balance\n");
		return 1;
	}
	return 0;
}

/* Samples whose leaf function's name contains one of the words. */
static uint64_t leaf_samples(const char *const *words)
{
	uint64_t n = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			const struct gort_func *f = e->nstk ? gort_runtime_findfunc(e->stk[0]) : NULL;
			for (int i = 0; f && words[i]; i++)
				if (strstr(f->name, words[i])) {
					n += e->count;
					break;
				}
		}
	return n;
}

static int start(int hz)
{
	int err = gort_prof_start("/dev/null", hz);
	if (err)
		printf("FAIL: gort_prof_start: %s\n", strerror(-err));
	return err;
}

/* ------------------------------------------------------------------------
 * 1. SIGPROF inside each emulated 64-bit operation, injected.
 * ---------------------------------------------------------------------- */

enum op { LOAD, STORE, ADD, CAS, XCHG, AND, OR, NOPS };
static const char *const opnames[NOPS] = { "load", "store", "add", "cas", "xchg", "and", "or" };

static volatile uint64_t words[64 * 8 * 8] __attribute__((aligned(64)));

static __attribute__((unused)) void do_op(int op, volatile uint64_t *w)
{
	switch (op) {
	case LOAD: sink = gort_atomic_load64(w); break;
	case STORE: gort_atomic_store64(w, 7); break;
	case ADD: gort_atomic_add64(w, 1); break;
	case CAS: gort_atomic_cas64(w, sink, sink + 1); break;   /* sink: the value read before */
	case XCHG: gort_atomic_xchg64(w, 3); break;
	case AND: gort_atomic_and64(w, 0xff); break;
	case OR: gort_atomic_or64(w, 0x100); break;
	}
}

#define INJECTIONS 50

struct atomic_arg {
	int op;
	int same_lock;   /* the word shares the profile buffer's lock */
};

static int atomic_run(void *argp)
{
	const struct atomic_arg *a = argp;
#if GORT_DEBUG_RUNTIME && GORT_ATOMIC64_SPINLOCK
	if (start(1))   /* 1 Hz: the timer stays out of it; the signals are ours */
		return 1;
	struct profbuf *b = gort_sched_m->profbuf;
	unsigned want = gort_atomic_lockindex(&b->w);
	unsigned reader = gort_atomic_lockindex(&b->r);   /* the handler loads both */
	volatile uint64_t *w = NULL;
	for (size_t i = 0; i < sizeof words / sizeof words[0] && !w; i += 8) {
		unsigned k = gort_atomic_lockindex(&words[i]);
		if (a->same_lock ? k == want : k != want && k != reader)
			w = &words[i];
	}
	if (!w) {
		printf("FAIL: no word %s the buffer's lock\n", a->same_lock ? "shares" : "avoids");
		return 1;
	}
	printf("word %p on lock %u, the buffer's on %u\n", (void *)w, gort_atomic_lockindex(w), want);
	for (int i = 0; i < INJECTIONS; i++) {
		/* a CAS needs the old value: read it first, then inject into
		 * the CAS itself */
		if (a->op == CAS)
			sink = gort_atomic_load64(w);
		gort_atomic_inject = SIGPROF;
		do_op(a->op, w);
	}
	gort_prof_stop();
	struct gort_prof_stats st;
	gort_prof_stats(&st);
	if (gort_prof_fix && st.lost_atomic64 < INJECTIONS) {
		printf("FAIL: %d signals landed in %s64, only %llu counted as lost there\n", INJECTIONS,
			opnames[a->op], (unsigned long long)st.lost_atomic64);
		return 1;
	}
	return report();
#else
	(void)a;
	printf("FAIL: needs a debug runtime with spinlock atomics\n");
	return 1;
#endif
}

/* ------------------------------------------------------------------------
 * 2. The seed: TestAtomicLoadStore64 -- with the signal made certain.
 * ---------------------------------------------------------------------- */

static volatile uint64_t *flag;
static gort_chan *done;
static volatile uint32_t seed_injected;   /* the spinner's load has carried its signal */

static void seed_spinner(void *arg)
{
	(void)arg;
	int64_t t0 = gort_now();
	int injected = 0;
	while (gort_atomic_load64(flag) == 0) {
#if GORT_DEBUG_RUNTIME
		/* Go's test hopes a SIGPROF lands in the load; after 10 ms this
		 * one makes sure of it, once -- and main does not set the flag
		 * before it has (a spinner that first ran late would otherwise
		 * see the flag before its 10 ms were up). */
		if (injected)
			atomic_store32(&seed_injected, 1);
		if (!injected && gort_now() - t0 > 10000000) {
			gort_atomic_inject = SIGPROF;
			injected = 1;
		}
#endif
		gort_yield();
	}
	(void)injected, (void)t0;
	int v = 1;
	gort_chan_send(done, &v);
}

static int seed_run(void *arg)
{
	(void)arg;
	if (start(1000))
		return 1;
	/* The flag shares the lock of this M's buffer (any word does, with
	 * Go's single lock; with hashed locks, one in 64 does).  One P keeps
	 * the spinner on this M. */
	unsigned want = gort_atomic_lockindex(&gort_sched_m->profbuf->w);
	for (size_t i = 0; i < sizeof words / sizeof words[0] && !flag; i += 8)
		if (gort_atomic_lockindex(&words[i]) == want)
			flag = &words[i];
	done = gort_chan_make(sizeof(int), 1);
	gort_go(seed_spinner, NULL);
	gort_sleep(50000000);
	while (GORT_DEBUG_RUNTIME && !atomic_load32(&seed_injected))
		gort_sleep(1000000);
	gort_atomic_store64(flag, 1);
	int v;
	gort_chan_recv(done, &v);
	gort_prof_stop();
	return report();
}

/* ------------------------------------------------------------------------
 * 3. Several Ms hammering 64-bit atomics at 1 kHz, many goroutines.
 * ---------------------------------------------------------------------- */

static volatile uint32_t stop;
static gort_waitgroup wg;

/* Each scenario's goroutines run until stop is set, then leave wg.  (Every
 * scenario runs in a child process of its own, so stop is never reset.) */
static void stop_and_wait(void)
{
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&wg);
}

static void hammer(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	while (!atomic_load32(&stop)) {
		for (int i = 0; i < 64; i++) {
			gort_atomic_add64(&words[i * 8 + k % 8], 1);
			sink = gort_atomic_load64(&words[i * 8 + k % 8]);
		}
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static int hammer_run(void *arg)
{
	(void)arg;
	if (start(1000))
		return 1;
	gort_waitgroup_add(&wg, 16);
	for (uintptr_t k = 0; k < 16; k++)
		gort_go(hammer, (void *)k);
	/* With the fix off, give the hazard signals enough: with 64 hashed
	 * locks only one word in 64 shares an M's buffer lock. */
	sleep_cpu(gort_prof_fix ? 1500000000 : 8000000000);
	stop_and_wait();
	gort_prof_stop();
	return report();
}

/* ------------------------------------------------------------------------
 * 4. SIGPROF while another M holds the lock: wait, then write.
 * ---------------------------------------------------------------------- */

static void holder(void *arg)
{
	(void)arg;
#if GORT_DEBUG_RUNTIME && GORT_ATOMIC64_SPINLOCK
	while (!atomic_load32(&stop)) {
		gort_atomic_spin_hold64(&words[0], 200000);   /* some 100 us, lock held */
		burn(300000);   /* and 300 us without: a spinlock is not fair, and a
		                   holder that never let go would starve the rest */
		gort_yield();
	}
#endif
	gort_waitgroup_done(&wg);
}

static volatile uint32_t outside_ms;   /* CPU time outside_atomics has burned */

static __attribute__((noinline)) void outside_atomics(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop)) {
		burn(1000000);
		atomic_add32(&outside_ms, 1);
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static int other_m_run(void *arg)
{
	(void)arg;
	if (start(1000))
		return 1;
	gort_waitgroup_add(&wg, 2);
	gort_go(holder, NULL);
	gort_go(outside_atomics, NULL);
	/* 300 ms of its CPU time: some 75 of its signals at the kernel's
	 * 250 Hz, whatever else the machine is doing */
	while (atomic_load32(&outside_ms) < 300)
		gort_sleep(10000000);
	stop_and_wait();
	gort_prof_stop();
	/* the burner's samples were written, not lost: find them */
	const struct gort_func *f = gort_runtime_findfunc((uintptr_t)burn);
	uint64_t n = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next)
			for (int i = 0; i < e->nstk; i++)
				if (f && e->stk[i] - (i > 0) >= f->entry && e->stk[i] - (i > 0) < f->end) {
					n += e->count;
					break;
				}
	printf("INFO: %llu samples outside atomic64 code written while the other M held the lock\n",
		(unsigned long long)n);
	if (n == 0) {
		printf("FAIL: no sample of the goroutine outside atomic64 code was written\n");
		return 1;
	}
	return report();
}

/* ------------------------------------------------------------------------
 * 5. SIGPROF during context switches, and on the signal stack.
 * ---------------------------------------------------------------------- */

static void yielder(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop))
		gort_yield();
	gort_waitgroup_done(&wg);
}

static volatile uint32_t in_usr1;

static __attribute__((noinline)) void usr1_handler(int sig)
{
	(void)sig;
	atomic_store32(&in_usr1, 1);
	burn(20000000);   /* 20 ms of CPU on the signal stack: SIGPROF lands here */
	atomic_store32(&in_usr1, 0);
}

static int switch_run(void *arg)
{
	(void)arg;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = usr1_handler;
	sa.sa_flags = SA_ONSTACK;   /* SIGPROF stays unblocked inside */
	sigaction(SIGUSR1, &sa, NULL);
	if (start(1000))
		return 1;
	gort_waitgroup_add(&wg, 4);
	for (int i = 0; i < 4; i++)
		gort_go(yielder, NULL);
	for (int i = 0; i < 10; i++) {
		pthread_kill(pthread_self(), SIGUSR1);
		gort_sleep(10000000);
	}
	stop_and_wait();
	gort_prof_stop();
	/* samples in the context switch have the two-frame form */
	const struct gort_func *sw = gort_runtime_findfunc((uintptr_t)gort_sched_ctxswitch);
	const struct gort_func *h = gort_runtime_findfunc((uintptr_t)usr1_handler);
	uint64_t inswitch = 0, insig = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			if (sw && e->stk[0] >= sw->entry && e->stk[0] < sw->end) {
				inswitch += e->count;
				if (e->nstk != 2 || e->stk[1] != gort_prof_pc(PC_SYSTEM)) {
					printf("FAIL: a sample in the context switch has %d frames\n", e->nstk);
					return 1;
				}
			}
			for (int i = 0; i < e->nstk; i++)
				if (h && e->stk[i] - (i > 0) >= h->entry && e->stk[i] - (i > 0) < h->end)
					insig += e->count;
		}
	printf("INFO: %llu samples in the context switch, %llu on the signal stack in a SIGUSR1 handler\n",
		(unsigned long long)inswitch, (unsigned long long)insig);
	if (insig == 0) {
		printf("FAIL: no sample unwound through the SIGUSR1 handler on the signal stack\n");
		return 1;
	}
	return report();
}

/* ------------------------------------------------------------------------
 * 6. The reader draining, and a buffer that is full.
 * ---------------------------------------------------------------------- */

/* The reader is held off until each burner's buffer has refused a sample --
 * counted, not hoped for: a busy machine may give a burner too little CPU
 * between two drains to fill even 64 words.  Then the reader drains while
 * the writers go on. */
static volatile uint32_t overflowed;

/* This M's handler runs on this thread: a volatile read sees its count. */
static uint64_t lostfull_here(void)
{
	return *(volatile uint64_t *)&gort_sched_m->prof_lostfull;
}

static void burner(void *arg)
{
	(void)arg;
	while (lostfull_here() == 0)   /* never full: the watchdog says where */
		burn(1000000);
	/* The second to overflow lets the reader go.  (Two burners that share
	 * an M, one after the other, find it overflowed already: no waiting
	 * on each other.) */
	if (atomic_add32(&overflowed, 1) == 2)
		atomic_store32(&gort_prof_reader_hold, 0);
	burn(100000000);
	gort_waitgroup_done(&wg);
}

static int full_run(void *arg)
{
	(void)arg;
	atomic_store32(&gort_prof_reader_hold, 1);
	if (start(1000))
		return 1;
	gort_waitgroup_add(&wg, 2);
	gort_go(burner, NULL);
	gort_go(burner, NULL);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();
	struct gort_prof_stats st;
	gort_prof_stats(&st);
	if (st.lost_full == 0) {
		printf("FAIL: a 64-word buffer never filled\n");
		return 1;
	}
	printf("INFO: %llu signals lost to full buffers, in the profile as _LostProfileEvent\n",
		(unsigned long long)st.lost_full);
	return report();
}

/* ------------------------------------------------------------------------
 * 7. Start and stop in a loop, signals in flight, on many threads.
 * ---------------------------------------------------------------------- */

static void spinner(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop)) {
		burn(200000);
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static int startstop_run(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&wg, 8);
	for (int i = 0; i < 8; i++)
		gort_go(spinner, NULL);
	for (int i = 0; i < 200; i++) {
		if (start(5000))
			return 1;
		gort_sleep(1000000);
		gort_prof_stop();
		struct gort_prof_stats st;
		gort_prof_stats(&st);
		if (st.signals != st.samples + st.lost_atomic64 + st.lost_full) {
			printf("FAIL: round %d: the ledger does not balance\n", i);
			return 1;
		}
	}
	stop_and_wait();
	printf("INFO: 200 starts and stops at 5 kHz with 8 busy goroutines, every ledger exact\n");
	return report();
}

/* ------------------------------------------------------------------------
 * 8. SIGPROF inside malloc.  The suite links the malloc trap: a handler
 *    that allocated would be a fatal error.
 * ---------------------------------------------------------------------- */

static void mallocer(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop)) {
		void *p[64];
		for (int i = 0; i < 64; i++)
			p[i] = malloc((size_t)(16 + i * 24));
		for (int i = 0; i < 64; i++)
			free(p[i]);
		gort_yield();   /* gort does not preempt: let main's timer run */
	}
	gort_waitgroup_done(&wg);
}

static int malloc_run(void *arg)
{
	(void)arg;
	if (start(1000))
		return 1;
	gort_waitgroup_add(&wg, 2);
	gort_go(mallocer, NULL);
	gort_go(mallocer, NULL);
	gort_sleep(1000000000);
	stop_and_wait();
	gort_prof_stop();
	printf("INFO: %llu SIGPROFs landed inside the allocator; the handler allocated nothing\n",
		(unsigned long long)leaf_samples((const char *const[]){ "malloc", "free", "alloc", NULL }));
	return report();
}

/* ------------------------------------------------------------------------
 * 9. SIGPROF while the scheduler's locks are held.
 * ---------------------------------------------------------------------- */

static void nop(void *arg)
{
	(void)arg;
	gort_waitgroup_done(&wg);
}

static void churner(void *arg)
{
	gort_chan *c = arg;
	while (!atomic_load32(&stop)) {
		int v = 1;
		gort_select_case cs[2] = { { .c = c, .dir = GORT_SEND, .elem = &v },
			{ .c = c, .dir = GORT_RECV, .elem = &v } };
		gort_select(cs, 2, 0);
		gort_waitgroup_add(&wg, 1);
		gort_go(nop, NULL);
		gort_sleep(1000);
	}
	gort_waitgroup_done(&wg);
}

static int schedlock_run(void *arg)
{
	(void)arg;
	if (start(1000))
		return 1;
	gort_chan *c = gort_chan_make(sizeof(int), 4);
	gort_waitgroup_add(&wg, 6);
	for (int i = 0; i < 6; i++)
		gort_go(churner, c);
	gort_sleep(1000000000);
	stop_and_wait();
	gort_prof_stop();
	gort_chan_free(c);
	printf("INFO: %llu SIGPROFs landed in the scheduler, channels, select or timers\n",
		(unsigned long long)leaf_samples((const char *const[]){ "gort_sched", "gort_chan", "gort_select",
			"switch_out", "after_switch", "pick_local", "gort_go", "lock", NULL }));
	return report();
}

/* ------------------------------------------------------------------------
 * 10. SIGPROF while dlopen and dlclose run: the handler, the unwinder and
 *     the symbol table must never need the loader's lock.
 * ---------------------------------------------------------------------- */

static volatile uint32_t dlcycles;

static void *dl_thread(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop)) {
		void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
		if (h)
			dlclose(h);
		atomic_add32(&dlcycles, 1);
	}
	return NULL;
}

static void dl_goroutine(void *arg)
{
	(void)arg;
	while (!atomic_load32(&stop)) {
		void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
		if (h)
			dlclose(h);
		atomic_add32(&dlcycles, 1);
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static int dlopen_run(void *arg)
{
	(void)arg;
	if (start(1000))
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, dl_thread, NULL);
	gort_waitgroup_add(&wg, 2);
	gort_go(dl_goroutine, NULL);
	gort_go(dl_goroutine, NULL);
	gort_sleep(1000000000);
	stop_and_wait();
	pthread_join(t, NULL);
	gort_prof_stop();
	printf("INFO: %u dlopen+dlclose cycles on 3 threads under 1 kHz profiling\n", atomic_load32(&dlcycles));
	return report();
}


/* ------------------------------------------------------------------------
 * 10b. SIGPROF while an object is loaded and indexed (loader.index).
 *
 * A new object joins the symbol table as a new snapshot, published with
 * one pointer store (runtime/symtab.c); the snapshot it replaces may be
 * in use by a handler on another thread, and is freed only once no
 * reader is left in it.  The case holds a SIGPROF handler inside a
 * lookup -- the snapshot's pointer loaded, the snapshot not yet read (the
 * debug runtime's hook) -- while a plain thread dlopens a shared object
 * built without frame pointers and refreshes the table, then lets the
 * handler go on.  With the fix on the refresh leaves the old snapshot
 * for later and the walk finishes in it; with it off
 * (GORTDEBUG=symtabgrace=0) the refresh frees it at once and the
 * handler's next read finds it freed:
 *
 *   fatal error: symbol table: a snapshot was freed while a reader was in it
 *
 * Every step waits for a state, not a time: the handler is caught by a
 * goroutine that burns CPU until it is, and waits until the refresh is
 * over.  Then, with the fix on, goroutines run through the new object's
 * frames, 8 deep, under 2 kHz profiling: every sample taken in them must
 * have all 8 frames and the goroutine's root below them -- which only the
 * object's unwind table can give, as it keeps no frame pointers.
 * ---------------------------------------------------------------------- */

static void block_sigprof(void);
static volatile uint32_t li_armed, li_held, li_refreshed, li_burned;
static void *li_lib;
static long (*li_deep)(int, long (*)(void *), void *);
#define LI_DEPTH 8

static void li_hook(void)
{
	struct m *m = gort_sched_m;
	if (!m || !m->in_sighandler || !atomic_load32(&li_armed) || !atomic_cas32(&li_armed, 1, 0))
		return;
	atomic_store32(&li_held, 1);
	/* Wait for the refresh to be over (the other thread is not an M: it
	 * gets no SIGPROF and needs nothing of this one). */
	for (uint64_t spins = 0; !atomic_load32(&li_refreshed); spins++)
		if (spins > ((uint64_t)1 << 34))
			break;   /* the refresher is stuck: let the watchdog say so */
}

static const char *nofp_path(char *buf, size_t cap)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, cap, "%s/gort-deadlock-nofp.so", exe);
			if (access(buf, R_OK) == 0)
				return buf;
		}
	}
	return GORT_DEADLOCK_NOFP;
}

static void *li_refresher(void *arg)
{
	(void)arg;
	block_sigprof();
	while (!atomic_load32(&li_held))
		sched_yield();
	char buf[4200];
	const char *path = nofp_path(buf, sizeof buf);
	li_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!li_lib)
		printf("FAIL: dlopen %s: %s\n", path, dlerror());
	int r = gort_runtime_symtab_refresh();
	if (li_lib && r != 1)
		printf("FAIL: the refresh after dlopen made no new snapshot (%d)\n", r);
	atomic_store32(&li_refreshed, 1);
	return NULL;
}

static void li_burner(void *arg)
{
	(void)arg;
	while (!atomic_load32(&li_refreshed))
		atomic_add32(&li_burned, 1);
	gort_waitgroup_done(&wg);
}

static __attribute__((noinline)) long li_leaf(void *arg)
{
	(void)arg;
	int64_t t0 = thread_cpu_ns();
	volatile long x = 0;
	while (thread_cpu_ns() - t0 < 20000000 / SCALE)
		x++;
	return x & 1;
}

static __attribute__((noinline)) void li_goroutine(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		sink += (uint64_t)li_deep(LI_DEPTH, li_leaf, NULL);
	gort_waitgroup_done(&wg);
}

static int loader_index_run(void *arg)
{
	(void)arg;
	gort_runtime_symtab_hook = li_hook;
	if (start(2000))
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, li_refresher, NULL);
	atomic_store32(&li_armed, 1);
	gort_waitgroup_add(&wg, 1);
	gort_go(li_burner, NULL);
	gort_waitgroup_wait(&wg);
	pthread_join(t, NULL);
	gort_runtime_symtab_hook = NULL;
	if (!li_lib)
		return 1;
	li_deep = (long (*)(int, long (*)(void *), void *))dlsym(li_lib, "nofp_deep");
	if (!li_deep) {
		printf("FAIL: nofp_deep not found\n");
		return 1;
	}
	gort_waitgroup_add(&wg, 2);
	gort_go(li_goroutine, NULL);
	gort_go(li_goroutine, NULL);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();
	/* Every sample with li_leaf in it went through all 8 frames of the
	 * object, and reached the root. */
	const struct gort_func *deep = gort_runtime_findfunc((uintptr_t)li_deep);
	const struct gort_func *gof = gort_runtime_findfunc((uintptr_t)gort_sched_gostart);
	uint64_t inleaf = 0, whole = 0;
	char bad[600] = "";
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			int leaf = 0, ndeep = 0, root = 0;
			for (int i = 0; i < e->nstk; i++) {
				const struct gort_func *f = gort_runtime_findfunc(e->stk[i] - (i > 0));
				if (f && f->entry == (uintptr_t)li_leaf)
					leaf = 1;
				if (f && f == deep)
					ndeep++;
				if (f && f == gof && i == e->nstk - 1)
					root = 1;
			}
			if (!leaf)
				continue;
			inleaf += e->count;
			if (ndeep == LI_DEPTH && root)
				whole += e->count;
			else if (!bad[0])
				snprintf(bad, sizeof bad, "%d frames, %d of nofp_deep (want %d), root %s", e->nstk,
					ndeep, LI_DEPTH, root ? "yes" : "no");
		}
	printf("INFO: the handler was held in a lookup across the refresh; then %llu of %llu samples in "
		"the new object's frames had all %d of them and the root\n", (unsigned long long)whole,
		(unsigned long long)inleaf, LI_DEPTH);
	if (!deep || inleaf == 0 || whole != inleaf) {
		printf("FAIL: walks through the object loaded after start-up lost frames (%s)\n",
			bad[0] ? bad : "no samples in it");
		return 1;
	}
	return report();
}
/* ------------------------------------------------------------------------
 * 10c. SIGPROF at every instruction of the unwinder (unwind.single-step,
 *      x86-64: the trap flag).  A goroutine walks its own stack with the
 *      runtime's unwinder -- as a traceback, the goroutine profile or a
 *      SIGPROF that lands in another walk would -- single-stepped, and at
 *      each instruction the profiler's handler walks the stack again, from
 *      inside the first walk: through the unwinder's own prologues and
 *      epilogues, its pin on the symbol table, its lookups.  The unwinder
 *      keeps no state between calls and takes no lock, so a walk that
 *      interrupts a walk is just a walk: every one of them must reach the
 *      goroutine's root through uw_goroutine.  Nothing to switch off.
 * ---------------------------------------------------------------------- */

#if defined(__x86_64__)
static void trap_with(void (*fn)(int, siginfo_t *, void *));
static volatile int uw_stepping;
static uint64_t uw_traps;
static int uw_first_n;

static void uw_trap(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	ucontext_t *uc = ctx;
	if (!uw_stepping || ++uw_traps > 2000000) {
		uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
		return;
	}
	siginfo_t prof = *si;
	prof.si_signo = SIGPROF;
	prof.si_code = SI_TIMER;
	prof.si_overrun = 0;
	gort_prof_handler(SIGPROF, &prof, ctx);
}

static __attribute__((noinline)) void uw_walk(void)
{
	struct gort_frame f;
	uintptr_t pcs[64];
	struct g *gp = gort_sched_m->curg;
	gort_runtime_frame_caller(&f);
	uw_stepping = 1;
	__asm__ __volatile__("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
	int n = gort_runtime_unwind(f, gp->stack_lo - 256, gp->stack_hi, pcs, 64);
	uw_stepping = 0;
	__asm__ __volatile__("pushfq; andq $~0x100, (%%rsp); popfq" ::: "memory", "cc");
	uw_first_n = n;
}

static __attribute__((noinline)) void uw_goroutine(void *arg)
{
	(void)arg;
	uw_walk();
	gort_waitgroup_done(&wg);
}
#endif

static int unwind_step_run(void *arg)
{
	(void)arg;
#if defined(__x86_64__)
	trap_with(uw_trap);
	if (start(1))
		return 1;
	gort_waitgroup_add(&wg, 1);
	gort_go(uw_goroutine, NULL);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();
	const struct gort_func *gof = gort_runtime_findfunc((uintptr_t)gort_sched_gostart);
	const struct gort_func *own = gort_runtime_findfunc((uintptr_t)uw_goroutine);
	uint64_t walks = 0, whole = 0;
	const struct gort_func *leaves[64];
	int nleaves = 0;
	char bad[400] = "";
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			const struct gort_func *leaf = e->nstk ? gort_runtime_findfunc(e->stk[0]) : NULL;
			if (!leaf || (leaf->flags & FUNC_ATOMIC))
				continue;   /* counted, not walked: the #20146 fix */
			walks += e->count;
			int mine = 0, root = 0;
			for (int i = 1; i < e->nstk; i++) {
				const struct gort_func *f = gort_runtime_findfunc(e->stk[i] - 1);
				mine |= f == own;
				root |= f == gof && i == e->nstk - 1;
			}
			int k = 0;
			while (k < nleaves && leaves[k] != leaf)
				k++;
			if (k == nleaves && nleaves < 64)
				leaves[nleaves++] = leaf;
			if (mine && root)
				whole += e->count;
			else if (!bad[0])
				snprintf(bad, sizeof bad, "a walk from %s+%#lx ends after %d frames", leaf->name,
					(unsigned long)(e->stk[0] - leaf->entry), e->nstk);
		}
	printf("INFO: %llu instructions of a walk stepped, a SIGPROF at each; %llu of %llu walks from "
		"inside it, in %d functions (", (unsigned long long)uw_traps, (unsigned long long)whole,
		(unsigned long long)walks, nleaves);
	for (int k = 0; k < nleaves && k < 12; k++)
		printf("%s%s", k ? ", " : "", leaves[k]->name);
	printf("%s), reached the root\n", nleaves > 12 ? ", ..." : "");
	if (walks < 100 || whole != walks || uw_first_n < 3 || uw_traps > 2000000) {
		printf("FAIL: %s\n", bad[0] ? bad : "too few instructions stepped");
		return 1;
	}
	return report();
#else
	printf("FAIL: single-stepping is x86-64 only\n");
	return 1;
#endif
}

/* ------------------------------------------------------------------------
 * 11. fork while profiling: the child has no live profiler.
 * ---------------------------------------------------------------------- */

static volatile sig_atomic_t child_sigprofs;

static void count_sigprof(int sig)
{
	(void)sig;
	child_sigprofs++;
}

static int fork_run(void *arg)
{
	(void)arg;
	if (start(1000))
		return 1;
	burn(50000000);
	pid_t pid = fork();
	if (pid == 0) {
		/* the child: profiler off, no timer of the parent's, can start its own */
		struct gort_prof_stats st;
		if (gort_prof_stats(&st) == -EBUSY)
			_exit(10);
		signal(SIGPROF, count_sigprof);
		burn(100000000);
		if (child_sigprofs)
			_exit(11);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	burn(50000000);
	gort_prof_stop();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("FAIL: the forked child %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 10 ?
			"still thinks it is profiling" : WIFEXITED(status) && WEXITSTATUS(status) == 11 ?
			"received SIGPROF" : "died");
		return 1;
	}
	printf("INFO: the forked child ran 100 ms of CPU with no profiler and no SIGPROF\n");
	return report();
}

/* ------------------------------------------------------------------------
 * 12. Every instruction (x86-64): single-step each emulated operation with
 *     the trap flag and run the profiler's handler at every instruction
 *     inside the atomic package.
 * ---------------------------------------------------------------------- */

#if defined(__x86_64__)
static volatile int stepping;
static uintptr_t seen[NOPS][512];
static int nseen[NOPS];
static int step_op;
static uint64_t steps;

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	ucontext_t *uc = ctx;
	uintptr_t pc = sigctxt_pc(uc);
	if (!stepping) {
		uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
		return;
	}
	if (!gort_runtime_pc_in_atomic(pc))
		return;
	int i = 0;
	while (i < nseen[step_op] && seen[step_op][i] != pc)
		i++;
	if (i == nseen[step_op] && i < 512)
		seen[step_op][nseen[step_op]++] = pc;
	steps++;
	/* a SIGPROF at exactly this instruction, as a timer would send it */
	siginfo_t prof = *si;
	prof.si_signo = SIGPROF;
	prof.si_code = SI_TIMER;
	prof.si_overrun = 0;
	gort_prof_handler(SIGPROF, &prof, ctx);
}

static __attribute__((noinline)) void stepped(int op, volatile uint64_t *w)
{
	stepping = 1;
	__asm__ __volatile__("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
	do_op(op, w);
	stepping = 0;
	__asm__ __volatile__("pushfq; andq $~0x100, (%%rsp); popfq" ::: "memory", "cc");
}
#endif

#if defined(__x86_64__)
/* The single-step scenarios' SIGTRAP handler, on the signal stack. */
static void trap_with(void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTRAP, &sa, NULL);
}

#endif

static int step_run(void *arg)
{
	(void)arg;
#if defined(__x86_64__)
	trap_with(on_trap);
	if (start(1))
		return 1;
	for (step_op = 0; step_op < NOPS; step_op++) {
		sink = gort_atomic_load64(&words[0]);   /* the CAS's old value, unstepped */
		stepped(step_op, &words[0]);
	}
	gort_prof_stop();
	struct gort_prof_stats st;
	gort_prof_stats(&st);
	int total = 0;
	printf("INFO: instruction positions covered:");
	for (int op = 0; op < NOPS; op++) {
		printf(" %s64=%d", opnames[op], nseen[op]);
		total += nseen[op];
	}
	printf(" (total %d, %llu SIGPROFs, %llu counted in atomic64, fix held at each)\n", total,
		(unsigned long long)steps, (unsigned long long)st.lost_atomic64);
	if (gort_prof_fix && (st.lost_atomic64 != steps || total == 0)) {
		printf("FAIL: the fix did not hold at every instruction\n");
		return 1;
	}
	return report();
#else
	printf("FAIL: single-stepping is x86-64 only\n");
	return 1;
#endif
}

/* ------------------------------------------------------------------------
 * 13. A SIGPROF storm while Ms sit in epoll_wait.
 *
 * An M blocked in epoll_wait uses no CPU, so its own CPU-time timer never
 * fires there: only a process-wide timer (the setitimer fallback), or a
 * signal sent on purpose, finds it.  A storm thread sends SIGPROF by hand
 * (tgkill) to every M, many thousand times a second, while goroutines
 * are parked on sockets and one M waits in the poller.  epoll_wait is
 * never restarted after a handler (SA_RESTART or not): every signal that
 * lands there makes it return EINTR, and the poller must then look
 * again -- with the descriptors and the timer it was watching -- rather
 * than lose what arrives meanwhile.
 *
 * What it checks: byte by byte, data written by a plain thread (the
 * outside world) wakes its reader, each byte written only once the
 * previous one was read, so that every arrival needs a wake-up; sleeps
 * and read deadlines that expire during the storm still end, never
 * early; the storm goes on until it has hit the Ms thousands of times
 * while one of them was polling (a state, not a time), and the profile
 * must show samples taken inside epoll_wait, each an EINTR the poller
 * survived; the ledger balances.  The storm goes on while the profiler
 * stops, and ends only after: signals in flight across gort_prof_stop,
 * as prof.start-stop-loop has them from the timers.  A lost wake-up is a
 * hang: the watchdog kills it, and storm_watch has said first how far
 * each part got, with every goroutine's stack.
 * ---------------------------------------------------------------------- */

#define STORM_READERS 8
#define STORM_ROUNDS 150
#define STORM_SLEEPS 300
#define STORM_DEADLINES 100
#define STORM_POLLED 3000      /* sweeps made while an M polled, at least */

static int storm_sv[STORM_READERS + 2][2];   /* readers', the deadline's, the idler's */
static volatile uint32_t storm_got[STORM_READERS];
static volatile uint32_t storm_done, storm_fail;
static volatile uint32_t storm_sent, storm_polled;
static volatile uint32_t storm_slept, storm_timedout, storm_fed;   /* progress, for a hang's report */
static const char *volatile storm_stage = "starting";
static int child_timeout_s = 20;   /* --timeout: main sets it, the fork inherits it */

/* Say so at once: a failure can leave a part waiting for another, and a
 * child the watchdog kills leaves nothing buffered behind. */
static void storm_failed(void)
{
	fflush(stdout);
	atomic_store32(&storm_fail, 1);
}

static void block_sigprof(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *storm_thread(void *arg)
{
	(void)arg;
	block_sigprof();   /* the storm is for gort's threads */
	pid_t pid = getpid();
	while (!atomic_load32(&storm_done)) {
		int polling = atomic_load32(&gort_sched.polling) != 0;
		for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink) {
			int tid = *(volatile int *)&m->tid;
			if (tid && syscall(SYS_tgkill, pid, tid, SIGPROF) == 0)
				atomic_add32(&storm_sent, 1);
		}
		if (polling)
			atomic_add32(&storm_polled, 1);
		/* a breath between sweeps: a storm, not a livelock of the CPUs */
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The outside world: byte r to reader i once it has read r bytes. */
static void *storm_feeder(void *arg)
{
	(void)arg;
	block_sigprof();
	for (uint32_t r = 0; r < STORM_ROUNDS; r++)
		for (int i = 0; i < STORM_READERS; i++) {
			while (atomic_load32(&storm_got[i]) < r) {
				if (atomic_load32(&storm_fail))
					return NULL;   /* that reader has given up */
				struct timespec ts = { 0, 20000 };
				nanosleep(&ts, NULL);
			}
			unsigned char b = (unsigned char)(r * 7 + (uint32_t)i);
			if (write(storm_sv[i][1], &b, 1) != 1) {
				storm_failed();
				return NULL;
			}
			atomic_add32(&storm_fed, 1);
		}
	return NULL;
}

static void storm_reader(void *arg)
{
	int i = (int)(intptr_t)arg;
	for (uint32_t r = 0; r < STORM_ROUNDS; r++) {
		unsigned char b = 0;
		/* half wait for ever, half with a deadline that must not pass */
		int64_t dl = i & 1 ? GORT_FOREVER : gort_now() + 60000000000LL;
		ssize_t n = gort_read(storm_sv[i][0], &b, 1, dl);
		if (n != 1 || b != (unsigned char)(r * 7 + (uint32_t)i)) {
			printf("FAIL: reader %d, byte %u: read returned %zd (%s), byte %u\n", i, r, n,
				n < 0 ? gort_strerror((int)n) : "", b);
			storm_failed();
			break;
		}
		atomic_store32(&storm_got[i], r + 1);
	}
	gort_waitgroup_done(&wg);
}

static void storm_sleeper(void *arg)
{
	(void)arg;
	for (int k = 0; k < STORM_SLEEPS; k++) {
		int64_t t = gort_now();
		gort_sleep(200000);
		if (gort_now() < t + 200000) {
			printf("FAIL: a 200 us sleep returned after %lld ns\n", (long long)(gort_now() - t));
			storm_failed();
		}
		atomic_add32(&storm_slept, 1);
	}
	gort_waitgroup_done(&wg);
}

static void storm_deadliner(void *arg)
{
	(void)arg;
	char c;
	for (int k = 0; k < STORM_DEADLINES; k++) {
		int64_t dl = gort_now() + 1000000;
		ssize_t n = gort_read(storm_sv[STORM_READERS][0], &c, 1, dl);
		if (n != -ETIMEDOUT || gort_now() < dl) {
			printf("FAIL: a read with nothing to read and a 1 ms deadline returned %zd after %lld ns "
				"early\n", n, (long long)(dl - gort_now()));
			storm_failed();
		}
		atomic_add32(&storm_timedout, 1);
	}
	gort_waitgroup_done(&wg);
}

/* A hang is the watchdog's to report, but it can only say which threads
 * ran: shortly before it kills the child, say how far each part got, and
 * have the runtime print every goroutine (SIGQUIT).  (The longest passing
 * run under qemu and two CPU hogs takes under 5 s of the 20.) */
static void *storm_watch(void *arg)
{
	(void)arg;
	block_sigprof();
	int after = child_timeout_s > 8 ? child_timeout_s - 4 : child_timeout_s / 2 + 1;
	struct timespec ts = { after, 0 };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
	printf("STUCK: after %d s: bytes fed %u of %d, read:", after, atomic_load32(&storm_fed),
		STORM_READERS * STORM_ROUNDS);
	for (int i = 0; i < STORM_READERS; i++)
		printf(" %u", atomic_load32(&storm_got[i]));
	printf("; sleeps %u of %d, deadlines %u of %d; sweeps %u while polling, %u signals; an M "
		"polling now: %u\n", atomic_load32(&storm_slept), STORM_SLEEPS, atomic_load32(&storm_timedout),
		STORM_DEADLINES, atomic_load32(&storm_polled), atomic_load32(&storm_sent),
		atomic_load32(&gort_sched.polling));
	printf("STUCK: main is %s; profiler state %u; handlers inside, per M:",
		(const char *)atomic_loadp((void *const volatile *)&storm_stage), atomic_load32(&gort_prof_state));
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink)
		printf(" M%lld(tid %d)=%u", (long long)m->id, m->tid, atomic_load32(&m->prof_inhandler));
	printf("\n");
	fflush(stdout);
	kill(getpid(), SIGQUIT);
	return NULL;
}

/* Parked on an empty socket for as long as the storm needs an M in the
 * poller: then one byte, one more wake-up in the storm. */
static void storm_idler(void *arg)
{
	(void)arg;
	char c;
	ssize_t n = gort_read(storm_sv[STORM_READERS + 1][0], &c, 1, GORT_FOREVER);
	if (n != 1) {
		printf("FAIL: the idler's read returned %zd (%s)\n", n, n < 0 ? gort_strerror((int)n) : "");
		storm_failed();
	}
	gort_waitgroup_done(&wg);
}

/* Samples whose leaf is the poller's system call. */
static uint64_t in_epoll_wait(void)
{
	return leaf_samples((const char *const[]){ "epoll_wait", "epoll_pwait", NULL });
}

static int storm_run(void *arg)
{
	(void)arg;
	for (int i = 0; i < STORM_READERS + 2; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, storm_sv[i]) != 0) {
			printf("FAIL: socketpair: %s\n", strerror(errno));
			return 1;
		}
	if (start(10000))   /* the highest rate gort takes */
		return 1;
	pthread_t storm, feeder, watch;
	pthread_create(&watch, NULL, storm_watch, NULL);
	pthread_detach(watch);
	pthread_create(&storm, NULL, storm_thread, NULL);
	gort_waitgroup_add(&wg, STORM_READERS + 3);
	for (int i = 0; i < STORM_READERS; i++)
		gort_go(storm_reader, (void *)(intptr_t)i);
	gort_go(storm_sleeper, NULL);
	gort_go(storm_deadliner, NULL);
	gort_go(storm_idler, NULL);
	pthread_create(&feeder, NULL, storm_feeder, NULL);
	atomic_storep((void *volatile *)&storm_stage, "waiting for the readers");
	for (int i = 0; i < STORM_READERS; i++)
		while (atomic_load32(&storm_got[i]) < STORM_ROUNDS && !atomic_load32(&storm_fail))
			gort_sleep(1000000);
	gort_syscall_enter();   /* a blocking join: our P goes on without us */
	pthread_join(feeder, NULL);
	gort_syscall_exit();
	if (atomic_load32(&storm_fail))   /* readers the feeder gave up on: end of file */
		for (int i = 0; i < STORM_READERS; i++)
			shutdown(storm_sv[i][1], SHUT_WR);
	/* enough signals while an M polled: counted, not timed */
	atomic_storep((void *volatile *)&storm_stage, "waiting for sweeps while an M polls");
	while (atomic_load32(&storm_polled) < STORM_POLLED && !atomic_load32(&storm_fail))
		gort_sleep(1000000);
	if (write(storm_sv[STORM_READERS + 1][1], "x", 1) != 1)
		storm_failed();
	atomic_storep((void *volatile *)&storm_stage, "waiting for the goroutines");
	gort_waitgroup_wait(&wg);
	atomic_storep((void *volatile *)&storm_stage, "in gort_prof_stop");
	gort_prof_stop();
	atomic_storep((void *volatile *)&storm_stage, "joining the storm thread");
	atomic_store32(&storm_done, 1);
	pthread_join(storm, NULL);
	atomic_storep((void *volatile *)&storm_stage, "checking");
	for (int i = 0; i < STORM_READERS + 2; i++) {
		gort_close(storm_sv[i][0]);
		close(storm_sv[i][1]);
	}
	uint64_t inpoll = in_epoll_wait();
	printf("INFO: %u SIGPROFs sent by hand (%u sweeps while an M polled), %llu samples inside "
		"epoll_wait; %d bytes each woke its reader\n", atomic_load32(&storm_sent),
		atomic_load32(&storm_polled), (unsigned long long)inpoll, STORM_READERS * STORM_ROUNDS);
	if (atomic_load32(&storm_fail))
		return 1;
	if (inpoll == 0) {
		printf("FAIL: no SIGPROF was handled inside epoll_wait\n");
		return 1;
	}
	return report();
}

/* ------------------------------------------------------------------------
 * 14. Profiling a loopback server under load.
 *
 * An echo server and its clients over loopback TCP, the profiler at
 * 1 kHz.  The server's goroutines carry the label role=server (its
 * connection goroutines inherit it from the acceptor), and each request
 * costs it some CPU: its samples must be in the profile, under that label,
 * and every reply must be the request transformed.  The load runs until
 * the server has used 300 ms of CPU (its own clock, measured around the
 * work, which never switches goroutines), however busy the machine.
 * ---------------------------------------------------------------------- */

#define SRV_CLIENTS 12
#define SRV_MSG 1024
#define SRV_CPU_US 300000

static int srv_listener;
static char srv_addr[64];
static volatile uint32_t srv_stop, srv_cpu_us, srv_fail, srv_requests;
static const gort_labels *srv_labels;

static __attribute__((noinline)) void srv_work(unsigned char *buf, size_t n)
{
	/* enough mixing per request to be seen by a 1 kHz profiler */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 64; round++)
		for (size_t i = 0; i < n; i++) {
			x = (x ^ buf[i]) * 0x100000001b3ull;
			buf[i] ^= (unsigned char)(x >> 56);
		}
	sink = x;
}

static int read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = gort_read(fd, buf + got, n - got, GORT_FOREVER);
		if (k <= 0)
			return (int)k;
		got += (size_t)k;
	}
	return 1;
}

static void srv_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[SRV_MSG];
	int r;
	while ((r = read_full(fd, buf, sizeof buf)) == 1) {
		int64_t t0 = thread_cpu_ns();
		srv_work(buf, sizeof buf);
		atomic_add32(&srv_cpu_us, (int32_t)((thread_cpu_ns() - t0) / 1000));
		if (gort_write(fd, buf, sizeof buf, GORT_FOREVER) != SRV_MSG) {
			printf("FAIL: the server's write failed\n");
			atomic_store32(&srv_fail, 1);
			break;
		}
	}
	if (r < 0) {
		printf("FAIL: the server's read: %s\n", gort_strerror(r));
		atomic_store32(&srv_fail, 1);
	}
	gort_close(fd);
	gort_waitgroup_done(&wg);
}

static void srv_acceptor(void *arg)
{
	(void)arg;
	gort_labels_set(srv_labels);   /* and so every connection goroutine */
	for (int i = 0; i < SRV_CLIENTS; i++) {
		int fd = gort_accept(srv_listener, NULL, NULL, GORT_FOREVER);
		if (fd < 0) {
			printf("FAIL: accept: %s\n", gort_strerror(fd));
			atomic_store32(&srv_fail, 1);
			break;
		}
		gort_waitgroup_add(&wg, 1);
		gort_go(srv_conn, (void *)(intptr_t)fd);
	}
	gort_waitgroup_done(&wg);
}

static void srv_client(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	gort_labels_set(gort_labels_with(NULL, "role", "client"));
	int fd = gort_dial("tcp4", srv_addr, GORT_FOREVER);
	if (fd < 0) {
		printf("FAIL: dial %s: %s\n", srv_addr, gort_strerror(fd));
		atomic_store32(&srv_fail, 1);
		gort_waitgroup_done(&wg);
		return;
	}
	unsigned char req[SRV_MSG], want[SRV_MSG], got[SRV_MSG];
	for (uint32_t k = 0; !atomic_load32(&srv_stop) && !atomic_load32(&srv_fail); k++) {
		for (size_t i = 0; i < sizeof req; i++)
			req[i] = (unsigned char)(id * 131 + k * 17 + i);
		if (gort_write(fd, req, sizeof req, GORT_FOREVER) != SRV_MSG || read_full(fd, got, sizeof got) != 1) {
			printf("FAIL: client %u, request %u: the exchange failed\n", (unsigned)id, k);
			atomic_store32(&srv_fail, 1);
			break;
		}
		memcpy(want, req, sizeof want);
		srv_work(want, sizeof want);   /* what the server must have made of it */
		if (memcmp(got, want, sizeof got) != 0) {
			printf("FAIL: client %u, request %u: a wrong reply\n", (unsigned)id, k);
			atomic_store32(&srv_fail, 1);
			break;
		}
		atomic_add32(&srv_requests, 1);
	}
	gort_shutdown(fd, SHUT_WR);   /* the server reads its end of file, and closes */
	unsigned char c;
	gort_read(fd, &c, 1, GORT_FOREVER);
	gort_close(fd);
	gort_waitgroup_done(&wg);
}

static int server_run(void *arg)
{
	(void)arg;
	srv_labels = gort_labels_with(NULL, "role", "server");
	srv_listener = gort_listen("tcp4", "127.0.0.1:0");
	if (srv_listener < 0 || gort_localaddr(srv_listener, srv_addr, sizeof srv_addr) <= 0) {
		printf("FAIL: listen on loopback: %s\n", gort_strerror(srv_listener));
		return 1;
	}
	if (start(1000))
		return 1;
	gort_waitgroup_add(&wg, 1 + SRV_CLIENTS);
	gort_go(srv_acceptor, NULL);
	for (uintptr_t i = 0; i < SRV_CLIENTS; i++)
		gort_go(srv_client, (void *)i);
	while (atomic_load32(&srv_cpu_us) < SRV_CPU_US && !atomic_load32(&srv_fail))
		gort_sleep(10000000);
	atomic_store32(&srv_stop, 1);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();
	gort_close(srv_listener);
	uint64_t server = 0, client = 0, other = 0, server_io = 0;
	const gort_labels *cl = gort_labels_with(NULL, "role", "client");
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			if (e->tag == srv_labels) {
				server += e->count;
				/* inside gort's read or write, labels and all */
				for (int i = 0; i < e->nstk; i++) {
					const struct gort_func *f = gort_runtime_findfunc(e->stk[i] - (i > 0));
					if (f && (!strcmp(f->name, "gort_read") || !strcmp(f->name, "gort_write"))) {
						server_io += e->count;
						break;
					}
				}
			} else if (e->tag == cl) {
				client += e->count;
			} else {
				other += e->count;
			}
		}
	printf("INFO: %u requests; samples: %llu in the server's goroutines (%llu inside gort_read or "
		"gort_write), %llu in the clients', %llu elsewhere\n", atomic_load32(&srv_requests),
		(unsigned long long)server, (unsigned long long)server_io, (unsigned long long)client,
		(unsigned long long)other);
	if (atomic_load32(&srv_fail))
		return 1;
	if (server == 0) {
		printf("FAIL: no sample in the server's goroutines (label role=server)\n");
		return 1;
	}
	return report();
}

/* ------------------------------------------------------------------------
 * 15. Preemption: each clause of the safe-point rule (sched/preempt.c),
 *     shown to be needed.
 *
 * Each case puts an asynchronous preemption exactly where a clause
 * forbids it -- inside libc's allocator, inside stdio with a FILE's lock
 * held, inside an atomic64 critical section, inside a pthread mutex held
 * without gort_preempt_disable, in code holding a thread's address -- and
 * has the next goroutine on that thread meet what the first one left.
 * With the fix on the preemption is refused (and counted, by clause) and
 * the case runs clean; with it off (a debug switch of the runtime,
 * gort_sched_preempt_unsafe, for the one goroutine in harm's way; for
 * the mutex, the user's side of the rule: no gort_preempt_disable) the
 * hazard happens and is named, at once, by a state seen -- an owner, a
 * pinned goroutine's interrupted PC -- not by a timeout.
 *
 * Delivery is certain where the kernel allows it: a raw tkill system call
 * written inline (the signal arrives on the way back, at the next
 * instruction of the executable's own code); for stdio, a pipe whose
 * reader end has O_ASYNC and F_SETSIG=SIGURG, so that the write(2) stdio
 * makes inside fflush, with the FILE locked, signals the writing thread
 * itself and the handler sees the PC inside libc's write.  glibc's
 * allocator offers no such hook (no system call of malloc's writes to a
 * descriptor), so that case asks as sysmon does, from another thread,
 * while the goroutine does nothing but allocate -- until it lands with the
 * arena lock held, which takes a few dozen tries.
 * ---------------------------------------------------------------------- */

static int child_fix = 1;   /* child_main: is this the fix-on run? */

/* A system call with the instruction written here, so that a signal it
 * makes pending is delivered with the PC in the executable's own code
 * (libc's syscall() would put it in libc, where clause 2 refuses). */
static inline __attribute__((always_inline)) long raw_syscall4(long nr, long a, long b, long c, long d)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ __volatile__("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
		: "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ __volatile__("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
#elif defined(__mips__)
	register long v0 __asm__("$2") = nr;
	register long a0 __asm__("$4") = a;
	register long a1 __asm__("$5") = b;
	register long a2 __asm__("$6") = c;
	register long a3 __asm__("$7") = d;
	__asm__ __volatile__(".set push\n.set noreorder\nsyscall\nnop\n.set pop"
		: "+r"(v0), "+r"(a3) : "r"(a0), "r"(a1), "r"(a2)
		: "$1", "$3", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
		  "$24", "$25", "hi", "lo", "memory");
	return a3 ? -v0 : v0;
#endif
}

static long my_tid(void)
{
	return syscall(SYS_gettid);
}

/* Ask the running goroutine to yield, as sysmon does (the handler acts
 * only on a request), and signal its own thread from right here. */
static inline __attribute__((always_inline)) void preempt_me_here(long tid)
{
	atomic_store32(&getg()->preempt, 1);
	raw_syscall4(SYS_tkill, tid, SIGURG, 0, 0);
}

/* With the fix off, the runtime's switch applies to this goroutine (and
 * to no other: child_main aims it at nobody). */
static void harm_me(void)
{
	if (!child_fix)
		*(volatile uint64_t *)&gort_sched_preempt_unsafe_goid = getg()->goid;
}

/* A refused request stays pending: withdraw it, or the next gort_go
 * would yield for it. */
static void preempt_withdraw(void)
{
	atomic_store32(&getg()->preempt, 0);
}

/* Where a goroutine switched out by an asynchronous preemption was
 * interrupted: the frame the walk takes from the signal context above the
 * trampoline (runtime/traceback.c), its exact pc.  0 if it was not (its
 * stack does not pass through the trampoline).  The outermost one: with
 * clause 1 off, a second request can preempt the goroutine again on its
 * way into the scheduler -- in the trampoline, in asyncpreempt2, in
 * switch_out -- and only the walk through that inner one's context, at
 * whatever instruction it was interrupted, reaches the outer one. */
static uintptr_t preempted_at(struct g *gp)
{
	struct gort_frame f;
	gort_sched_ctxframe(gp->sp, &f);
	uintptr_t pc = 0;
	int after_tramp = 0;
	for (int i = 0; i < 64; i++) {
		if (after_tramp)
			pc = f.pc;   /* taken from the copy: the interrupted pc itself */
		after_tramp = gort_runtime_in_asyncpreempt(f.live ? f.pc : f.pc - 1);
		if (!gort_runtime_unwind_step(&f, gp->stack_lo, gp->stack_hi, NULL))
			break;
	}
	return pc;
}

/* Is gp waiting on this M's pinned queue (preempted here, to resume here)? */
static int pinned_here(const struct g *gp)
{
	struct m *m = gort_sched_m;
	for (const struct g *q = m ? m->pinhead : NULL; q; q = q->schedlink)
		if (q == gp)
			return 1;
	return 0;
}

/* Is pc in the executable (not in libc or another shared object)?  By
 * the loader's map: gort's own table names libc's functions too. */
static int in_executable(uintptr_t pc)
{
	Dl_info a, b;
	return dladdr((void *)pc, &a) && dladdr((void *)(uintptr_t)in_executable, &b) &&
		a.dli_fbase == b.dli_fbase;
}

static int pc_in_exe_func(uintptr_t pc, const struct gort_func **fp)
{
	const struct gort_func *f = gort_runtime_findfunc(pc);
	*fp = f;
	return f && pc >= f->entry && pc < f->end && in_executable(pc);
}

/* "name+0xoff", from gort's table for the executable, from the loader's
 * for a shared object ("__write+0x4f in libc.so.6").  Not for a signal
 * handler (dladdr takes the loader's lock); no allocation. */
static void pcname(uintptr_t pc, char *buf, size_t cap)
{
	const struct gort_func *f;
	Dl_info di;
	if (pc_in_exe_func(pc, &f)) {
		snprintf(buf, cap, "%s+%#lx", f->name, (unsigned long)(pc - f->entry));
	} else if (dladdr((void *)pc, &di) && di.dli_fname) {
		const char *base = strrchr(di.dli_fname, '/');
		snprintf(buf, cap, "%s+%#lx in %s", di.dli_sname ? di.dli_sname : "?",
			(unsigned long)(pc - (uintptr_t)(di.dli_sname ? di.dli_saddr : di.dli_fbase)),
			base ? base + 1 : di.dli_fname);
	} else {
		snprintf(buf, cap, "%#lx", (unsigned long)pc);
	}
}

/* Refusals by clause since `before` (gort_sched_preempt_why). */
struct whys { uint32_t w[5]; };
static struct whys whys_now(void)
{
	struct whys x;
	for (int i = 0; i < 5; i++)
		x.w[i] = atomic_load32(&gort_sched_preempt_why[i]);
	return x;
}

/* Every preemption case ends with the ledger line too (no profiler: 0s). */
static int report_noprof(void)
{
	printf("RESULT signals=0 samples=0 lostatomic=0 lostfull=0\n");
	return 0;
}

/* A fix-on run of the cases that prove a clause by refusal: fn, as one
 * goroutine, asks `rounds` preemptions inside the region; every one must
 * be refused by the clause whose gort_sched_preempt_why index is `why`
 * ([3] and [4] are both clause 4).  `inside` and `info` finish the INFO
 * line, `where` the FAIL line. */
static int refused_run(void (*fn)(void *), int why, uint32_t rounds, const char *inside,
	const char *info, const char *where)
{
	struct whys w0 = whys_now();
	gort_waitgroup_add(&wg, 1);
	gort_go(fn, NULL);
	gort_waitgroup_wait(&wg);
	uint32_t n = whys_now().w[why] - w0.w[why];
	printf("INFO: %u preemptions asked inside %s, %u refused by clause %d%s\n", rounds, inside, n,
		why >= 3 ? 4 : why + 1, info);
	if (n < rounds) {
		printf("FAIL: the preemptions inside %s were not refused by clause %d\n", where,
			why >= 3 ? 4 : why + 1);
		return 1;
	}
	return report_noprof();
}

/* --- 15a. Inside a pthread mutex held without gort_preempt_disable
 *          (clause 4).  The mutex checks errors: a thread taking it twice
 *          gets EDEADLK, its owner's word for a self-deadlock. ---------- */

#define MUTEX_ROUNDS 5

static pthread_mutex_t umu;
static struct g *volatile mu_holder;
static gort_waitgroup mu_wg;

static void mutex_wanter(void *arg)
{
	(void)arg;
	int err = pthread_mutex_lock(&umu);
	if (err == EDEADLK) {
		struct g *h = mu_holder;
		char at[160] = "?";
		if (h && pinned_here(h))
			pcname(preempted_at(h), at, sizeof at);
		printf("deadlock: goroutine %llu on M%lld: pthread_mutex_lock(%p) = EDEADLK -- this thread "
			"owns the mutex, for goroutine %llu, preempted at %s inside it without "
			"gort_preempt_disable\n", (unsigned long long)getg()->goid, (long long)gort_sched_m->id,
			(void *)&umu, h ? (unsigned long long)h->goid : 0ull, at);
		fflush(stdout);
		if (h)
			gort_sched_traceback_g(h);
		_exit(2);
	}
	if (err) {
		printf("FAIL: pthread_mutex_lock: %s\n", strerror(err));
		_exit(1);
	}
	pthread_mutex_unlock(&umu);
	gort_waitgroup_done(&mu_wg);
}

static __attribute__((noinline)) void mutex_holder(void *arg)
{
	(void)arg;
	long tid = my_tid();
	for (int r = 0; r < MUTEX_ROUNDS; r++) {
		gort_waitgroup_add(&mu_wg, 1);
		gort_go(mutex_wanter, NULL);   /* next on this M, once we yield */
		if (child_fix)
			gort_preempt_disable();
		pthread_mutex_lock(&umu);
		mu_holder = getg();
		preempt_me_here(tid);          /* refused (clause 4), or preempted here */
		mu_holder = NULL;
		pthread_mutex_unlock(&umu);
		if (child_fix)
			gort_preempt_enable();
		preempt_withdraw();
		gort_waitgroup_wait(&mu_wg);   /* the wanter takes it now */
	}
	gort_waitgroup_done(&wg);
}

static int mutex_run(void *arg)
{
	(void)arg;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&umu, &a);
	return refused_run(mutex_holder, 4, MUTEX_ROUNDS, "the mutex",
		" (gort_preempt_disable); each wanter then took the mutex", "the mutex");
}

/* --- 15b. Inside fflush, with the FILE's lock held (clause 2).  glibc's
 *          FILE lock is recursive: the next goroutine on the thread does
 *          not block on it -- its thread already owns it -- but writes
 *          into the buffer the preempted fflush is in the middle of
 *          emptying, and the line is lost. ------------------------------- */

#define STDIO_ROUNDS 5

static int stdio_pipe[2];
static FILE *stdio_f;
static struct g *volatile stdio_holder;
static gort_waitgroup stdio_wg;
static char stdio_note[256];   /* what the second goroutine saw */

static void stdio_second(void *arg)
{
	int r = (int)(intptr_t)arg;
	struct g *h = stdio_holder;
	if (h && pinned_here(h)) {
		char at[160];
		pcname(preempted_at(h), at, sizeof at);
		snprintf(stdio_note, sizeof stdio_note, "goroutine %llu wrote into FILE %p on M%lld while "
			"goroutine %llu, preempted inside fflush at %s, held its lock on that same thread",
			(unsigned long long)getg()->goid, (void *)stdio_f, (long long)gort_sched_m->id,
			(unsigned long long)h->goid, at);
	}
	fprintf(stdio_f, "B%d\n", r);   /* into the buffer; flushed by the first */
	gort_waitgroup_done(&stdio_wg);
}

static __attribute__((noinline)) void stdio_first(void *arg)
{
	(void)arg;
	harm_me();
	struct f_owner_ex o = { F_OWNER_TID, (pid_t)my_tid() };
	for (int r = 0; r < STDIO_ROUNDS; r++) {
		/* the pipe signals this thread (the goroutine stays on it: it
		 * makes no gort call until the wait below) */
		o.pid = (pid_t)my_tid();
		if (fcntl(stdio_pipe[0], F_SETOWN_EX, &o) != 0) {
			printf("FAIL: F_SETOWN_EX: %s\n", strerror(errno));
			_exit(1);
		}
		gort_waitgroup_add(&stdio_wg, 1);
		gort_go(stdio_second, (void *)(intptr_t)r);   /* next on this M */
		fprintf(stdio_f, "A%d\n", r);
		stdio_holder = getg();
		atomic_store32(&getg()->preempt, 1);
		fflush(stdio_f);    /* its write(2) signals us: the PC is in libc, the FILE locked */
		stdio_holder = NULL;
		preempt_withdraw();
		gort_waitgroup_wait(&stdio_wg);
		fflush(stdio_f);
		/* both lines, once each, in order */
		char want[32], got[64];
		int n = snprintf(want, sizeof want, "A%d\nB%d\n", r, r);
		ssize_t k = read(stdio_pipe[0], got, sizeof got - 1);
		got[k > 0 ? k : 0] = '\0';
		if (k != n || memcmp(got, want, (size_t)n) != 0) {
			for (char *c = got; *c; c++)
				if (*c == '\n')
					*c = ' ';
			printf("stdio: FILE %p gave \"%s\" for round %d, not \"A%d B%d \": %s (glibc's FILE lock "
				"is recursive: the thread already owned it)\n", (void *)stdio_f, got, r, r, r,
				stdio_note[0] ? stdio_note : "no preempted holder seen");
			fflush(stdout);
			_exit(2);
		}
	}
	gort_waitgroup_done(&wg);
}

static int stdio_run(void *arg)
{
	(void)arg;
	if (pipe(stdio_pipe) != 0 || fcntl(stdio_pipe[0], F_SETFL, O_ASYNC | O_NONBLOCK) != 0 ||
	    fcntl(stdio_pipe[0], F_SETSIG, SIGURG) != 0) {
		printf("FAIL: an O_ASYNC pipe: %s\n", strerror(errno));
		return 1;
	}
	static char buf[4096];
	stdio_f = fdopen(stdio_pipe[1], "w");
	setvbuf(stdio_f, buf, _IOFBF, sizeof buf);
	return refused_run(stdio_first, 1, STDIO_ROUNDS, "fflush (write(2) in libc, the FILE locked)",
		"; every line arrived once", "fflush");
}

/* --- 15c. Inside malloc, with the arena lock held (clause 2).  The next
 *          goroutine on the thread calls malloc and sleeps on the lock its
 *          own thread holds, for ever. --------------------------------- */

#define MALLOC_BIG (1 << 20)

static struct g *volatile mal_a;
static volatile long mal_a_tid, mal_b_tid;
static volatile uint32_t mal_a_inside, mal_b_inside, mal_b_done, mal_asks;
static volatile uint64_t mal_b_goid;
static uint32_t mal_why0, mal_want;

static __attribute__((noinline)) void mal_allocator(void *arg)
{
	(void)arg;
	harm_me();
	mal_a_tid = my_tid();   /* it never calls gort: it stays on this thread */
	atomic_storep((void *volatile *)&mal_a, getg());
	while (!atomic_load32(&stop)) {
		atomic_store32(&mal_a_inside, 1);
		void *p = malloc(MALLOC_BIG);   /* grows the heap: a system call, the lock held */
		sink += (uintptr_t)p;
		free(p);                        /* trims it: the same */
		atomic_store32(&mal_a_inside, 0);
	}
	gort_waitgroup_done(&wg);
}

static void mal_second(void *arg)
{
	(void)arg;
	mal_b_goid = getg()->goid;
	while (!atomic_load32(&stop)) {
		mal_b_tid = my_tid();
		atomic_store32(&mal_b_inside, 1);
		void *p = malloc(64 << 10);     /* not from the thread cache */
		free(p);
		malloc_trim(0);                 /* every arena's lock, in turn */
		atomic_store32(&mal_b_inside, 0);
		atomic_add32(&mal_b_done, 1);
		gort_yield();                   /* the allocator again */
	}
	gort_waitgroup_done(&wg);
}

/* sysmon's part, faster: ask the allocator to yield while it is inside. */
static void *mal_asker(void *arg)
{
	(void)arg;
	block_sigprof();
	while (!atomic_load32(&stop)) {
		struct g *a = atomic_loadp((void *const volatile *)&mal_a);
		struct m *m = a ? a->m : NULL;
		if (m && atomic_load32(&a->status) == Grunning && atomic_load32(&mal_a_inside)) {
			uint32_t r0 = atomic_load32(&gort_sched_preempt_refused);
			uint32_t d0 = atomic_load32(&gort_sched_preempt_done);
			gort_sched_preemptone(m, a);
			atomic_add32(&mal_asks, 1);
			/* One request at a time: refused, or taken and the goroutine
			 * switched out.  (A second request while it is on its way into
			 * the scheduler would, with clause 1 off, preempt it there.) */
			while (!atomic_load32(&stop) && atomic_load32(&gort_sched_preempt_refused) == r0) {
				if (atomic_load32(&gort_sched_preempt_done) != d0) {
					while (!atomic_load32(&stop) && atomic_load32(&a->status) == Grunning)
						sched_yield();
					break;
				}
				sched_yield();
			}
		}
		/* with the fix on: enough signals have landed inside libc and been
		 * refused (with it off the watcher ends the run first) */
		if (atomic_load32(&gort_sched_preempt_why[1]) - mal_why0 >= mal_want ||
		    atomic_load32(&mal_asks) >= 100000)
			atomic_store32(&stop, 1);
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* A thread's scheduling state ('R', 'S', 'D', ...) and its voluntary
 * context switches, from /proc (no allocation: the arena may be locked). */
static int thread_state(long tid, unsigned long *vcsw)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	int st = p && p[1] == ' ' ? p[2] : '?';
	snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	*vcsw = 0;
	if (n > 0) {
		buf[n] = '\0';
		char *v = strstr(buf, "voluntary_ctxt_switches:");
		if (v)
			*vcsw = strtoul(v + 24, NULL, 10);
	}
	return st;
}

/* The state that is the deadlock: the allocator preempted (runnable,
 * though it never calls gort) while inside malloc or free, at a PC outside
 * the executable; the second goroutine inside malloc, on that same
 * thread, asleep. */
static int mal_deadlocked(struct g *a, unsigned long *vcsw)
{
	return atomic_load32(&a->status) == Grunnable && atomic_load32(&mal_a_inside) &&
		atomic_load32(&mal_b_inside) && mal_b_tid == mal_a_tid &&
		thread_state(mal_b_tid, vcsw) == 'S';
}

static void *mal_watch(void *arg)
{
	(void)arg;
	block_sigprof();
	while (!atomic_load32(&stop)) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
		struct g *a = atomic_loadp((void *const volatile *)&mal_a);
		unsigned long v0, v1;
		if (!a || !mal_deadlocked(a, &v0))
			continue;
		uintptr_t pc = preempted_at(a);
		const struct gort_func *f;
		if (!pc || pc_in_exe_func(pc, &f))
			continue;   /* preempted in the executable: no lock of libc's held */
		uint32_t done0 = atomic_load32(&mal_b_done);
		ts.tv_nsec = 1000000;   /* and still so a moment later, not one wake-up further */
		nanosleep(&ts, NULL);
		if (!mal_deadlocked(a, &v1) || v1 != v0 || atomic_load32(&mal_b_done) != done0)
			continue;
		char at[160];
		pcname(pc, at, sizeof at);
		gort_runtime_printf("deadlock: goroutine %llu sleeps in the allocator (malloc_trim) on thread "
			"%ld, on an arena lock that thread holds for goroutine %llu, preempted inside it at %s "
			"(after %u asks)\n\n", (unsigned long long)mal_b_goid, mal_b_tid,
			(unsigned long long)a->goid, at, atomic_load32(&mal_asks));
		gort_sched_printg_header(a, "runnable, preempted inside malloc");
		gort_sched_traceback_g(a);
		gort_runtime_exit(2);
	}
	return NULL;
}

static int malloc_preempt_run(void *arg)
{
	(void)arg;
	/* Every malloc and free of the allocator grows or trims the heap with
	 * a system call made holding the arena lock (no mmap'd chunks, no
	 * dynamic thresholds, trimming at once). */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 0);
	struct whys w0 = whys_now();
	uint32_t want = SCALE > 1 ? 20 : 100;
	mal_why0 = w0.w[1];
	mal_want = want;
	pthread_t asker, watch;
	pthread_create(&watch, NULL, mal_watch, NULL);
	pthread_create(&asker, NULL, mal_asker, NULL);
	gort_waitgroup_add(&wg, 2);
	gort_go(mal_allocator, NULL);
	gort_go(mal_second, NULL);
	gort_waitgroup_wait(&wg);   /* the asker says when */
	pthread_join(asker, NULL);
	pthread_join(watch, NULL);
	struct whys w1 = whys_now();
	printf("INFO: %u preemptions asked inside malloc and free, %u refused by clause 2 (in libc), "
		"%u done elsewhere; the second goroutine allocated %u times\n", atomic_load32(&mal_asks),
		w1.w[1] - w0.w[1], atomic_load32(&gort_sched_preempt_done), atomic_load32(&mal_b_done));
	if (w1.w[1] - w0.w[1] < want) {
		printf("FAIL: too few preemptions landed in libc (%u of %u asks)\n", w1.w[1] - w0.w[1],
			atomic_load32(&mal_asks));
		return 1;
	}
	return report_noprof();
}

static void malloc_preempt_before(void)
{
	/* one arena: the allocator and the second goroutine share its lock
	 * wherever glibc would have put the thread */
	mallopt(M_ARENA_MAX, 1);
}

/* --- 15d. Inside an atomic64 critical section on the spinlock backend
 *          (clause 1).  The next goroutine on the thread takes the same
 *          lock: the debug runtime's owner check names it. ------------- */

static volatile uint64_t a64_word __attribute__((aligned(64)));
static struct g *volatile a64_holder;
static void (*a64_prev_hook)(unsigned);

static __attribute__((unused)) void a64_selfdeadlock(unsigned lockindex)
{
	if (a64_prev_hook)
		a64_prev_hook(lockindex);   /* the profiler's: for a SIGPROF handler */
	struct g *h = a64_holder, *me = getg();
	if (!h || h == me || !pinned_here(h))
		return;                      /* the atomic package throws */
	char at[160];
	uintptr_t pc = preempted_at(h);
	const struct gort_func *f;
	if (pc_in_exe_func(pc, &f))
		snprintf(at, sizeof at, "%s+%#lx", f->name, (unsigned long)(pc - f->entry));
	else
		snprintf(at, sizeof at, "%#lx", (unsigned long)pc);
	gort_runtime_printf("deadlock: goroutine %llu on M%lld wants atomic64 lock %u, which this thread "
		"holds for goroutine %llu, preempted inside the critical section at %s\n\n",
		me ? (unsigned long long)me->goid : 0ull, (long long)gort_sched_m->id, lockindex,
		(unsigned long long)h->goid, at);
	gort_sched_printg_header(h, "runnable, preempted holding the lock");
	gort_sched_traceback_g(h);
	gort_runtime_printf("\n");
	gort_sched_traceback_current(0);
	gort_runtime_exit(2);
}

static void a64_second(void *arg)
{
	(void)arg;
	sink = gort_atomic_load64(&a64_word);   /* the same word, so the same lock */
	gort_waitgroup_done(&wg);
}

static __attribute__((noinline)) void a64_first(void *arg)
{
	(void)arg;
	harm_me();
	for (int r = 0; r < 5; r++) {
		gort_waitgroup_add(&wg, 1);
		gort_go(a64_second, NULL);   /* next on this M */
		a64_holder = getg();
		atomic_store32(&getg()->preempt, 1);
#if GORT_DEBUG_RUNTIME && GORT_ATOMIC64_SPINLOCK
		gort_atomic_inject = SIGURG;   /* from inside the critical section */
#endif
		gort_atomic_add64(&a64_word, 1);
		a64_holder = NULL;
		preempt_withdraw();
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static int a64_run(void *arg)
{
	(void)arg;
#if GORT_DEBUG_RUNTIME && GORT_ATOMIC64_SPINLOCK
	a64_prev_hook = gort_atomic_selfdeadlock_hook;
	gort_atomic_selfdeadlock_hook = a64_selfdeadlock;
#endif
	return refused_run(a64_first, 0, 5, "gort_atomic_add64's critical section", " (gort's code)",
		"the critical section");
}

/* --- 15e. The thread rule: a thread's address held across a preemption
 *          (clause 3 of the issue: resume on the same M).  With the rule
 *          switched off, the preempted goroutine goes to the global queue;
 *          its M is held in a plain blocking read by the next goroutine,
 *          and the other M takes it. ----------------------------------- */

static __thread volatile int tls_var;
static volatile uint32_t tls_b_started, tls_resumed, tls_c_running;
static int tls_pipe[2];

/* Computed anew at each call (the barrier: the compiler would otherwise
 * take the function for a constant one -- as it takes __errno_location --
 * and reuse the first result). */
static __attribute__((noinline)) volatile int *tls_addr(void)
{
	volatile int *p = &tls_var;
	__asm__ __volatile__("" : "+r"(p));
	return p;
}

static __attribute__((noinline)) int *errno_addr(void)
{
	int *p = &errno;
	__asm__ __volatile__("" : "+r"(p));
	return p;
}

static void tls_blocker(void *arg)
{
	(void)arg;
	atomic_store32(&tls_b_started, 1);
	char c;
	/* a plain read, no hand-off: this M and its P stay here */
	while (read(tls_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	gort_waitgroup_done(&wg);
}

/* On the other P: yields, so runs whatever is queued globally. */
static void tls_taker(void *arg)
{
	(void)arg;
	atomic_store32(&tls_c_running, 1);
	int released = 0;
	while (!atomic_load32(&tls_resumed)) {
		int started = atomic_load32(&tls_b_started);
		gort_yield();   /* the rule off: the preempted goroutine is queued, and runs here */
		if (started && !released && !atomic_load32(&tls_resumed)) {
			/* it is pinned to its M: let that M go */
			if (write(tls_pipe[1], "x", 1) != 1)
				_exit(1);
			released = 1;
		}
	}
	if (!released && write(tls_pipe[1], "x", 1) != 1)
		_exit(1);
	gort_waitgroup_done(&wg);
}

static __attribute__((noinline)) void tls_holder(void *arg)
{
	(void)arg;
	harm_me();
	while (!atomic_load32(&tls_c_running))
		gort_yield();
	struct m *m0 = gort_sched_m;
	long tid0 = my_tid();
	volatile int *mine = tls_addr();       /* this thread's copy, held in a register */
	int *err = errno_addr();
	stack_t ss0;
	sigaltstack(NULL, &ss0);
	gort_waitgroup_add(&wg, 1);
	gort_go(tls_blocker, NULL);            /* next on this M */
	preempt_me_here(tid0);                 /* preempted here, in the executable's code */
	*mine += 1;                            /* whose? */
	long tid1 = my_tid();
	atomic_store32(&tls_resumed, 1);
	if (tid1 != tid0 || tls_addr() != mine) {
		stack_t ss1;
		sigaltstack(NULL, &ss1);
		printf("thread rule broken: goroutine %llu, preempted on M%lld (thread %ld), resumed on "
			"M%lld (thread %ld): the __thread address it held, %p, is the first thread's copy "
			"(this thread's: %p); errno's likewise (%p, here %p)%s\n",
			(unsigned long long)getg()->goid, (long long)m0->id, tid0, (long long)gort_sched_m->id,
			tid1, (void *)mine, (void *)tls_addr(), (void *)err, (void *)errno_addr(),
			ss1.ss_sp == ss0.ss_sp ? "; and rt_sigreturn gave this thread the first one's signal stack"
			: "");
		fflush(stdout);
		_exit(2);
	}
	gort_waitgroup_done(&wg);
}

static int tls_run(void *arg)
{
	(void)arg;
	if (pipe(tls_pipe) != 0)
		return 1;
	struct whys w0 = whys_now();
	uint32_t done0 = atomic_load32(&gort_sched_preempt_done);
	gort_waitgroup_add(&wg, 2);
	gort_go(tls_taker, NULL);
	gort_go(tls_holder, NULL);
	gort_waitgroup_wait(&wg);
	(void)w0;
	printf("INFO: %u preemption(s) of a goroutine holding a __thread address, with its M held in a "
		"read and another M taking from the queues: it resumed on its own thread\n",
		atomic_load32(&gort_sched_preempt_done) - done0);
	if (atomic_load32(&gort_sched_preempt_done) == done0) {
		printf("FAIL: the goroutine was not preempted\n");
		return 1;
	}
	return report_noprof();
}

/* --- 15f. SIGPROF at the trampoline's first instruction, every time.
 *          SIGURG and SIGPROF are made pending together with both
 *          blocked, then unblocked by a raw rt_sigprocmask: the kernel
 *          delivers the lower-numbered SIGURG first; its handler sends
 *          the goroutine into the trampoline, and on its way out the
 *          SIGPROF it held back lands there. -------------------------- */

#define TRAMP_ROUNDS 50

static volatile uint32_t tramp_done;

static __attribute__((noinline)) void tramp_victim(long tid)
{
	sigset_t both, old;
	sigemptyset(&both);
	sigaddset(&both, SIGURG);
	sigaddset(&both, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &both, &old);
	atomic_store32(&getg()->preempt, 1);
	raw_syscall4(SYS_tkill, tid, SIGURG, 0, 0);
	raw_syscall4(SYS_tkill, tid, SIGPROF, 0, 0);
	/* both arrive on the way back from this call: the PC is here */
	raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, _NSIG / 8);
	preempt_withdraw();
}

static __attribute__((noinline)) void tramp_goroutine(void *arg)
{
	(void)arg;
	long tid = my_tid();
	for (int r = 0; r < TRAMP_ROUNDS; r++) {
		tramp_victim(tid);   /* resumes on this thread: no gort call in between */
		gort_yield();        /* may move: the tid again */
		tid = my_tid();
	}
	atomic_store32(&tramp_done, 1);
	gort_waitgroup_done(&wg);
}

/* In f, as a return address (i > 0) or as the PC itself (i == 0)?  (The
 * frame above the trampoline, the interrupted PC itself, is stored + 1 by
 * the unwinder, so the same "- 1" finds it.) */
static int frame_in(const struct profentry *e, int i, const struct gort_func *f)
{
	uintptr_t pc = e->stk[i] - (i > 0);
	return i < e->nstk && f && pc >= f->entry && pc < f->end;
}

/* The whole stack of a sample, for a failure: "name+off" of each frame. */
static void print_stack(const struct profentry *e)
{
	for (int i = 0; i < e->nstk && i < 16; i++) {
		uintptr_t pc = e->stk[i] - (i > 0);
		const struct gort_func *f = gort_runtime_findfunc(pc);
		if (f)
			printf(" %s+%#lx", f->name, (unsigned long)(pc - f->entry));
		else
			printf(" %#lx", (unsigned long)pc);
	}
	printf("\n");
}

static int tramp_run(void *arg)
{
	(void)arg;
	if (start(1))   /* 1 Hz: the signals are ours */
		return 1;
	uint32_t done0 = atomic_load32(&gort_sched_preempt_done);
	gort_waitgroup_add(&wg, 2);
	gort_go(tramp_goroutine, NULL);
	gort_go(spinner, NULL);   /* somebody to switch to */
	while (!atomic_load32(&tramp_done))
		gort_sleep(1000000);
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();
	const struct gort_func *t = gort_runtime_findfunc((uintptr_t)gort_sched_asyncpreempt);
	const struct gort_func *v = gort_runtime_findfunc((uintptr_t)tramp_victim);
	const struct gort_func *g = gort_runtime_findfunc((uintptr_t)tramp_goroutine);
	uint64_t at_entry = 0, good = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			if (!e->nstk || !t || e->stk[0] != t->entry)
				continue;
			at_entry += e->count;
			/* then the interrupted function -- the PC itself, past the
			 * system call, not its first instruction -- and its caller */
			if (frame_in(e, 1, v) && e->stk[1] - 1 > v->entry && frame_in(e, 2, g))
				good += e->count;
			else {
				printf("FAIL: a sample at the trampoline's entry unwound as:");
				print_stack(e);
			}
		}
	printf("INFO: %u preemptions, %llu SIGPROFs at the trampoline's first instruction, %llu of them "
		"unwound through the interrupted tramp_victim to its caller\n",
		atomic_load32(&gort_sched_preempt_done) - done0, (unsigned long long)at_entry,
		(unsigned long long)good);
	if (at_entry < TRAMP_ROUNDS || good != at_entry) {
		if (at_entry < TRAMP_ROUNDS)
			printf("FAIL: %llu of %d SIGPROFs landed at the trampoline's entry\n",
				(unsigned long long)at_entry, TRAMP_ROUNDS);
		return 1;
	}
	return report();
}

/* --- 15h. Every instruction of the preemption path (x86-64).  A goroutine
 *          is preempted with the trap flag set; the SIGTRAP handler runs
 *          the profiler's unwinder at every instruction the goroutine
 *          then executes on its way into the scheduler -- the trampoline,
 *          gort_sched_asyncpreempt2, gort_sched_yield_pinned, switch_out
 *          and what they call -- until the context switch; and, set again
 *          by the goroutine that runs next, at every instruction on its
 *          way back out, the trampoline's tail on the frame's copy
 *          included, until rt_sigreturn.  Each walk must pass through the
 *          trampoline to the interrupted function, then to its callers.
 *          (Under qemu no instruction-level step exists: there the
 *          statistical 15g covers the other targets.) ---------------- */

#if defined(__x86_64__)
#define TF 0x100
static struct g *volatile ss_g;          /* the goroutine stepped */
static volatile uint32_t ss_phase;       /* 1 going in, 2 switched out, 3 coming back */
static uint64_t ss_checked, ss_bad, ss_traps;
static uint32_t ss_tramp_offs;           /* bit k: trampoline offset k seen */
static char ss_first_bad[8][400];
static uintptr_t ss_interrupted;         /* the pc above the trampoline, first seen */
static uintptr_t ss_first_leaf;          /* where it was first seen */
static uintptr_t ss_interrupted_first;   /* that of the first preemption, for the report */

static void ss_victim(long tid);
static void ss_goroutine(void *arg);

static int in_func(uintptr_t pc, const struct gort_func *f)
{
	return f && pc >= f->entry && pc < f->end;
}

static void ss_check(ucontext_t *uc, struct g *gp)
{
	uintptr_t pc = sigctxt_pc(uc);
	const struct gort_func *t = gort_runtime_findfunc((uintptr_t)gort_sched_asyncpreempt);
	const struct gort_func *v = gort_runtime_findfunc((uintptr_t)ss_victim);
	const struct gort_func *c = gort_runtime_findfunc((uintptr_t)ss_goroutine);
	const struct gort_func *gf = gort_runtime_findfunc((uintptr_t)gort_sched_gofirst);
	/* as the profiler's handler walks (prof/sigprof.c) */
	struct gort_frame f = { pc, sigctxt_sp(uc), sigctxt_fp(uc), sigctxt_lr(uc), 1 };
	uintptr_t pcs[64];
	int n = gort_runtime_unwind(f, gp->stack_lo - 256, gp->stack_hi, pcs, 64);
	ss_checked++;
	if (in_func(pc, t) && pc - t->entry < 32)
		ss_tramp_offs |= 1u << (pc - t->entry);
	/* The first step inside a trampoline entered anew: a preemption of
	 * its own (sysmon may preempt the stepped goroutine again, slowed as
	 * it is, once it is back in ss_victim), whose walks must all agree on
	 * where it was interrupted. */
	if (pc == t->entry + gort_sched_asyncpreempt_layout.framed)
		ss_interrupted = 0;
	int i = 0;
	while (i < n && !in_func(pcs[i] - (i > 0), t))
		i++;
	int ok = i + 3 < n && in_func(pcs[i + 1] - 1, v) && in_func(pcs[i + 2] - 1, c) &&
		in_func(pcs[i + 3] - 1, gf);
	if (ok && !ss_interrupted) {
		ss_interrupted = pcs[i + 1] - 1;
		ss_first_leaf = pc;
		if (!ss_interrupted_first)
			ss_interrupted_first = ss_interrupted;
	}
	ok = ok && pcs[i + 1] - 1 == ss_interrupted;
	if (ok)
		return;
	if (ss_bad < 8) {
		/* no stdio in a handler: format with the runtime's own */
		char *b = ss_first_bad[ss_bad];
		size_t len = 0, cap = sizeof ss_first_bad[0];
		for (int k = 0; k < n && k < 10 && len + 80 < cap; k++) {
			uintptr_t q = pcs[k] - (k > 0);
			const struct gort_func *fn = gort_runtime_findfunc(q);
			len += gort_runtime_fmt(b + len, cap - len, " %s+%#lx", fn ? fn->name : "?",
				(unsigned long)(fn ? q - fn->entry : q));
		}
	}
	ss_bad++;
}

static void ss_trap(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)si;
	ucontext_t *uc = ctx;
	uintptr_t pc = sigctxt_pc(uc);
	struct m *m = gort_sched_m;
	uint32_t phase = atomic_load32(&ss_phase);
	if (!phase || !m || ++ss_traps > 2000000) {
		uc->uc_mcontext.gregs[REG_EFL] &= ~TF;   /* not ours, or runaway */
		return;
	}
	struct g *gp = m->curg;
	const struct gort_func *sw = gort_runtime_findfunc((uintptr_t)gort_sched_ctxswitch);
	if (in_func(pc, sw)) {
		if (phase == 1 && gp != ss_g) {
			/* switching away: nobody else is stepped */
			uc->uc_mcontext.gregs[REG_EFL] &= ~TF;
			atomic_store32(&ss_phase, 2);
		}
		return;   /* inside the switch sp is neither stack's (sigprof.c) */
	}
	uintptr_t sp = sigctxt_sp(uc);
	if (gp == ss_g && gp && sp >= gp->stack_lo && sp < gp->stack_hi && gort_sched_pc_in_gort(pc))
		ss_check(uc, gp);
}

static __attribute__((noinline)) void ss_victim(long tid)
{
	sigset_t urg, old;
	sigemptyset(&urg);
	sigaddset(&urg, SIGURG);
	pthread_sigmask(SIG_BLOCK, &urg, &old);
	atomic_store32(&getg()->preempt, 1);
	raw_syscall4(SYS_tkill, tid, SIGURG, 0, 0);
	atomic_store32(&ss_phase, 1);
	__asm__ __volatile__("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
	/* SIGURG arrives on the way back from this call: preempted here, and
	 * resumed here, still stepped (the copy's flags have TF) */
	raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, _NSIG / 8);
	__asm__ __volatile__("pushfq; andq $~0x100, (%%rsp); popfq" ::: "memory", "cc");
	atomic_store32(&ss_phase, 0);
	preempt_withdraw();
}

static volatile uint32_t ss_done;

static __attribute__((noinline)) void ss_goroutine(void *arg)
{
	(void)arg;
	atomic_storep((void *volatile *)&ss_g, getg());
	ss_victim(my_tid());
	atomic_store32(&ss_done, 1);
	gort_waitgroup_done(&wg);
}

/* Runs on the M while the stepped goroutine is pinned to it: steps its
 * own way into the scheduler, which resumes the pinned one first. */
static void ss_resumer(void *arg)
{
	(void)arg;
	while (!atomic_load32(&ss_done)) {
		if (atomic_load32(&ss_phase) == 2) {
			atomic_store32(&ss_phase, 3);
			__asm__ __volatile__("pushfq; orq $0x100, (%%rsp); popfq" ::: "memory", "cc");
		}
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}
#endif

static int sstep_run(void *arg)
{
	(void)arg;
#if defined(__x86_64__)
	trap_with(ss_trap);
	if (start(1))
		return 1;
	uint32_t done0 = atomic_load32(&gort_sched_preempt_done);
	gort_waitgroup_add(&wg, 2);
	gort_go(ss_goroutine, NULL);
	gort_go(ss_resumer, NULL);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();
	const struct sigctxt_tramp_layout *L = &gort_sched_asyncpreempt_layout;
	int offs = __builtin_popcount(ss_tramp_offs);
	int framed = (ss_tramp_offs >> L->framed) & 1, ret = (ss_tramp_offs >> L->ret) & 1,
	    oncopy = (ss_tramp_offs >> L->oncopy) & 1;
	char where[160] = "?";
	if (ss_interrupted_first)
		pcname(ss_interrupted_first, where, sizeof where);
	printf("INFO: %u preemption(s), %llu instructions stepped on its stack, %llu walks through the "
		"trampoline (%d of its instructions, its frame, return address and copy included) to "
		"%s and its callers\n", atomic_load32(&gort_sched_preempt_done) - done0,
		(unsigned long long)ss_traps, (unsigned long long)ss_checked, offs, where);
	for (uint64_t k = 0; k < ss_bad && k < 8; k++)
		printf("FAIL: a walk from the preemption path reads:%s\n", ss_first_bad[k]);
	if (ss_bad) {
		char leaf[160] = "?", last[160] = "?";
		if (ss_first_leaf)
			pcname(ss_first_leaf, leaf, sizeof leaf);
		if (ss_interrupted)
			pcname(ss_interrupted, last, sizeof last);
		printf("INFO: the last preemption's interrupted pc was first seen as %s, at %s\n", last, leaf);
	}
	if (ss_bad || atomic_load32(&gort_sched_preempt_done) == done0 || !framed || !ret || !oncopy ||
	    ss_traps > 2000000) {
		if (!ss_bad)
			printf("FAIL: not every part of the path was stepped (preempted: %u, at the frame: %d, "
				"the return: %d, the copy: %d, %llu traps)\n",
				atomic_load32(&gort_sched_preempt_done) - done0, framed, ret, oncopy,
				(unsigned long long)ss_traps);
		return 1;
	}
	return report();
#else
	printf("FAIL: single-stepping is x86-64 only\n");
	return 1;
#endif
}

/* --- 15g. Preempted continuously while profiled.  Goroutines in a loop
 *          of the executable's own code are preempted thousands of times
 *          a second (asked by a thread playing sysmon), with the profiler
 *          at its highest rate and SIGPROFs sent by hand on top: every
 *          sample that passes through the trampoline must name the
 *          interrupted function as the trampoline's caller. -------------- */

#define PROFILED_HOGS 4

static struct g *volatile prof_hogs[PROFILED_HOGS];

static __attribute__((noinline)) uint64_t prof_work(uint64_t x)
{
	for (int i = 0; i < 2000; i++)
		x = x * 6364136223846793005ull + (uint64_t)i;
	return x;
}

static __attribute__((noinline)) void prof_hog(void *arg)
{
	int k = (int)(intptr_t)arg;
	gort_labels_set(gort_labels_with(NULL, "hog", "yes"));   /* its samples, told apart */
	atomic_storep((void *volatile *)&prof_hogs[k], getg());
	uint64_t x = (uint64_t)k;
	while (!atomic_load32(&stop))
		x = prof_work(x);   /* no gort call: preempted only by signal */
	sink = x;
	atomic_storep((void *volatile *)&prof_hogs[k], NULL);
	gort_waitgroup_done(&wg);
}

static volatile uint32_t prof_asks, prof_sigs;

static void *prof_asker(void *arg)
{
	(void)arg;
	block_sigprof();
	pid_t pid = getpid();
	for (uint32_t n = 0; !atomic_load32(&stop); n++) {
		for (int k = 0; k < PROFILED_HOGS; k++) {
			struct g *gp = atomic_loadp((void *const volatile *)&prof_hogs[k]);
			struct m *m = gp ? gp->m : NULL;
			if (m && atomic_load32(&gp->status) == Grunning) {
				gort_sched_preemptone(m, gp);
				atomic_add32(&prof_asks, 1);
			}
			/* and SIGPROF to another: anywhere along its way through
			 * the trampoline and the scheduler, or in its loop */
			struct g *o = atomic_loadp((void *const volatile *)&prof_hogs[(k + 1 + n) % PROFILED_HOGS]);
			struct m *om = o ? o->m : NULL;
			if (om && syscall(SYS_tgkill, pid, *(volatile int *)&om->tid, SIGPROF) == 0)
				atomic_add32(&prof_sigs, 1);
		}
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int profiled_run(void *arg)
{
	(void)arg;
	if (start(10000))
		return 1;
	pthread_t asker;
	pthread_create(&asker, NULL, prof_asker, NULL);
	uint32_t done0 = atomic_load32(&gort_sched_preempt_done);
	gort_waitgroup_add(&wg, PROFILED_HOGS);
	for (int k = 0; k < PROFILED_HOGS; k++)
		gort_go(prof_hog, (void *)(intptr_t)k);
	/* a number of preemptions, not a time */
	uint32_t want = SCALE > 1 ? 300 : 3000;
	while (atomic_load32(&gort_sched_preempt_done) - done0 < want)
		gort_sleep(2000000);
	atomic_store32(&stop, 1);
	pthread_join(asker, NULL);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();
	const struct gort_func *t = gort_runtime_findfunc((uintptr_t)gort_sched_asyncpreempt);
	const struct gort_func *a2 = gort_runtime_findfunc((uintptr_t)gort_sched_asyncpreempt2);
	const struct gort_func *w = gort_runtime_findfunc((uintptr_t)prof_work);
	const struct gort_func *h = gort_runtime_findfunc((uintptr_t)prof_hog);
	const struct gort_func *gf = gort_runtime_findfunc((uintptr_t)gort_sched_gofirst);
	uint64_t through = 0, leaf_tramp = 0, in_work = 0, bad = 0, at_entry = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			if (e->nstk && frame_in(e, 0, w))
				in_work += e->count;
			int i, in_a2 = 0;
			for (i = 0; i < e->nstk && !frame_in(e, i, t); i++)
				in_a2 |= frame_in(e, i, a2);
			if (i == e->nstk) {
				/* asyncpreempt2 is only ever called by the trampoline */
				if (in_a2) {
					bad += e->count;
					printf("FAIL: a sample in gort_sched_asyncpreempt2 does not pass through the "
						"trampoline:");
					print_stack(e);
				}
				continue;
			}
			through += e->count;
			leaf_tramp += i == 0 ? e->count : 0;
			/* The trampoline's caller is the interrupted PC itself
			 * (stored + 1): in a hog, prof_work's or prof_hog's, then
			 * their callers, prof_hog and gort_sched_gofirst.  (Under
			 * qemu sysmon may preempt the main goroutine too: there,
			 * code outside gort, and a stack that goes on to
			 * gort_sched_gofirst.) */
			int ok;
			if (gort_labels_value(e->tag, "hog")) {
				ok = frame_in(e, i + 1, w) ? frame_in(e, i + 2, h) && frame_in(e, i + 3, gf) :
					frame_in(e, i + 1, h) && frame_in(e, i + 2, gf);
			} else {
				ok = i + 1 < e->nstk && !gort_sched_pc_in_gort(e->stk[i + 1] - 1);
				int j = i + 2;
				while (j < e->nstk && !frame_in(e, j, gf))
					j++;
				ok = ok && j < e->nstk;
			}
			if (i + 1 < e->nstk && (e->stk[i + 1] - 1 == w->entry || e->stk[i + 1] - 1 == h->entry))
				at_entry += e->count;
			if (!ok) {
				bad += e->count;
				printf("FAIL: a sample through the trampoline (frame %d of %d) does not name the "
					"interrupted function and its callers:", i, e->nstk);
				print_stack(e);
			}
		}
	printf("INFO: %u preemptions (%u asked), %u SIGPROFs by hand; samples: %llu in prof_work, %llu "
		"through the trampoline (%llu at it), each naming the interrupted function (%llu at its "
		"first instruction)\n",
		atomic_load32(&gort_sched_preempt_done) - done0, atomic_load32(&prof_asks),
		atomic_load32(&prof_sigs), (unsigned long long)in_work, (unsigned long long)through,
		(unsigned long long)leaf_tramp, (unsigned long long)at_entry);
	/* under qemu the hand-sent signals, landing behind SIGURG, may be
	 * all there are: a sample in the loop itself is not certain there */
	if (bad || (in_work == 0 && SCALE == 1))
		return 1;
	return report();
}

/* ------------------------------------------------------------------------
 * The catalog.
 * ---------------------------------------------------------------------- */

static struct atomic_arg atomic_args[2][NOPS];
static char atomic_names[2][NOPS][40];
static struct scenario catalog[64];
static int ncatalog;

static void add(struct scenario s)
{
	catalog[ncatalog++] = s;
}

static void build_catalog(void)
{
	for (int same = 1; same >= 0; same--)
		for (int op = 0; op < NOPS; op++) {
			atomic_args[same][op] = (struct atomic_arg){ op, same };
			snprintf(atomic_names[same][op], sizeof atomic_names[same][op], "atomic.%s64.%s",
				opnames[op], same ? "same-lock" : "other-lock");
			add((struct scenario){ atomic_names[same][op],
				same ? "SIGPROF injected inside the op, on the lock the profile buffer uses"
				     : "SIGPROF injected inside the op, on another lock of the table",
				same ? SPINLOCK_DEBUG : HASHED_DEBUG, same && !GORT_PROFBUF_NATIVE32 ? 1 : 2, 1,
				atomic_run, &atomic_args[same][op], NULL, NULL, 0, NULL , NULL });
		}
	add((struct scenario){ "seed.TestAtomicLoadStore64",
		"Go's test for #20146: spin on load64 + yield, flag set 50 ms later, 1 kHz",
		ANY, !GORT_ATOMIC64_SPINLOCK ? 0 : GORT_PROFBUF_NATIVE32 ? 2 : GORT_DEBUG_RUNTIME ? 1 : 0, 1,
		seed_run, NULL, NULL, NULL, 0, NULL , NULL });
	/* no injection needed: without the debug runtime the watchdog sees it */
	add((struct scenario){ "hammer.many-Ms", "16 goroutines on every M doing only 64-bit atomics, 1 kHz",
		ANY, !GORT_ATOMIC64_SPINLOCK ? 0 : !GORT_PROFBUF_NATIVE32 ? 1 : 2, 2,
		hammer_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "lock.held-by-other-M", "SIGPROF on one M while another M holds the lock",
		SPINLOCK_DEBUG, 0, 2, other_m_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "unwind.switch-and-sigstack",
		"SIGPROF during context switches, and inside a handler on the signal stack",
		ANY, 0, 1, switch_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "profbuf.full", "two busy Ms, 64-word buffers: the reader drains, the writer overflows",
		ANY, 0, 2, full_run, NULL, "profbuf=64", NULL, 0, NULL , NULL });
	add((struct scenario){ "prof.start-stop-loop", "200 starts and stops at 5 kHz, 8 busy goroutines",
		ANY, 0, 2, startstop_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "libc.malloc", "SIGPROF inside malloc and free (the malloc trap is linked)",
		ANY, 0, 2, malloc_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "sched.locks", "SIGPROF while channel, run-queue and scheduler locks are held",
		ANY, 0, 2, schedlock_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "loader.dlopen", "SIGPROF while dlopen and dlclose run in a loop",
		ANY, 0, 2, dlopen_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "loader.index",
		"SIGPROF held in a symbol-table lookup while another thread dlopens and refreshes the table",
		DEBUG, 1, 2, loader_index_run, NULL, NULL,
		"fatal error: symbol table: a snapshot was freed while a reader was in it", 0, NULL,
		"symtabgrace=0" });
	add((struct scenario){ "unwind.single-step",
		"SIGPROF at every instruction of a stack walk: walks from inside the unwinder",
		TRAPFLAG, 0, 1, unwind_step_run, NULL, NULL, NULL, 0, NULL, NULL });
	add((struct scenario){ "fork.child", "fork while profiling: the child inherits no live profiler",
		ANY, 0, 1, fork_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "atomic.single-step",
		"SIGPROF at every instruction of every emulated operation (trap flag)",
		X86_64, 0, 1, step_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "netpoll.sigprof-storm",
		"SIGPROF by hand to every M, thousands a second, goroutines on sockets, an M in epoll_wait",
		ANY, 0, 2, storm_run, NULL, NULL, NULL, 0, NULL , NULL });
	/* preemption: each clause of the safe-point rule (docs/preempt.md) */
	add((struct scenario){ "preempt.libc-malloc",
		"clause 2: preempted inside malloc, the arena lock held; the next goroutine mallocs",
		ANY, GORT_DEBUG_RUNTIME, 1, malloc_preempt_run, NULL, NULL,
		"deadlock: goroutine", PREEMPT_ANYCODE, malloc_preempt_before , NULL });
	add((struct scenario){ "preempt.stdio-fflush",
		"clause 2: preempted inside fflush, the FILE locked; the next goroutine writes to it",
		ANY, GORT_DEBUG_RUNTIME, 1, stdio_run, NULL, NULL, "stdio: FILE", PREEMPT_ANYCODE, NULL , NULL });
	add((struct scenario){ "preempt.atomic64-lock",
		"clause 1: preempted inside an atomic64 critical section; the next goroutine takes the lock",
		SPINLOCK_DEBUG, 1, 1, a64_run, NULL, NULL, "deadlock: goroutine", PREEMPT_ANYCODE, NULL , NULL });
	add((struct scenario){ "preempt.pthread-mutex",
		"clause 4: preempted holding a pthread mutex; off: without gort_preempt_disable",
		ANY, 1, 1, mutex_run, NULL, NULL, "deadlock: goroutine", 0, NULL , NULL });
	add((struct scenario){ "preempt.tls-migrate",
		"the thread rule: a __thread address held across a preemption; off: any M resumes it",
		ANY, GORT_DEBUG_RUNTIME, 2, tls_run, NULL, NULL, "thread rule broken", PREEMPT_MIGRATE, NULL , NULL });
	add((struct scenario){ "preempt.sigprof-in-trampoline",
		"SIGPROF at the preemption trampoline's first instruction, 50 times: samples unwind",
		ANY, 0, 1, tramp_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "preempt.single-step",
		"every instruction from the trampoline into the scheduler and back: each walk names the "
		"interrupted function (trap flag)",
		TRAPFLAG, 0, 1, sstep_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "preempt.profiled",
		"goroutines preempted thousands of times a second under 10 kHz profiling and hand-sent SIGPROFs",
		ANY, 0, 2, profiled_run, NULL, NULL, NULL, 0, NULL , NULL });
	add((struct scenario){ "netpoll.loopback-server",
		"a loopback echo server and 12 clients at 1 kHz: samples in the server's goroutines",
		ANY, 0, 2, server_run, NULL, NULL, NULL, 0, NULL , NULL });
}

static const char *not_applicable(const struct scenario *s)
{
	switch (s->need) {
	case ANY:
		return NULL;
	case SPINLOCK:
		return GORT_ATOMIC64_SPINLOCK ? NULL : "64-bit atomics are native: no lock";
	case SPINLOCK_DEBUG:
	case HASHED_DEBUG:
		if (!GORT_ATOMIC64_SPINLOCK)
			return "64-bit atomics are native: no lock";
		if (!GORT_DEBUG_RUNTIME)
			return "needs -Ddebug_runtime=true (injection)";
		if (s->need == HASHED_DEBUG && GORT_ATOMIC64_LOCKS == 1)
			return "one lock (Go's layout): no other lock";
		return NULL;
	case DEBUG:
		return GORT_DEBUG_RUNTIME ? NULL : "needs -Ddebug_runtime=true (the switch)";
	case X86_64:
#if defined(__x86_64__)
		return GORT_ATOMIC64_SPINLOCK ? NULL : "64-bit atomics are native: nothing to step";
#else
		return "x86-64 only (the trap flag)";
#endif
	case TRAPFLAG:
#if defined(__x86_64__)
		return NULL;
#else
		return "x86-64 only (the trap flag; preempt.profiled samples the path here)";
#endif
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Running one child.
 * ---------------------------------------------------------------------- */

struct outcome {
	int status;              /* waitpid status */
	int timed_out;
	int64_t elapsed_ns;
	char out[32768];
	unsigned long long signals, samples, lostatomic, lostfull;
	int have_result;
	char stuck[1024];        /* the watchdog's view of the threads */
};

static const struct scenario *child_scenario;

static void child_main(const struct scenario *s, int fix)
{
	char env[128];
	if (s->offenv)
		snprintf(env, sizeof env, "%s%s%s", fix ? "" : s->offenv, s->env ? "," : "", s->env ? s->env : "");
	else
		snprintf(env, sizeof env, "lostatomic64=%d%s%s", fix, s->env ? "," : "", s->env ? s->env : "");
	setenv("GORTDEBUG", env, 1);
	gort_runtime_debug_init();
	gort_gomaxprocs(s->procs);
	child_scenario = s;
	child_fix = fix;
	if (s->before)
		s->before();
	if (!fix && s->unsafe) {
		gort_sched_preempt_unsafe_goid = UINT64_MAX;   /* nobody yet: see harm_me */
		gort_sched_preempt_unsafe = s->unsafe;
	}
	fflush(NULL);
	exit(gort_main(s->run, s->arg));
}

/* Where a thread blocked in a system call came from: read the words just
 * above its stack pointer (process_vm_readv: we are its parent) and name
 * the first return addresses that fall in our own functions.  The child is
 * a fork of this very program, so its addresses are ours and our symbol
 * table names them.  A heuristic stack scan, good enough to say "in
 * gort_atomic_load64, from gort_prof_buf_write". */
static void where(pid_t tid, uintptr_t sp, char *out, size_t cap)
{
	uintptr_t words[128];
	struct iovec local = { words, sizeof words }, remote = { (void *)sp, sizeof words };
	out[0] = '\0';
	ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	size_t k = 0;
	int found = 0;
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(uintptr_t) && found < 3; i++) {
		const struct gort_func *f = gort_runtime_findfunc(words[i] - 1);
		if (!f || strncmp(f->name, "gort_", 5) != 0)
			continue;
		k += (size_t)snprintf(out + k, cap > k ? cap - k : 0, "%s%s", found ? " < " : " in ", f->name);
		found++;
	}
}

/* Where a running thread is: stop it with ptrace (we are its parent),
 * read its registers, walk its frame pointers
 * with process_vm_readv, name the first gort frames.  x86-64 and aarch64,
 * natively; under qemu-user there is no ptrace of the target, and the
 * report says only "running". */
static void where_running(pid_t tid, char *out, size_t cap)
{
	out[0] = '\0';
#if defined(__x86_64__) || defined(__aarch64__)
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0)
		return;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0 || waitpid(tid, NULL, __WALL) != tid) {
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return;
	}
	struct user_regs_struct regs;
	struct iovec iov = { &regs, sizeof regs };
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) == 0) {
#if defined(__x86_64__)
		uintptr_t pc = regs.rip, fp = regs.rbp;
#else
		uintptr_t pc = regs.pc, fp = regs.regs[29];
#endif
		size_t k = 0;
		int found = 0;
		for (int depth = 0; depth < 16 && found < 3; depth++) {
			const struct gort_func *f = gort_runtime_findfunc(depth ? pc - 1 : pc);
			if (f && (found || strncmp(f->name, "gort_", 5) == 0 || depth == 0)) {
				k += (size_t)snprintf(out + k, cap > k ? cap - k : 0, "%s%s", found ? " < " : " in ",
					f->name);
				found++;
			}
			uintptr_t rec[2];
			struct iovec l = { rec, sizeof rec }, r = { (void *)fp, sizeof rec };
			if (!fp || process_vm_readv(tid, &l, 1, &r, 1, 0) != (ssize_t)sizeof rec || rec[0] <= fp)
				break;
			fp = rec[0];
			pc = rec[1];
		}
	}
	ptrace(PTRACE_DETACH, tid, NULL, NULL);
#else
	(void)tid, (void)cap;
#endif
}

/* Which of the child's threads are running or spinning, and where. */
static void whos_stuck(pid_t pid, char *buf, size_t cap)
{
	char path[320];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	size_t n = 0;
	buf[0] = '\0';
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n + 64 < cap) {
		if (e->d_name[0] == '.')
			continue;
		char stat[512];
		snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, stat, sizeof stat - 1);
		close(fd);
		if (r <= 0)
			continue;
		stat[r] = '\0';
		char *p = strrchr(stat, ')');
		int running = p && p[1] == ' ' && p[2] == 'R';
		/* In a system call?  A spinning lock yields the CPU between
		 * bursts, so look a few times to catch it there, with its sp. */
		char sc[256], at[160] = "";
		long nr = -2;
		unsigned long a[6], sp = 0, pc = 0;
		for (int tries = 0; tries < 200 && nr != SYS_sched_yield; tries++) {
			snprintf(path, sizeof path, "/proc/%d/task/%s/syscall", (int)pid, e->d_name);
			fd = open(path, O_RDONLY);
			r = fd >= 0 ? read(fd, sc, sizeof sc - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (r <= 0)
				break;
			sc[r] = '\0';
			if (sscanf(sc, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3],
				&a[4], &a[5], &sp, &pc) != 9) {
				nr = -2;   /* "running" */
				sp = 0;
				if (!running)
					break;
			}
		}
		if (!running && nr != SYS_sched_yield)
			continue;
		if (sp)
			where((pid_t)atoi(e->d_name), sp, at, sizeof at);
		else if (running)
			where_running((pid_t)atoi(e->d_name), at, sizeof at);
		n += (size_t)snprintf(buf + n, cap - n, "%sthread %s %s%s", n ? "; " : "", e->d_name,
			nr == SYS_sched_yield ? "spinning (sched_yield)" : "running", at);
	}
	closedir(d);
}

static void run_one(const struct scenario *s, int fix, int timeout_s, struct outcome *o)
{
	memset(o, 0, sizeof *o);
	int p[2];
	if (pipe(p) != 0) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	int64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		child_main(s, fix);
	}
	close(p[1]);
	size_t len = 0;
	int64_t deadline = t0 + (int64_t)timeout_s * 1000000000;
	for (;;) {
		int64_t left = deadline - now_ns();
		if (left <= 0) {
			o->timed_out = 1;
			whos_stuck(pid, o->stuck, sizeof o->stuck);
			kill(pid, SIGKILL);
			break;
		}
		struct pollfd pfd = { p[0], POLLIN, 0 };
		int r = poll(&pfd, 1, (int)(left / 1000000) + 1);
		if (r <= 0)
			continue;
		ssize_t n = read(p[0], o->out + len, sizeof o->out - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof o->out - 1)
			break;
	}
	o->out[len] = '\0';
	close(p[0]);
	waitpid(pid, &o->status, 0);
	o->elapsed_ns = now_ns() - t0;
	const char *r = strstr(o->out, "RESULT ");
	if (r && sscanf(r, "RESULT signals=%llu samples=%llu lostatomic=%llu lostfull=%llu",
		&o->signals, &o->samples, &o->lostatomic, &o->lostfull) == 4)
		o->have_result = 1;
}

static int clean_exit(const struct outcome *o)
{
	return !o->timed_out && WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0 && o->have_result;
}

static int reproduced(const struct scenario *s, const struct outcome *o)
{
	if (s->expect)   /* named, not found by the watchdog */
		return !o->timed_out && strstr(o->out, s->expect) != NULL;
	return o->timed_out || strstr(o->out, "deadlock: SIGPROF handler") != NULL;
}

/* The first line worth showing of what the child said. */
static void diagnosis(const struct scenario *s, const struct outcome *o, char *buf, size_t cap)
{
	const char *d = s->expect ? strstr(o->out, s->expect) : NULL;
	if (!d)
		d = strstr(o->out, "deadlock: ");
	if (!d)
		d = strstr(o->out, "FAIL: ");
	if (!d)
		d = strstr(o->out, "fatal error: ");
	if (!d)
		d = strstr(o->out, "panic: ");
	if (o->timed_out && !d) {
		snprintf(buf, cap, "hung: killed by the watchdog: %.200s", o->stuck[0] ? o->stuck : "no thread running");
		return;
	}
	if (!d && (d = strstr(o->out, "INFO: ")) != NULL)
		d += 6;   /* a passing run's own summary */
	if (!d) {
		buf[0] = '\0';
		return;
	}
	size_t n = strcspn(d, "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, d, n);
	buf[n] = '\0';
}

/* ------------------------------------------------------------------------
 * The table, and JSON.
 * ---------------------------------------------------------------------- */

struct row {
	const struct scenario *s;
	const char *na;
	int on_runs, on_pass, off_runs, off_repro;
	unsigned long long signals, samples, lostatomic;
	int64_t repro_ns_max;
	char diag[320];
	int ok;
};

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *target(void)
{
	static char t[128];
	snprintf(t, sizeof t, "%s/%s%s%s/%s", GORT_ARCH, GORT_ATOMIC64_BACKEND,
		GORT_ATOMIC64_SPINLOCK ? (GORT_ATOMIC64_LOCKS == 1 ? "(1 lock)" : "(hashed)") : "",
		GORT_DEBUG_RUNTIME ? "+debug" : "", GORT_PROFBUF_NATIVE32 ? "native32" : "atomic64");
	return t;
}

int main(int argc, char **argv)
{
	const char *only = NULL, *json = NULL;
	int fix_on = 1, fix_off = 1, runs = 1, timeout_s = 20, list = 0;
	static const struct option opts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "only", required_argument, NULL, 'o' },
		{ "fix", required_argument, NULL, 'f' },
		{ "runs", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (c) {
		case 'l': list = 1; break;
		case 'o': only = optarg; break;
		case 'f':
			if (!strcmp(optarg, "on"))
				fix_on = 1, fix_off = 0;
			else if (!strcmp(optarg, "off"))
				fix_on = 0, fix_off = 1;
			else if (!strcmp(optarg, "both"))
				fix_on = fix_off = 1;
			else {
				fprintf(stderr, "gort-deadlock-suite: --fix takes on, off or both, not %s\n", optarg);
				return 2;
			}
			break;
		case 'r':
			runs = atoi(optarg);
			if (runs < 1 || runs > 1000) {
				fprintf(stderr, "gort-deadlock-suite: --runs takes 1 to 1000\n");
				return 2;
			}
			break;
		case 'j': json = optarg; break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s < 1) {
				fprintf(stderr, "gort-deadlock-suite: --timeout takes seconds, at least 1\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: gort-deadlock-suite [--list] [--only NAME] [--fix=on|off|both] "
				"[--runs N] [--json FILE] [--timeout SECONDS]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	child_timeout_s = timeout_s;
	build_catalog();
	if (list) {
		for (int i = 0; i < ncatalog; i++) {
			const char *na = not_applicable(&catalog[i]);
			printf("%-32s %s%s%s\n", catalog[i].name, catalog[i].what, na ? "  [n/a here: " : "",
				na ? na : "");
			if (na)
				printf("%*s]\n", 0, "");
		}
		return 0;
	}

	struct row rows[64];
	int nrows = 0, failed = 0;
	int64_t t_start = now_ns();
	for (int i = 0; i < ncatalog; i++) {
		const struct scenario *s = &catalog[i];
		if (only && !strstr(s->name, only))
			continue;
		struct row *r = &rows[nrows++];
		memset(r, 0, sizeof *r);
		r->s = s;
		r->na = not_applicable(s);
		r->ok = 1;
		if (r->na) {
			fprintf(stderr, "%-32s n/a: %s\n", s->name, r->na);
			continue;
		}
		static struct outcome o;
		for (int k = 0; k < runs && fix_on; k++) {
			fprintf(stderr, "%-32s fix on,  run %d/%d ... ", s->name, k + 1, runs);
			run_one(s, 1, timeout_s, &o);
			r->on_runs++;
			int pass = clean_exit(&o);
			r->on_pass += pass;
			r->signals += o.signals;
			r->samples += o.samples;
			r->lostatomic += o.lostatomic;
			fprintf(stderr, "%s (%.2f s)\n", pass ? "pass" : "FAIL", o.elapsed_ns / 1e9);
			if (pass && !r->diag[0] && !s->hazard)
				diagnosis(s, &o, r->diag, sizeof r->diag);
			if (!pass) {
				diagnosis(s, &o, r->diag, sizeof r->diag);
				if (!r->diag[0])
					snprintf(r->diag, sizeof r->diag, "exit status %d", WIFEXITED(o.status) ?
						WEXITSTATUS(o.status) : 128 + WTERMSIG(o.status));
				fprintf(stderr, "---- its output:\n%s----\n", o.out);
			}
		}
		for (int k = 0; k < runs && fix_off && s->hazard; k++) {
			fprintf(stderr, "%-32s fix off, run %d/%d ... ", s->name, k + 1, runs);
			run_one(s, 0, timeout_s, &o);
			r->off_runs++;
			if (s->hazard == 2) {
				/* no hazard in this build: fix off must still run clean */
				int pass = clean_exit(&o) && !reproduced(s, &o);
				r->off_repro += pass;
				fprintf(stderr, "%s (%.2f s)\n", pass ? "no deadlock, as designed" : "FAIL",
					o.elapsed_ns / 1e9);
				if (!pass) {
					diagnosis(s, &o, r->diag, sizeof r->diag);
					fprintf(stderr, "---- its output:\n%s----\n", o.out);
				}
				continue;
			}
			int repro = reproduced(s, &o);
			r->off_repro += repro;
			if (repro && o.elapsed_ns > r->repro_ns_max)
				r->repro_ns_max = o.elapsed_ns;
			fprintf(stderr, "%s (%.2f s)\n", repro ? "deadlock reproduced" : "NOT REPRODUCED",
				o.elapsed_ns / 1e9);
			if (repro && !r->diag[0])
				diagnosis(s, &o, r->diag, sizeof r->diag);
			if (!repro)
				fprintf(stderr, "---- its output:\n%s----\n%s%s%s", o.out,
					o.timed_out ? "the watchdog saw: " : "", o.timed_out ? o.stuck : "",
					o.timed_out ? "\n" : "");
		}
		r->ok = r->on_pass == r->on_runs && r->off_repro == r->off_runs;
		failed += !r->ok;
	}

	printf("\ngort-deadlock-suite on %s, %d run%s per case\n\n", target(), runs, runs == 1 ? "" : "s");
	printf("%-30s %-26s %-30s %s\n", "scenario", "fix on", "fix off", "diagnosis");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		char on[64], off[64];
		if (r->na) {
			printf("%-30s %-26s %-30s %s\n", r->s->name, "n/a", "n/a", r->na);
			continue;
		}
		if (!r->on_runs)
			snprintf(on, sizeof on, "-");
		else
			snprintf(on, sizeof on, "%s %d/%d sig=%llu lost=%llu", r->on_pass == r->on_runs ? "pass" : "FAIL",
				r->on_pass, r->on_runs, r->signals / (unsigned long long)r->on_runs,
				r->lostatomic / (unsigned long long)r->on_runs);
		if (!r->s->hazard)
			snprintf(off, sizeof off, "%s", r->s->unsafe && !GORT_DEBUG_RUNTIME ?
				"needs the debug runtime" : "no fix to switch off");
		else if (!r->off_runs)
			snprintf(off, sizeof off, "-");
		else if (r->s->hazard == 2)
			snprintf(off, sizeof off, "%s %d/%d (%s)", r->off_repro == r->off_runs ? "clean" : "FAIL",
				r->off_repro, r->off_runs, GORT_PROFBUF_NATIVE32 ? "native32" : "other lock");
		else
			snprintf(off, sizeof off, "%s %d/%d in <%.0f ms", r->off_repro == r->off_runs ? "reproduced" : "MISSED",
				r->off_repro, r->off_runs, r->repro_ns_max / 1e6);
		printf("%-30s %-26s %-30s %s\n", r->s->name, on, off, r->diag);
	}
	printf("\n%d scenario%s, %d failed, %.1f s\n", nrows, nrows == 1 ? "" : "s", failed,
		(now_ns() - t_start) / 1e9);

	if (json) {
		FILE *f = fopen(json, "w");
		if (!f) {
			fprintf(stderr, "gort-deadlock-suite: %s: %s\n", json, strerror(errno));
			return 2;
		}
		fprintf(f, "{\"target\": ");
		json_str(f, target());
		fprintf(f, ", \"runs\": %d, \"failed\": %d, \"scenarios\": [", runs, failed);
		for (int i = 0; i < nrows; i++) {
			struct row *r = &rows[i];
			fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
			json_str(f, r->s->name);
			fprintf(f, ", \"applicable\": %s", r->na ? "false" : "true");
			if (r->na) {
				fprintf(f, ", \"why_not\": ");
				json_str(f, r->na);
			}
			fprintf(f, ", \"fix_on\": {\"runs\": %d, \"passed\": %d, \"signals\": %llu, \"samples\": %llu, "
				"\"lost_atomic64\": %llu}", r->on_runs, r->on_pass, r->signals, r->samples, r->lostatomic);
			fprintf(f, ", \"fix_off\": {\"expect\": \"%s\", \"runs\": %d, \"as_expected\": %d, "
				"\"max_ms_to_reproduce\": %.1f}, \"ok\": %s, \"diagnosis\": ",
				r->s->hazard == 1 ? "deadlock" : r->s->hazard == 2 ? "clean" : "not run",
				r->off_runs, r->off_repro, r->repro_ns_max / 1e6, r->ok ? "true" : "false");
			json_str(f, r->diag);
			fprintf(f, "}");
		}
		fprintf(f, "\n]}\n");
		fclose(f);
	}
	return failed ? 1 : 0;
}
