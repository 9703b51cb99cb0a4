/*
 * seed20146.c -- golang/go#20146, live.
 *
 * Go's regression test for the bug (TestAtomicLoadStore64) in C, made
 * hungrier: with the CPU profiler on at 1000 Hz, goroutines spin on 64-bit
 * atomic loads and adds for a few seconds.  On a build whose 64-bit
 * atomics are spinlocks (32-bit MIPS, or -Datomic64=spinlock anywhere)
 * SIGPROF keeps landing while an atomic64 lock is held.
 *
 *   - With the fix (the default) the handler sees the PC in the atomic
 *     package, only counts, and the program finishes; it prints the
 *     ledger, with the signals that landed in atomic64 code.
 *   - With GORTDEBUG=lostatomic64=0 the handler writes its sample anyway,
 *     spins on the lock its own thread holds, and the program hangs.  A
 *     watchdog thread sees progress stop, names the M stuck in its
 *     handler, and exits with status 3.
 *
 * See docs/deadlock-20146.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "sched/sched.h"

static volatile uint64_t words[64 * 8] __attribute__((aligned(64)));
static volatile uint32_t progress, stop;
static gort_waitgroup wg;

static void spinner(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	while (!atomic_load32(&stop)) {
		/* 64 cache lines: every lock of a hashed table, whichever the
		 * profile buffer's positions use */
		for (int i = 0; i < 64; i++) {
			gort_atomic_add64(&words[i * 8 + k], 1);
			while (gort_atomic_load64(&words[i * 8 + k]) == 0)
				;
		}
		atomic_add32(&progress, 1);
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static void *watchdog(void *arg)
{
	(void)arg;
	uint32_t last = 0;
	for (int still = 0;; usleep(100000)) {
		uint32_t p = atomic_load32(&progress);
		still = p == last ? still + 1 : 0;
		last = p;
		if (still < 20)
			continue;
		printf("\nwatchdog: no progress for 2 s\n");
		for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink)
			if (m->in_sighandler)
				printf("watchdog: M%lld is stuck in its SIGPROF handler: deadlock (golang/go#20146)\n",
					(long long)m->id);
		fflush(stdout);
		_exit(3);
	}
	return NULL;
}

static int seconds = 3;
static const char *profile = "/dev/null";

static int run(void *arg)
{
	(void)arg;
	printf("64-bit atomics: %s", gort_atomic64_backend());
	if (gort_atomic64_locks())
		printf(" (%u lock%s)", gort_atomic64_locks(), gort_atomic64_locks() == 1 ? ": Go's layout" : "s");
	printf("; the #20146 fix is %s\n", gort_runtime_debug("lostatomic64", 1) ? "on" : "OFF");
	printf("profiling at 1000 Hz while 4 goroutines hammer 64-bit atomics for %d s ...\n", seconds);
	fflush(stdout);

	pthread_t t;
	pthread_create(&t, NULL, watchdog, NULL);
	int err = gort_prof_start(profile, 1000);
	if (err) {
		fprintf(stderr, "seed20146: cannot profile to %s: %s\n", profile, strerror(-err));
		return 1;
	}
	gort_waitgroup_add(&wg, 4);
	for (uintptr_t k = 0; k < 4; k++)
		gort_go(spinner, (void *)k);
	gort_sleep((int64_t)seconds * 1000000000);
	atomic_store32(&stop, 1);
	gort_waitgroup_wait(&wg);
	gort_prof_stop();

	struct gort_prof_stats st;
	gort_prof_stats(&st);
	printf("done: %llu SIGPROFs = %llu samples + %llu in atomic64 code + %llu lost to a full buffer\n",
		(unsigned long long)st.signals, (unsigned long long)st.samples,
		(unsigned long long)st.lost_atomic64, (unsigned long long)st.lost_full);
	return 0;
}

/* usage: seed20146 [SECONDS [PROFILE]] */
int main(int argc, char **argv)
{
	if (argc > 1 && atoi(argv[1]) > 0)
		seconds = atoi(argv[1]);
	if (argc > 2)
		profile = argv[2];
	return gort_main(run, NULL);
}
