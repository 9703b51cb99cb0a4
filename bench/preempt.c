/*
 * preempt.c -- what preemption buys: how late a sleeping goroutine wakes
 * while CPU-bound goroutines that never call the runtime hold the Ps;
 * bench/go_src/preempt.go is the same program in Go, and bench/compare.py
 * runs the two side by side.
 *
 *     bench_preempt [--quick]
 *
 * Each case sets the Ps (1, or all of them: GORTMAXPROCS's default),
 * starts as many hogs as Ps, twice as many, or none, and then sleeps
 * 10 ms at a time, 100 times (at most 4 s in all), noting how far past
 * its deadline each sleep ended.  One line per figure
 * (case=<name> value=<number> unit=<unit>):
 *
 *   late_p50_<procs>_<hogs>   median lateness of the 100 wake-ups, ms
 *   late_p99_<procs>_<hogs>   99th percentile (the 99th of 100), ms
 *
 * where <procs> is 1p or allp and <hogs> is idle (no hogs: the timer's
 * own precision), 1x (a hog per P) or 2x (two).  A hog is a loop of
 * inline arithmetic with a volatile sink, polling a flag: no call at
 * all, so only an asynchronous preemption (SIGURG) takes its P away.
 * What the hogs get done is not measured.
 *
 * Then the hogged cases again with GORTDEBUG=asyncpreemptoff=1, which
 * leaves only the cooperative preemption at gort_go -- these hogs never
 * reach it:
 *
 *   late_p50_<procs>_<hogs>_asyncpreemptoff, late_p99_..._asyncpreemptoff
 *   wakeups_<procs>_<hogs>_asyncpreemptoff   wake-ups seen in the 1 s
 *
 * Without the signal nothing takes a hog's P away, so the sleeper wakes
 * only when a watchdog (a plain thread, outside the runtime) raises the
 * hogs' stop flag after 1 s: its lateness is that bound, not a
 * measurement, and would be unbounded without it.  Go has no such rows
 * (GODEBUG=asyncpreemptoff=1 would hang its side: no goroutine could run
 * to stop the hogs), so compare.py prints go=nan for them.
 *
 * GORTDEBUG is read once, at start-up, so the two halves are two
 * processes: this program, run without --part, starts itself twice, with
 * --part on and then with --part off under GORTDEBUG=asyncpreemptoff=1
 * (each bounded by alarm(2)), and never starts the runtime itself.
 */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "gort.h"

extern char **environ;

#define MS 1000000LL
#define SLEEP (10 * MS)            /* each sleep */
#define SAMPLES 100                /* sleeps per case */
#define CASE_LIMIT (4000 * MS)     /* a case's sleeps end by then */
#define COOP_LIMIT (1000 * MS)     /* the watchdog, without the signal */
#define CHILD_ALARM 120            /* seconds: a part's last resort */

static int procs_all;
static int coop;                   /* --part off: GORTDEBUG=asyncpreemptoff=1 */

/* --- the hogs ------------------------------------------------------------- */

static volatile uint32_t stop;     /* raised by the sleeper, or the watchdog */
static volatile uint32_t sink;
static gort_waitgroup hog_wg;

/* No call between the poll of stop and the next: a 32-bit LCG (no
 * libgcc helper on any target), the empty asm keeping the compiler from
 * folding the inner loop. */
static void hog(void *arg)
{
	uint32_t x = (uint32_t)(uintptr_t)arg + 1;
	while (!stop) {
		for (int i = 0; i < 4096; i++) {
			x = x * 1664525u + 1013904223u;
			__asm__ __volatile__("" : "+r"(x));
		}
		sink = x;
	}
	gort_waitgroup_done(&hog_wg);
}

static void start_hogs(void *arg)
{
	int n = (int)(uintptr_t)arg;
	for (int i = 0; i < n; i++)
		gort_go(hog, (void *)(uintptr_t)i);
}

/* --- the watchdog: a thread of its own, so that it runs when no goroutine can */

struct watch {
	pthread_t thread;
	int64_t limit;
	volatile uint32_t over;    /* the case ended first */
};

static void *watchdog(void *arg)
{
	struct watch *w = arg;
	uint64_t end = bench_now() + (uint64_t)w->limit;
	struct timespec ts = { 0, 2 * MS };
	while (!w->over && bench_now() < end)
		nanosleep(&ts, NULL);
	stop = 1;
	return NULL;
}

/* --- a case ---------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile: the smallest sample with p of them at or
 * below it. */
static double percentile_ms(const int64_t *v, int n, double p)
{
	int k = (int)(p * n + 0.999999);
	k = k < 1 ? 1 : k > n ? n : k;
	return (double)v[k - 1] / (double)MS;
}

