/*
 * bench.h -- what gort's benchmarks share: a clock, medians, and the one
 * output format, a line per case:
 *
 *     case=<name> value=<number> unit=<unit>
 *
 * Each figure is the median of several runs: these machines are shared
 * and noisy, and one run proves nothing.
 */
#ifndef GORT_BENCH_H
#define GORT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

/* Runs: GORT_BENCH_RUNS in the environment, default 5. */
static inline int bench_runs(void)
{
	const char *s = getenv("GORT_BENCH_RUNS");
	int n = s ? atoi(s) : 5;
	return n < 1 ? 1 : n > 101 ? 101 : n;
}

#endif /* GORT_BENCH_H */
