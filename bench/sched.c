/*
 * sched.c -- the scheduler's micro-benchmarks; bench/go_src/sched.go is the
 * same program in Go, and bench/compare.py runs the two side by side.
 *
 *   yield          two goroutines taking turns with gort_yield, 1 P: ns per switch
 *   chan_roundtrip ping-pong over two unbuffered channels, 1 P: ns per round trip
 *   chan_buffered  a sender and a receiver through a channel of 128 ints,
 *                  1 P: ns per element
 *   spawn_exit     gort_go of an empty function, 1 P: ns per goroutine
 *   spawn_join     1M goroutines started and waited for with a WaitGroup,
 *                  all Ps: ns per goroutine
 *   select2        select over two always-ready buffered channels, 1 P: ns per select
 *   parked_rss     resident memory per parked goroutine, 1M parked: bytes
 *
 * One line per case: case=<name> value=<number> unit=<unit>.
 *
 *     bench_sched [--quick] [CASES]     (CASES: names to run, in one word)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "bench.h"
#include "gort.h"

static int procs_all;

static void report(const char *name, double v, const char *unit)
{
	printf("case=%s value=%.4g unit=%s\n", name, v, unit);
	fflush(stdout);
}

/* --- yield ---------------------------------------------------------------- */

#define NYIELD 2000000
static gort_waitgroup wg;
static long nyield;

static void yielder(void *arg)
{
	(void)arg;
	for (long i = 0; i < nyield; i++)
		gort_yield();
	gort_waitgroup_done(&wg);
}

static void bench_yield(void)
{
	gort_gomaxprocs(1);
	nyield = bench_size(NYIELD);
	gort_waitgroup_add(&wg, 2);
	int64_t t0 = gort_now();
	gort_go(yielder, NULL);
	gort_go(yielder, NULL);
	gort_waitgroup_wait(&wg);
	report("yield", (double)(gort_now() - t0) / (2.0 * (double)nyield), "ns/switch");
}

/* --- channel round trip ---------------------------------------------------- */

#define NROUND 1000000
static gort_chan *ping, *pong;
static long nround;

static void ponger(void *arg)
{
	(void)arg;
	int v;
	for (long i = 0; i < nround; i++) {
		gort_chan_recv(ping, &v);
		gort_chan_send(pong, &v);
	}
}

static void bench_chan(void)
{
	gort_gomaxprocs(1);
	nround = bench_size(NROUND);
	ping = gort_chan_make(sizeof(int), 0);
	pong = gort_chan_make(sizeof(int), 0);
	gort_go(ponger, NULL);
	int v = 0;
	int64_t t0 = gort_now();
	for (long i = 0; i < nround; i++) {
		gort_chan_send(ping, &v);
		gort_chan_recv(pong, &v);
	}
	report("chan_roundtrip", (double)(gort_now() - t0) / (double)nround, "ns/roundtrip");
	gort_sleep(1000000);
	gort_chan_free(ping);
	gort_chan_free(pong);
}

/* --- buffered channel ------------------------------------------------------ */

#define NBUF 2000000
static gort_chan *buffered;

static void sender(void *arg)
{
	(void)arg;
	for (long i = 0; i < nround; i++) {
		int v = (int)i;
		gort_chan_send(buffered, &v);
	}
	gort_waitgroup_done(&wg);
}

static void bench_chan_buffered(void)
{
	gort_gomaxprocs(1);
	nround = bench_size(NBUF);
	buffered = gort_chan_make(sizeof(int), 128);
	gort_waitgroup_add(&wg, 1);
	int64_t t0 = gort_now();
	gort_go(sender, NULL);
	int v;
	for (long i = 0; i < nround; i++)
		gort_chan_recv(buffered, &v);
	report("chan_buffered", (double)(gort_now() - t0) / (double)nround, "ns/element");
	gort_waitgroup_wait(&wg);
	gort_chan_free(buffered);
}

/* --- spawn ---------------------------------------------------------------- */

#define NSPAWN 1000000
static volatile uint32_t ran;

static void nop(void *arg)
{
	(void)arg;
	atomic_add32(&ran, 1);   /* as the Go side does */
}

static void bench_spawn_exit(void)
{
	gort_gomaxprocs(1);
	long n = bench_size(NSPAWN);
	ran = 0;
	int64_t t0 = gort_now();
	for (long i = 0; i < n; i++) {
		gort_go(nop, NULL);
		if ((i & 255) == 255)
			gort_yield();   /* let them run and die, as a loop in Go would */
	}
	while (ran != (uint32_t)n)
		gort_yield();
	report("spawn_exit", (double)(gort_now() - t0) / (double)n, "ns/goroutine");
}

static void done(void *arg)
{
	(void)arg;
	gort_waitgroup_done(&wg);
}

static void bench_spawn_join(void)
{
	gort_gomaxprocs(procs_all);
	long n = bench_size(NSPAWN);
	int64_t t0 = gort_now();
	gort_waitgroup_add(&wg, (int)n);
	for (long i = 0; i < n; i++)
		gort_go(done, NULL);
	gort_waitgroup_wait(&wg);
	report("spawn_join", (double)(gort_now() - t0) / (double)n, "ns/goroutine");
}

/* --- select ---------------------------------------------------------------- */

#define NSELECT 1000000

static void bench_select(void)
{
	gort_gomaxprocs(1);
	gort_chan *a = gort_chan_make(sizeof(int), 1), *b = gort_chan_make(sizeof(int), 1);
	int v = 1, x;
	gort_chan_send(a, &v);
	gort_chan_send(b, &v);
	gort_select_case cs[2] = {
		{ .c = a, .dir = GORT_RECV, .elem = &x },
		{ .c = b, .dir = GORT_RECV, .elem = &x },
	};
	long n = bench_size(NSELECT);
	int64_t t0 = gort_now();
	for (long i = 0; i < n; i++) {
		int k = gort_select(cs, 2, 1);
		gort_chan_send(cs[k].c, &v);
	}
	report("select2", (double)(gort_now() - t0) / (double)n, "ns/select");
	gort_chan_free(a);
	gort_chan_free(b);
}

/* --- memory per parked goroutine ------------------------------------------ */

#define NPARK 1000000
static gort_chan *gate;
static volatile uint32_t parked;


static void waiter(void *arg)
{
	(void)arg;
	atomic_add32(&parked, 1);
	gort_chan_recv(gate, NULL);
	gort_waitgroup_done(&wg);
}

static void bench_parked(void)
{
	gort_gomaxprocs(procs_all);
	long n = bench_size(NPARK);
	gate = gort_chan_make(0, 0);
	long before = bench_rss_bytes();
	gort_waitgroup_add(&wg, (int)n);
	for (long i = 0; i < n; i++)
		gort_go(waiter, NULL);
	while (atomic_load32(&parked) != (uint32_t)n)
		gort_sleep(1000000);
	gort_sleep(10000000);   /* let the last ones reach their receive */
	long after = bench_rss_bytes();
	report("parked_rss", (double)(after - before) / (double)n, "bytes/goroutine");
	gort_chan_close(gate);
	gort_waitgroup_wait(&wg);
}

static int bench_main(void *arg)
{
	const char *only = arg;
	static const struct bench_case cases[] = {
		{ "yield", bench_yield },
		{ "chan_roundtrip", bench_chan },
		{ "chan_buffered", bench_chan_buffered },
		{ "spawn_exit", bench_spawn_exit },
		{ "spawn_join", bench_spawn_join },
		{ "select2", bench_select },
		{ "parked_rss", bench_parked },
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