static void report(const char *what, const char *name, double v, const char *unit)
{
	printf("case=%s_%s%s value=%.4g unit=%s\n", what, name, coop ? "_asyncpreemptoff" : "", v, unit);
	fflush(stdout);
}

static void run_case(const char *name, int all, int hogs_per_p)
{
	int procs = all ? procs_all : 1;
	int nhogs = hogs_per_p * procs;
	long samples = bench_size(SAMPLES);
	static int64_t late[SAMPLES];

	gort_gomaxprocs(procs);
	stop = 0;
	struct watch w = { .limit = coop ? (bench_quick ? 50 * MS : COOP_LIMIT) : CASE_LIMIT + 2000 * MS };
	if (pthread_create(&w.thread, NULL, watchdog, &w) != 0) {
		fprintf(stderr, "bench_preempt: pthread_create failed\n");
		exit(1);
	}
	gort_waitgroup_add(&hog_wg, nhogs);

	/* The hogs are started by a goroutine of their own once the first
	 * sleep has begun: started from here, without preemption they could
	 * keep this goroutine from ever reaching its first sleep (it is
	 * runnable, and never runs again until the watchdog stops them), and
	 * a case would have no wake-up to measure.  This way the first sleep
	 * is late by all the hogs hold the Ps, as the ones after it are. */
	int64_t end = gort_now() + CASE_LIMIT;
	int n = 0;
	do {
		int64_t t0 = gort_now();
		if (n == 0)
			gort_go(start_hogs, (void *)(uintptr_t)nhogs);
		gort_sleep(SLEEP);
		late[n++] = gort_now() - t0 - SLEEP;
	} while (n < samples && !stop && gort_now() < end);
	stop = 1;
	gort_waitgroup_wait(&hog_wg);
	w.over = 1;
	gort_syscall_enter();   /* the watchdog's last nap, off the P */
	pthread_join(w.thread, NULL);
	gort_syscall_exit();

	if (n == 0) {
		fprintf(stderr, "bench_preempt: %s: no wake-up\n", name);
		exit(1);
	}
	qsort(late, (size_t)n, sizeof late[0], cmp_i64);
	report("late_p50", name, percentile_ms(late, n, 0.50), "ms");
	report("late_p99", name, percentile_ms(late, n, 0.99), "ms");
	if (coop)
		report("wakeups", name, n, "wakeups");
}

static int bench_main(void *arg)
{
	(void)arg;
	static const struct { const char *name; int all, hogs; } cases[] = {
		{ "1p_idle", 0, 0 }, { "1p_1x", 0, 1 }, { "1p_2x", 0, 2 },
		{ "allp_idle", 1, 0 }, { "allp_1x", 1, 1 }, { "allp_2x", 1, 2 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (!coop || cases[i].hogs)   /* idle is idle either way */
			run_case(cases[i].name, cases[i].all, cases[i].hogs);
	return 0;
}

/* --- the driver ---------------------------------------------------------- */

/* Run this program again with --part <part>, GORTDEBUG extended by
 * debug if it is not NULL; fail if the part fails. */
static void run_part(const char *part, const char *debug)
{
	char *argv[5], **a = argv;
	*a++ = "bench_preempt";
	if (bench_quick)
		*a++ = "--quick";
	*a++ = "--part";
	*a++ = (char *)part;
	*a = NULL;

	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof *env);
	char *gortdebug = NULL;
	const char *old = getenv("GORTDEBUG");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!debug || strncmp(environ[i], "GORTDEBUG=", 10) != 0)
			env[k++] = environ[i];
	if (debug) {
		size_t len = strlen("GORTDEBUG=") + (old ? strlen(old) + 1 : 0) + strlen(debug) + 1;
		gortdebug = malloc(len);
		snprintf(gortdebug, len, "GORTDEBUG=%s%s%s", old && *old ? old : "", old && *old ? "," : "", debug);
		env[k++] = gortdebug;
	}
	env[k] = NULL;

	fflush(stdout);
	pid_t pid;
	int err = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, env);
	if (err) {
		fprintf(stderr, "bench_preempt: posix_spawn: %s\n", strerror(err));
		exit(1);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_preempt: --part %s failed (status 0x%x)\n", part, status);
		exit(1);
	}
	free(gortdebug);
	free(env);
}

int main(int argc, char **argv)
{
	argc = bench_args(argc, argv);
	if (argc > 2 && strcmp(argv[1], "--part") == 0) {
		coop = strcmp(argv[2], "off") == 0;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(CHILD_ALARM);
		procs_all = gort_gomaxprocs(0);
		return gort_main(bench_main, NULL);
	}
	if (argc > 1) {
		fprintf(stderr, "usage: bench_preempt [--quick]\n");
		return 2;
	}
	run_part("on", NULL);
	run_part("off", "asyncpreemptoff=1");
	return 0;
}
