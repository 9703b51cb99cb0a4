/*
 * callers.c -- do a profile's stacks keep the callers of libc (issue 13)?
 * bench/go_src/callers.go is the same program in Go; bench/callers.py
 * runs it under gort's profiler, under gperftools' and as Go, and makes
 * the tables.
 *
 * Five goroutines, each wired to a thread of its own (gort_lock_thread),
 * spend a fixed amount of work -- a count of iterations, not a time -- in
 * one kind of call each:
 *
 *   malloc   caller_malloc: malloc and free of 16 B to 4 KiB, 64 live
 *   qsort    caller_qsort: qsort of 2048 ints, the comparator ours
 *   clock    caller_clock: clock_gettime(CLOCK_MONOTONIC), the vDSO on
 *            x86-64
 *   memcpy   caller_memcpy: memcpy of 1 MiB buffers
 *   self     caller_self: a loop of our own (the control: frame pointers
 *            all the way)
 *
 * Each caller is called by its goroutine's start function, root_<kind>,
 * and each name is the only one of its kind, so that a profile's stack
 * says whose it is by name alone (gperftools has no labels).
 *
 * What each kind truly costs: its goroutine reads its thread's CPU clock
 * (CLOCK_THREAD_CPUTIME_ID) just before and just after the call.  The
 * goroutine is wired to the thread, so that thread ran nothing else in
 * between: the difference is the kind's CPU time, and every sample taken
 * in that time, by any profiler, belongs to that call.  The program
 * prints one line per kind and one for the whole,
 *
 *     callers kind=<kind> cpu_ns=<n>
 *     callers total cpu_ns=<n>
 *
 * the whole being the process's CPU time (getrusage: every thread) over
 * the profiled span -- from gort_prof_start to gort_prof_stop in mode
 * gort; from the start of the process in mode plain, whose profiler
 * (gperftools, LD_PRELOAD and CPUPROFILE) starts as the process is
 * loaded.  callers.py divides one by the other: the share of CPU a
 * perfect profile would give the kind.
 *
 * gort weighs each sample by the CPU time it stands for, so mode gort
 * also prints the CPU time its whole profile stands for (gort_prof_stats),
 *
 *     callers sampled cpu_ns=<n>
 *
 * gperftools' per-thread timers (CPUPROFILE_PER_THREAD_TIMERS=1) sample
 * only the threads that call its ProfilerRegisterThread, and the initial
 * thread, which it registers itself.  So in mode plain, when that function
 * is there (libprofiler preloaded), each kind's thread registers, and one
 * more line gives the CPU time of exactly the threads so sampled: the
 * kinds' and the initial thread's (from the start of the process; a kind
 * whose goroutine was wired to the initial thread counted once),
 *
 *     callers registered cpu_ns=<n>
 *
 *     bench_callers [--quick] gort HZ PROFILE   gort profiles itself at HZ
 *     bench_callers [--quick] plain             gort's profiler stays off
 *     bench_callers [--quick] handler           the SIGPROF handler's cost
 *
 * handler: the handler's own cost per sample, as bench/prof.c measures it
 * (a SIGPROF queued to ourselves with si_code SI_TIMER, minus the same
 * round trip to an empty SIGUSR1 handler), with the goroutine's stack N
 * frames deep in our own code (handler_own_<N>frames), and with qsort
 * between two halves of N/2 frames (handler_libc_<N>frames: the signals
 * are sent from inside the comparator), N = 4, 16, 32, 64.  Time is this
 * thread's CPU time, so that other processes on a shared machine do not
 * count.  One line per case, case=<name> value=<ns> unit=ns, each the
 * median of 3 * GORT_BENCH_RUNS (at least 15) differences between a
 * measurement with SIGPROF and the same with SIGUSR1 right after it.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "gort.h"

/* Every function a stack is matched against keeps its one name: gcc
 * would otherwise make clones (caller_qsort.constprop.0) or inline it. */
#if defined(__has_attribute)
#if __has_attribute(noipa)
#define NAMED __attribute__((noipa))
#endif
#endif
#ifndef NAMED
#define NAMED __attribute__((noinline))
#endif

static volatile uint64_t sink;

