/*
 * demo.c -- `make demo`: two classic concurrent Go programs, in C on gort.
 *
 * 1. The concurrent prime sieve from the Go tour: a goroutine generates
 *    2, 3, 4, ...; each prime found adds a filter goroutine to a daisy
 *    chain of unbuffered channels.  Finding the first N primes takes N
 *    goroutines and about N^2 / 2 channel hand-offs.
 *
 * 2. A worker pool on every P: workers take ranges from a jobs channel,
 *    count the primes in each by trial division, and send counts to a
 *    results channel; a WaitGroup tells when they are all done.
 *
 * Both run under gort's CPU profiler: the demo prints the top of the
 * profile with the runtime's own report and writes the pprof file named
 * on its command line (demo.prof by default).  It prints what it found
 * and how long it took, and exits 1 if a result is wrong (the known counts
 * of primes are checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort.h"

/* --- the sieve ---------------------------------------------------------- */

static void generate(void *arg)
{
	gort_chan *out = arg;
	for (int i = 2;; i++)
		gort_chan_send(out, &i);
}

struct filter {
	gort_chan *in, *out;
	int prime;
};

static void filter(void *arg)
{
	struct filter *f = arg;
	for (;;) {
		int i;
		gort_chan_recv(f->in, &i);
		if (i % f->prime != 0)
			gort_chan_send(f->out, &i);
	}
}

static int sieve(int n, int *last)
{
	gort_chan *ch = gort_chan_make(sizeof(int), 0);
	gort_go(generate, ch);
	struct filter *fs = calloc((size_t)n, sizeof *fs);
	int prime = 0;
	for (int i = 0; i < n; i++) {
		gort_chan_recv(ch, &prime);
		if (i < 10 || i == n - 1)
			printf(i == n - 1 ? "... %d\n" : "%d ", prime);
		fs[i] = (struct filter){ ch, gort_chan_make(sizeof(int), 0), prime };
		gort_go(filter, &fs[i]);
		ch = fs[i].out;
	}
	*last = prime;
	/* The sieve's goroutines block forever now; gort_main's return ends
	 * them, as the end of main does in Go. */
	return n;
}

/* --- the worker pool -------------------------------------------------- */

#define RANGE 20000

struct pool {
	gort_chan *jobs, *results;
	gort_waitgroup wg;
};

static int isprime(int n)
{
	if (n < 2)
		return 0;
	for (int d = 2; d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

static void worker(void *arg)
{
	struct pool *p = arg;
	int lo;
	while (gort_chan_recv(p->jobs, &lo)) {
		int count = 0;
		for (int n = lo; n < lo + RANGE; n++)
			count += isprime(n);
		gort_chan_send(p->results, &count);
	}
	gort_waitgroup_done(&p->wg);
}

static void feeder(void *arg)
{
	struct pool *p = arg;
	for (int lo = 0; lo < 2000000; lo += RANGE)
		gort_chan_send(p->jobs, &lo);
	gort_chan_close(p->jobs);
}

static void closer(void *arg)
{
	struct pool *p = arg;
	gort_waitgroup_wait(&p->wg);
	gort_chan_close(p->results);
}

static long pool(int workers)
{
	struct pool p = { gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 64), { 0 } };
	gort_waitgroup_add(&p.wg, workers);
	for (int i = 0; i < workers; i++)
		gort_go(worker, &p);
	gort_go(feeder, &p);
	gort_go(closer, &p);
	long total = 0;
	int count;
	while (gort_chan_recv(p.results, &count))
		total += count;
	gort_chan_free(p.jobs);
	gort_chan_free(p.results);
	return total;
}

static int demo(void *arg)
{
	const char *profile = arg;
	int ok = 1, procs = gort_gomaxprocs(0);
	int err = gort_prof_start(profile, 1000);
	if (err) {
		fprintf(stderr, "demo: cannot profile to %s: %s\n", profile, strerror(-err));
		return 1;
	}

	printf("gort %s demo: %d P%s\n\n", "0.1", procs, procs == 1 ? "" : "s");
	printf("1. concurrent prime sieve, first 2000 primes:\n   ");
	int last;
	int64_t t0 = gort_now();
	int n = sieve(2000, &last);
	double ms = (double)(gort_now() - t0) / 1e6;
	printf("   %d goroutines in a chain, the 2000th prime is %d (want 17389): %.1f ms\n\n",
		n + 1, last, ms);
	ok &= last == 17389;

	printf("2. worker pool on %d P%s: primes below 2,000,000 in 100 jobs of %d\n", procs,
		procs == 1 ? "" : "s", RANGE);
	t0 = gort_now();
	long total = pool(4 * procs);
	ms = (double)(gort_now() - t0) / 1e6;
	printf("   %d workers found %ld primes (want 148933): %.1f ms\n\n", 4 * procs, total, ms);
	ok &= total == 148933;

	err = gort_prof_stop();
	if (err) {
		fprintf(stderr, "demo: writing %s: %s\n", profile, strerror(-err));
		return 1;
	}
	struct gort_prof_stats st;
	gort_prof_stats(&st);
	printf("3. the CPU profile (%llu samples, %llu SIGPROFs landed in atomic64 code):\n\n",
		(unsigned long long)st.samples, (unsigned long long)st.lost_atomic64);
	gort_prof_report(stdout, 8);
	printf("\n   written to %s; explore it with\n       go tool pprof -http=:8080 %s\n\n",
		profile, profile);

	printf("%s\n", ok ? "all results correct" : "WRONG RESULT");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	return gort_main(demo, argc > 1 ? argv[1] : "demo.prof");
}
