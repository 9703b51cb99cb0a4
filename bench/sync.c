/*
 * sync.c -- issue 14's tools against Go's: bench/go_src/sync.go is the
 * same program in Go, and bench/compare.py runs the two side by side.
 *
 *   rwmutex_read    a goroutine per P, each taking and releasing a read
 *                   lock in a loop, all Ps: ns per rlock/runlock (wall)
 *   rwmutex_mixed   the same with one operation in 10 a write lock that
 *                   bumps a counter, all Ps: ns per operation (wall)
 *   cond_pingpong   two goroutines taking turns through a Cond and a
 *                   mutex, 1 P: ns per turn
 *   semaphore       4 goroutines per P, each acquiring 1 of a weighted
 *                   semaphore of P units and releasing it, all Ps: ns per
 *                   acquire/release.  Go has no weighted semaphore in its
 *                   standard library (it is golang.org/x/sync's), so its
 *                   side is the idiom Go programs use instead, a buffered
 *                   channel of P slots
 *   ctx_cancel      a cancellable child of the background made, cancelled
 *                   (and, in gort, freed), 1 P: ns per context
 *   ctx_timeout     the same with a one-hour deadline: a timer armed and
 *                   stopped, 1 P: ns per context
 *   select_timeout  a select on a ready channel with a one-hour timeout
 *                   that never fires, 1 P: ns per select.  gort's
 *                   gort_select_until against Go's time.NewTimer, select,
 *                   Stop (the form that does not keep the timer alive)
 *   after_recv      a receive of gort_after(0), which frees itself, against
 *                   <-time.After(0), 1 P: ns per timeout
 *   local_getset    gort_local_set then gort_local_get, 1 P: ns per pair
 *                   (Go has no goroutine-local values: gort only)
 *
 * One line per case: case=<name> value=<number> unit=<unit>.
 *
 *     bench_sync [--quick] [CASES]     (CASES: names to run, in one word)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gort.h"

static int procs_all;
static gort_waitgroup wg;

static void report(const char *name, double v, const char *unit)
{
	printf("case=%s value=%.4g unit=%s\n", name, v, unit);
	fflush(stdout);
}

/* n goroutines of fn at once; the wall time, ns, until all are done */
static int64_t run_all(int n, void (*fn)(void *))
{
	gort_waitgroup_add(&wg, n);
	int64_t t0 = gort_now();
	for (int i = 0; i < n; i++)
		gort_go(fn, NULL);
	gort_waitgroup_wait(&wg);
	return gort_now() - t0;
}

/* --- RWMutex ----------------------------------------------------------------- */

#define NRW 2000000
static gort_rwmutex rw;
static long nrw, counter;

static void reader(void *arg)
{
	(void)arg;
	for (long i = 0; i < nrw; i++) {
		gort_rwmutex_rlock(&rw);
		gort_rwmutex_runlock(&rw);
	}
	gort_waitgroup_done(&wg);
}

static void mixed(void *arg)
{
	(void)arg;
	for (long i = 0; i < nrw; i++) {
		if (i % 10 == 0) {
			gort_rwmutex_lock(&rw);
			counter++;
			gort_rwmutex_unlock(&rw);
		} else {
			gort_rwmutex_rlock(&rw);
			gort_rwmutex_runlock(&rw);
		}
	}
	gort_waitgroup_done(&wg);
}

static void bench_rw_read(void)
{
	gort_gomaxprocs(procs_all);
	nrw = bench_size(NRW);
	report("rwmutex_read", (double)run_all(procs_all, reader) / (double)nrw, "ns/op");
}

static void bench_rw_mixed(void)
{
	gort_gomaxprocs(procs_all);
	nrw = bench_size(NRW / 4);
	counter = 0;
	int64_t ns = run_all(procs_all, mixed);
	if (counter != procs_all * ((nrw + 9) / 10)) {
		fprintf(stderr, "rwmutex_mixed: counter %ld, want %ld\n", counter, procs_all * ((nrw + 9) / 10));
		exit(1);
	}
	report("rwmutex_mixed", (double)ns / (double)nrw, "ns/op");
}

/* --- Cond ------------------------------------------------------------------------ */

#define NTURN 500000
static gort_mutex mu;
static gort_cond cond;
static long nturn;
static int turn;

static void taker(void *arg)
{
	int me = (int)(intptr_t)arg;
	gort_mutex_lock(&mu);
	for (long i = 0; i < nturn; i++) {
		while (turn != me)
			gort_cond_wait(&cond, &mu);
		turn = 1 - me;
		gort_cond_signal(&cond);
	}
	gort_mutex_unlock(&mu);
	gort_waitgroup_done(&wg);
}