static int64_t cpu_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t process_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
		((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* --- the callers -------------------------------------------------------------
 * The iteration counts make each kind about 0.6 s of CPU on this machine;
 * what each really took is measured, so they need not be equal. */

#define NSLOTS 64

NAMED void caller_malloc(long n)
{
	void *slot[NSLOTS] = { 0 };
	uint32_t x = 1;
	for (long i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		unsigned k = (x >> 8) % NSLOTS;
		free(slot[k]);
		slot[k] = malloc(16 + (x >> 20) % 4080);
		*(volatile char *)slot[k] = (char)i;
	}
	for (int k = 0; k < NSLOTS; k++)
		free(slot[k]);
}

NAMED int cmp_ints(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

#define NSORT 2048

NAMED void caller_qsort(long n)
{
	static int v[NSORT];   /* one goroutine sorts */
	uint32_t x = 2;
	for (long i = 0; i < n; i++) {
		for (int k = 0; k < NSORT; k++)
			v[k] = (int)(x = x * 1664525u + 1013904223u);
		qsort(v, NSORT, sizeof v[0], cmp_ints);
	}
	sink = (uint64_t)v[0];
}

NAMED void caller_clock(long n)
{
	struct timespec ts;
	uint64_t sum = 0;
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sum += (uint64_t)ts.tv_nsec;
	}
	sink = sum;
}

#define NCOPY (1 << 20)

NAMED void caller_memcpy(long n)
{
	static char a[NCOPY], b[NCOPY];   /* one goroutine copies */
	for (long i = 0; i < n; i++) {
		a[i % NCOPY] = (char)i;
		memcpy(i % 2 ? a : b, i % 2 ? b : a, NCOPY);
	}
	sink = (uint64_t)a[0] + (uint64_t)b[1];
}

NAMED void caller_self(long n)
{
	uint64_t x = 3;
	for (long i = 0; i < n; i++)
		x = x * 6364136223846793005ull + (uint64_t)i;
	sink = x;
}

enum { KMALLOC, KQSORT, KCLOCK, KMEMCPY, KSELF, NKINDS };

static struct kind {
	const char *name;
	void (*fn)(long);
	long n;
	void (*root)(void *);   /* set below */
	int64_t cpu_ns;         /* written by its goroutine before wg_done */
	int initial;            /* ran on the initial thread; likewise */
} kinds[NKINDS] = {
	{ "malloc", caller_malloc, 7000000, NULL, 0, 0 },
	{ "qsort", caller_qsort, 3000, NULL, 0, 0 },
	{ "clock", caller_clock, 20000000, NULL, 0, 0 },
	{ "memcpy", caller_memcpy, 15000, NULL, 0, 0 },
	{ "self", caller_self, 480000000, NULL, 0, 0 },
};

static gort_waitgroup wg;

/* gperftools' ProfilerRegisterThread, if libprofiler is loaded (mode
 * plain), and the thread it registers by itself. */
static void (*register_thread)(void);
static pthread_t initial_thread;

__attribute__((constructor))
static void find_initial_thread(void)
{
	initial_thread = pthread_self();
}

/* Each kind's goroutine: wired to its thread, so that the thread's CPU
 * clock counts this call and nothing else; labelled with its kind, so
 * that gort's profile can be checked against the clock (callers.py's
 * label column). */
static void run_kind(struct kind *k)
{
	gort_lock_thread();
	if (register_thread)
		register_thread();   /* this thread gets a timer of its own */
	gort_labels_set(gort_labels_with(NULL, "kind", k->name));
	int64_t t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	k->fn(bench_size(k->n));
	k->cpu_ns = cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
	k->initial = pthread_equal(pthread_self(), initial_thread);
	gort_unlock_thread();
	gort_waitgroup_done(&wg);
}

/* The barrier after each call keeps it from being a tail call, which
 * would take the root's frame off the stack. */
#define ROOT(kind) NAMED void root_##kind(void *arg) \
	{ \
		run_kind(arg); \
		__asm__ __volatile__("" ::: "memory"); \
	}
ROOT(malloc)
ROOT(qsort)
ROOT(clock)
ROOT(memcpy)
ROOT(self)

static void run_kinds(void)
{
	void (*roots[NKINDS])(void *) = { root_malloc, root_qsort, root_clock, root_memcpy, root_self };
	gort_waitgroup_add(&wg, NKINDS);
	for (int i = 0; i < NKINDS; i++)
		gort_go(roots[i], &kinds[i]);
	gort_waitgroup_wait(&wg);
}

static void print_kinds(int64_t total)
{
	for (int i = 0; i < NKINDS; i++)
		printf("callers kind=%s cpu_ns=%lld\n", kinds[i].name, (long long)kinds[i].cpu_ns);
	printf("callers total cpu_ns=%lld\n", (long long)total);
	fflush(stdout);
}

/* --- the handler's cost ---------------------------------------------------- */

/* The signals of one measurement through qsort: the comparator's first
 * call sends them, `above` frames deep, and the rest only compare.  One
 * goroutine measures at a time. */
static struct {
	int above, sig, n, done;
	double ns;
} through;

static int cmp_signal(const void *a, const void *b)
{
	if (!through.done) {
		through.done = 1;
		through.ns = bench_sig_deep(through.above, through.sig, through.n);
	}
	return cmp_ints(a, b);
}

static __attribute__((noinline)) double via_qsort(int below, int above, int sig, int n)
{
	if (below > 1)
		return via_qsort(below - 1, above, sig, n) + 0.0 * (double)below;
	int v[2] = { 2, 1 };
	through.above = above;
	through.sig = sig;
	through.n = n;
	through.done = 0;
	qsort(v, 2, sizeof v[0], cmp_signal);
	return through.ns;
}

static void handler_cost(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = bench_sig_empty;
	sigaction(SIGUSR1, &sa, NULL);
	/* At 1 Hz the profiler's own timer adds nothing: the signals are ours. */
	if (gort_prof_start("/dev/null", 1) != 0) {
		fprintf(stderr, "bench_callers: cannot start the profiler\n");
		exit(1);
	}
	/* A round trip is some 4 us here and the handler a tenth of that, so
	 * each figure is the median of many differences between a SIGPROF
	 * measurement and the SIGUSR1 one right after it. */
	int reps = bench_quick ? 1 : 3 * bench_runs() < 15 ? 15 : 3 * bench_runs();
	int n = (int)bench_size(5000);
	reps = reps > 101 ? 101 : reps;
	static const int depths[] = { 4, 16, 32, 64 };   /* 32: bench/prof.c's */
	for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
		double own[101], libc[101];
		int depth = depths[d];
		for (int r = 0; r < reps; r++) {
			own[r] = bench_sig_deep(depth, SIGPROF, n) - bench_sig_deep(depth, SIGUSR1, n);
			libc[r] = via_qsort(depth / 2, depth / 2, SIGPROF, n) -
				via_qsort(depth / 2, depth / 2, SIGUSR1, n);
		}
		char name[64];
		snprintf(name, sizeof name, "handler_own_%dframes", depth);
		bench_print(name, bench_median(own, reps), "ns");
		snprintf(name, sizeof name, "handler_libc_%dframes", depth);
		bench_print(name, bench_median(libc, reps), "ns");
	}
	gort_prof_stop();
}

/* --- main ------------------------------------------------------------------ */

static int mode_argc;
static char **mode_argv;

static int bench_main(void *arg)
{
	(void)arg;
	const char *mode = mode_argv[1];
	if (strcmp(mode, "handler") == 0) {
		handler_cost();
	} else if (strcmp(mode, "gort") == 0) {
		int hz = atoi(mode_argv[2]);
		int err = gort_prof_start(mode_argv[3], hz);
		if (err != 0) {
			fprintf(stderr, "bench_callers: gort_prof_start(%s, %d): %s\n", mode_argv[3], hz,
				strerror(-err));
			return 1;
		}
		int64_t c0 = process_cpu_ns();
		run_kinds();
		int64_t total = process_cpu_ns() - c0;
		if ((err = gort_prof_stop()) != 0) {
			fprintf(stderr, "bench_callers: gort_prof_stop: %s\n", strerror(-err));
			return 1;
		}
		print_kinds(total);
		struct gort_prof_stats st;
		if (gort_prof_stats(&st) == 0)
			printf("callers sampled cpu_ns=%lld\n", (long long)st.cpu_ns);
	} else {
		*(void **)&register_thread = dlsym(RTLD_DEFAULT, "ProfilerRegisterThread");
		run_kinds();
		/* The rest of the process, until gperftools writes its profile
		 * at exit, costs next to nothing. */
		print_kinds(process_cpu_ns());
		clockid_t clock;
		if (register_thread && pthread_getcpuclockid(initial_thread, &clock) == 0) {
			int64_t sampled = cpu_ns(clock);
			for (int i = 0; i < NKINDS; i++)   /* the initial thread's counts itself */
				sampled += kinds[i].initial ? 0 : kinds[i].cpu_ns;
			printf("callers registered cpu_ns=%lld\n", (long long)sampled);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	argc = bench_args(argc, argv);
	int ok = argc >= 2 && ((strcmp(argv[1], "gort") == 0 && argc == 4) ||
		(strcmp(argv[1], "plain") == 0 && argc == 2) ||
		(strcmp(argv[1], "handler") == 0 && argc == 2));
	if (!ok) {
		fprintf(stderr, "usage: bench_callers [--quick] gort HZ PROFILE | plain | handler\n");
		return 2;
	}
	mode_argc = argc;
	mode_argv = argv;
	return gort_main(bench_main, NULL);
}
