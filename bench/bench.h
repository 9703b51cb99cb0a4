/*
 * bench.h -- what gort's benchmarks share: a clock, medians, and the one
 * output format, a line per case:
 *
 *     case=<name> value=<number> unit=<unit>
 *
 * Each figure is the median of several runs: these machines are shared
 * and noisy, and one run proves nothing.
 *
 * --quick, the first argument (make test gives it): every case once, at a
 * thousandth of its size, to show that the benchmark still builds and
 * runs.  Its figures mean nothing.
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int bench_quick;

/* Take --quick off the front of argv; returns the new argc. */
static inline int bench_args(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
		bench_quick = 1;
		for (int i = 1; i < argc; i++)
			argv[i] = argv[i + 1];
		argc--;
	}
	return argc;
}

/* n, or a thousandth of it (at least 1) with --quick. */
static inline long bench_size(long n)
{
	return bench_quick ? (n / 1000 > 0 ? n / 1000 : 1) : n;
}

static inline uint64_t bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, bench_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void bench_print(const char *name, double value, const char *unit)
{
	printf("case=%s value=%.3g unit=%s\n", name, value, unit);
	fflush(stdout);
}

/* A program's cases, by name: bench_run runs those named in `only` (a
 * word holding their names), or every one when it is NULL or empty. */
struct bench_case {
	const char *name;
	void (*fn)(void);
};

static inline void bench_run(const struct bench_case *cases, size_t n, const char *only)
{
	for (size_t i = 0; i < n; i++)
		if (!only || !*only || strstr(only, cases[i].name))
			cases[i].fn();
}

/* Runs: GORT_BENCH_RUNS in the environment, default 5; 1 with --quick. */
static inline int bench_runs(void)
{
	if (bench_quick)
		return 1;
	const char *s = getenv("GORT_BENCH_RUNS");
	int n = s ? atoi(s) : 5;
	return n < 1 ? 1 : n > 101 ? 101 : n;
}

/* Resident memory now, in bytes (statm's second field). */
static inline long bench_rss_bytes(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * sysconf(_SC_PAGESIZE);
}

/* --- a signal's round trip: what a handler costs ----------------------------
 *
 * The cost of a handler is a signal queued to this thread and handled --
 * the system call, the delivery, the handler, sigreturn -- minus the same
 * round trip to bench_sig_empty.  The signals go with si_code SI_TIMER,
 * as a timer's do, so a SIGPROF takes the path a real sample takes.  The
 * time is the thread's CPU time, not the wall clock: the whole trip runs
 * on this thread's CPU, and on a shared machine the wall clock would
 * count other processes' turns too.  bench_sig_deep makes the trip from
 * `depth` frames down. */
static inline void bench_sig_empty(int sig)
{
	(void)sig;
}

static inline double bench_sig_roundtrips(int sig, int n)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_TIMER;
	pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (int i = 0; i < n; i++)
		syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}

static __attribute__((noinline, unused)) double bench_sig_deep(int depth, int sig, int n)
{
	if (depth > 1)
		return bench_sig_deep(depth - 1, sig, n) + 0.0 * (double)depth;
	return bench_sig_roundtrips(sig, n);
}

#endif /* GORT_BENCH_H */