static void bench_cond(void)
{
	gort_gomaxprocs(1);
	nturn = bench_size(NTURN);
	turn = 0;
	gort_waitgroup_add(&wg, 2);
	int64_t t0 = gort_now();
	gort_go(taker, (void *)(intptr_t)0);
	gort_go(taker, (void *)(intptr_t)1);
	gort_waitgroup_wait(&wg);
	report("cond_pingpong", (double)(gort_now() - t0) / (2.0 * (double)nturn), "ns/turn");
}

/* --- the weighted semaphore ------------------------------------------------------- */

#define NSEM 500000
static gort_semaphore *sem;
static long nsem;

static void semuser(void *arg)
{
	(void)arg;
	for (long i = 0; i < nsem; i++) {
		if (gort_semaphore_acquire(sem, 1, NULL) != 0)
			abort();
		gort_semaphore_release(sem, 1);
	}
	gort_waitgroup_done(&wg);
}

static void bench_semaphore(void)
{
	gort_gomaxprocs(procs_all);
	nsem = bench_size(NSEM);
	sem = gort_semaphore_new(procs_all);
	int n = 4 * procs_all;
	report("semaphore", (double)run_all(n, semuser) / ((double)nsem * n), "ns/op");
	gort_semaphore_free(sem);
}

/* --- contexts -------------------------------------------------------------------- */

#define NCTX 1000000

static void bench_ctx(const char *name, int64_t timeout)
{
	gort_gomaxprocs(1);
	long n = bench_size(NCTX);
	gort_ctx *bg = gort_ctx_background();
	int64_t t0 = gort_now();
	for (long i = 0; i < n; i++) {
		gort_ctx *c = timeout ? gort_ctx_with_timeout(bg, timeout) : gort_ctx_with_cancel(bg);
		gort_ctx_cancel(c);
		gort_ctx_free(c);
	}
	report(name, (double)(gort_now() - t0) / (double)n, "ns/op");
}

static void bench_ctx_cancel(void)
{
	bench_ctx("ctx_cancel", 0);
}

static void bench_ctx_timeout(void)
{
	bench_ctx("ctx_timeout", 3600 * (int64_t)1000000000);
}

/* --- one-call timeouts ------------------------------------------------------------- */

#define NSEL 1000000

static void bench_select_timeout(void)
{
	gort_gomaxprocs(1);
	long n = bench_size(NSEL);
	gort_chan *c = gort_chan_make(sizeof(int), 1);
	int v = 1;
	gort_select_case cs[1] = { { c, GORT_RECV, &v, 0 } };
	int64_t t0 = gort_now();
	for (long i = 0; i < n; i++) {
		gort_chan_send(c, &v);
		if (gort_select_until(cs, 1, gort_now() + 3600 * (int64_t)1000000000) != 0)
			abort();
	}
	report("select_timeout", (double)(gort_now() - t0) / (double)n, "ns/op");
	gort_chan_free(c);
}

#define NAFTER 200000

static void bench_after(void)
{
	gort_gomaxprocs(1);
	long n = bench_size(NAFTER);
	int64_t t0 = gort_now();
	for (long i = 0; i < n; i++)
		if (gort_chan_recv(gort_after(0), NULL) != 1)
			abort();
	report("after_recv", (double)(gort_now() - t0) / (double)n, "ns/op");
}

#define NLOCAL 10000000

static void bench_local(void)
{
	gort_gomaxprocs(1);
	long n = bench_size(NLOCAL);
	int key = gort_local_create(NULL);
	if (key < 0)
		abort();
	long sum = 0;
	int64_t t0 = gort_now();
	for (long i = 0; i < n; i++) {
		gort_local_set(key, (void *)(intptr_t)i);
		sum += (long)(intptr_t)gort_local_get(key);
		__asm__ __volatile__("" ::: "memory");
	}
	report("local_getset", (double)(gort_now() - t0) / (double)n, "ns/op");
	if (sum != n * (n - 1) / 2)
		abort();
	gort_local_delete(key);
}

static int bench_main(void *arg)
{
	const char *only = arg;
	static const struct bench_case cases[] = {
		{ "rwmutex_read", bench_rw_read },
		{ "rwmutex_mixed", bench_rw_mixed },
		{ "cond_pingpong", bench_cond },
		{ "semaphore", bench_semaphore },
		{ "ctx_cancel", bench_ctx_cancel },
		{ "ctx_timeout", bench_ctx_timeout },
		{ "select_timeout", bench_select_timeout },
		{ "after_recv", bench_after },
		{ "local_getset", bench_local },
	};
	bench_run(cases, sizeof cases / sizeof cases[0], only);
	return 0;
}

int main(int argc, char **argv)
{
	argc = bench_args(argc, argv);
	procs_all = gort_gomaxprocs(0);
	return gort_main(bench_main, argc > 1 ? argv[1] : NULL);
}
