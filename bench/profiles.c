/*
 * profiles.c -- the goroutine, block, mutex and heap profiles against Go's
 * (bench/go_src/profiles.go is the same program in Go; bench/profiles.py
 * runs both and compares what `go tool pprof -raw` reads in each file).
 *
 *   profiles block FILE      known waits (ROUNDS of about HOLD each) in
 *                            recvLoop (a channel), selectLoop (select),
 *                            lockLoop (a mutex), wgLoop (a WaitGroup), and
 *                            sleeps in sleepLoop, which must not show
 *   profiles mutex FILE      holderLoop holds a mutex HOLD while lockLoop
 *                            waits for it, ROUNDS times
 *   profiles goroutine FILE  NPARKED goroutines in parkedLoop (labelled
 *                            kind=parked), NSELECT in selectWait, and main
 *   profiles heap FILE       siteA allocates 3000 bytes and siteB 1000,
 *                            NALLOC times each, at the default rate
 *   profiles pause N         N goroutines parked; a ping-pong pair measures
 *                            its longest round trip while goroutine
 *                            profiles are taken, and without
 *   profiles malloc          gort only: malloc(64)+free, glibc's own
 *                            against libgort's with the heap profile off
 *                            and at 512 KiB
 *
 * The names of the functions are the Go program's, so that the script can
 * match the two profiles frame by frame.
 */
#include <fcntl.h>
#include <gort.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "prof/prof.h"   /* gort_prof_goprof_last */

#define ROUNDS 50
#define HOLD 1000000   /* ns */
#define NPARKED 1000
#define NSELECT 100
#define NALLOC 200000

static long rounds = ROUNDS;
static gort_waitgroup wg;
static gort_chan *rc, *sa, *sb;
static gort_mutex mu;
static gort_chan *never, *never2;   /* nobody sends on the first, nobody receives on the second */

#define NOTAIL() __asm__ __volatile__("" ::: "memory")

static __attribute__((noinline)) void recvLoop(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++)
		gort_chan_recv(rc, NULL);
	gort_waitgroup_done(&wg);
	NOTAIL();
}

static __attribute__((noinline)) void selectLoop(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		gort_select_case cs[2] = { { sa, GORT_RECV, NULL, 0 }, { sb, GORT_RECV, NULL, 0 } };
		gort_select(cs, 2, 1);
	}
	gort_waitgroup_done(&wg);
	NOTAIL();
}

static __attribute__((noinline)) void holderLoop(void *arg)
{
	gort_chan *go = arg;
	for (long i = 0; i < rounds; i++) {
		gort_mutex_lock(&mu);
		gort_chan_send(go, NULL);   /* lockLoop: now try */
		gort_sleep(HOLD);
		gort_mutex_unlock(&mu);
		gort_chan_recv(go, NULL);   /* lockLoop has had it */
	}
	gort_waitgroup_done(&wg);
	NOTAIL();
}

static __attribute__((noinline)) void lockLoop(void *arg)
{
	gort_chan *go = arg;
	for (long i = 0; i < rounds; i++) {
		gort_chan_recv(go, NULL);
		gort_mutex_lock(&mu);
		gort_mutex_unlock(&mu);
		gort_chan_send(go, NULL);
	}
	gort_waitgroup_done(&wg);
	NOTAIL();
}

static void sleeper(void *arg)
{
	gort_waitgroup *w = arg;
	gort_sleep(HOLD);
	gort_waitgroup_done(w);
}

static __attribute__((noinline)) void wgLoop(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		gort_waitgroup w = { 0 };
		gort_waitgroup_add(&w, 1);
		gort_go(sleeper, &w);
		gort_waitgroup_wait(&w);
	}
	gort_waitgroup_done(&wg);
	NOTAIL();
}

static __attribute__((noinline)) void sleepLoop(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++)
		gort_sleep(HOLD);
	gort_waitgroup_done(&wg);
	NOTAIL();
}

static void sendLoop(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		gort_sleep(HOLD);
		gort_chan_send(rc, NULL);
	}
	for (long i = 0; i < rounds; i++) {
		gort_sleep(HOLD);
		gort_chan_send(i % 2 ? sa : sb, NULL);
	}
	gort_waitgroup_done(&wg);
}

/* -ENOSYS: a profile this build has not (the heap's, under a sanitizer):
 * said on stdout, and no file, for profiles.py to skip it. */
static int write_to(const char *name, const char *file)
{
	int err = gort_prof_lookup_write_file(name, file);
	if (err == -ENOSYS) {
		printf("unavailable %s\n", name);
		return 0;
	}
	if (err)
		fprintf(stderr, "profiles: %s: %s\n", file, strerror(-err));
	return err != 0;
}

static int block_main(const char *file)
{
	gort_prof_set_block_rate(1);
	rc = gort_chan_make(0, 0);
	sa = gort_chan_make(0, 0);
	sb = gort_chan_make(0, 0);
	gort_chan *go = gort_chan_make(0, 0);
	gort_waitgroup_add(&wg, 7);
	gort_go(recvLoop, NULL);
	gort_go(selectLoop, NULL);
	gort_go(sendLoop, NULL);
	gort_go(holderLoop, go);
	gort_go(lockLoop, go);
	gort_go(wgLoop, NULL);
	gort_go(sleepLoop, NULL);
	gort_waitgroup_wait(&wg);
	gort_chan_free(rc);
	gort_chan_free(sa);
	gort_chan_free(sb);
	gort_chan_free(go);
	return write_to("block", file);
}

static int mutex_main(const char *file)
{
	gort_prof_set_mutex_fraction(1);
	gort_chan *go = gort_chan_make(0, 0);
	gort_waitgroup_add(&wg, 2);
	gort_go(holderLoop, go);
	gort_go(lockLoop, go);
	gort_waitgroup_wait(&wg);
	gort_chan_free(go);
	return write_to("mutex", file);
}

static volatile uint32_t started;

static __attribute__((noinline)) void parkedLoop(void *arg)
{
	(void)arg;
	gort_atomic_add32(&started, 1);
	gort_chan_recv(never, NULL);
	NOTAIL();
}

static __attribute__((noinline)) void selectWait(void *arg)
{
	(void)arg;
	gort_atomic_add32(&started, 1);
	gort_select_case cs[2] = { { never, GORT_RECV, NULL, 0 }, { never2, GORT_SEND, NULL, 0 } };
	gort_select(cs, 2, 1);
	NOTAIL();
}

static void start_parked(long n, long nsel)
{
	never = gort_chan_make(0, 0);
	never2 = gort_chan_make(0, 0);
	const gort_labels *saved = gort_labels_current();
	gort_labels_set(gort_labels_with(NULL, "kind", "parked"));
	for (long i = 0; i < n; i++)
		gort_go(parkedLoop, NULL);
	gort_labels_set(saved);
	for (long i = 0; i < nsel; i++)
		gort_go(selectWait, NULL);
	while (gort_atomic_load32(&started) < (uint32_t)(n + nsel))
		gort_sleep(100000);
}

static int goroutine_main(const char *file)
{
	start_parked(bench_size(NPARKED), bench_size(NSELECT));
	return write_to("goroutine", file);
}

static void *volatile sink;

static __attribute__((noinline)) void siteA(void)
{
	sink = malloc(3000);
	free(sink);
	NOTAIL();
}

static __attribute__((noinline)) void siteB(void)
{
	sink = malloc(1000);
	free(sink);
	NOTAIL();
}

static int heap_main(const char *file)
{
	gort_prof_set_heap_rate(512 * 1024);
	long n = bench_size(NALLOC);
	for (long i = 0; i < n; i++) {
		siteA();
		siteB();
	}
	return write_to("allocs", file);
}

/* --- the pause: how long a goroutine waits while a profile is taken ------- */

static gort_chan *ping, *pong;
static volatile uint32_t measuring, pingers_done;
static volatile uint64_t maxrtt;

static void ponger(void *arg)
{
	(void)arg;
	while (gort_chan_recv(ping, NULL))
		gort_chan_send(pong, NULL);
}

static void pinger(void *arg)
{
	(void)arg;
	while (gort_atomic_load32(&measuring)) {
		uint64_t t0 = bench_now();
		gort_chan_send(ping, NULL);
		gort_chan_recv(pong, NULL);
		uint64_t d = bench_now() - t0;
		if (d > maxrtt)
			maxrtt = d;
	}
	gort_atomic_store32(&pingers_done, 1);
}

/* profiles 1: take one every period; 0: sleep as long instead */
static double max_rtt_during(int profiles, double *take_ms)
{
	maxrtt = 0;
	gort_atomic_store32(&pingers_done, 0);
	gort_atomic_store32(&measuring, 1);
	gort_go(pinger, NULL);
	gort_sleep(20000000);
	double t[16];
	int fd = open("/dev/null", O_WRONLY);
	/* the same length of time either way: 5 periods of a profile's
	 * length (or that long asleep) and 10 ms */
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = bench_now();
		if (profiles && fd >= 0 && gort_prof_lookup_write("goroutine", fd) != 0)
			fprintf(stderr, "profiles: goroutine profile failed\n");
		if (!profiles)
			gort_sleep(*take_ms * 1e6);
		t[i] = (double)(bench_now() - t0) / 1e6;
		gort_sleep(10000000);
	}
	if (fd >= 0)
		close(fd);
	gort_atomic_store32(&measuring, 0);
	while (!gort_atomic_load32(&pingers_done))
		gort_sleep(1000000);
	if (profiles)
		*take_ms = bench_median(t, 5);
	return (double)maxrtt / 1e3;
}

static int pause_main(long n)
{
	ping = gort_chan_make(0, 0);
	pong = gort_chan_make(0, 0);
	gort_go(ponger, NULL);
	start_parked(n, 0);
	double take = 0;
	double during = max_rtt_during(1, &take);
	double base = max_rtt_during(0, &take);
	printf("case=goroutine_profile_%ld value=%.2f unit=ms\n", n, take);
	printf("case=max_roundtrip_during_%ld value=%.1f unit=us\n", n, during);
	printf("case=max_roundtrip_without_%ld value=%.1f unit=us\n", n, base);
	/* the profiler's own account of the last one (prof/goroutineprof.c) */
	printf("case=longest_hold_%ld value=%.1f unit=us\n", n, gort_prof_goprof_last.maxhold_ns / 1e3);
	printf("case=hold_p50_%ld value=%.2f unit=us\n", n, gort_prof_goprof_last.hold_p50_ns / 1e3);
	printf("case=hold_p999_%ld value=%.2f unit=us\n", n, gort_prof_goprof_last.hold_p999_ns / 1e3);
	printf("case=membarrier_%ld value=%.1f unit=us\n", n, gort_prof_goprof_last.barrier_ns / 1e3);
	printf("case=recorded_by_scheduler_%ld value=%u unit=goroutines\n", n, gort_prof_goprof_last.by_sched);
	return 0;
}

/* --- malloc's cost ------------------------------------------------------------- */

void *__libc_malloc(size_t n);
void __libc_free(void *p);

static double malloc_ns(int libc, long n)
{
	double v[5];
	for (int r = 0; r < 5; r++) {
		uint64_t t0 = bench_now();
		if (libc)
			for (long i = 0; i < n; i++) {
				sink = __libc_malloc(64);
				__libc_free(sink);
			}
		else
			for (long i = 0; i < n; i++) {
				sink = malloc(64);
				free(sink);
			}
		v[r] = (double)(bench_now() - t0) / (double)n;
	}
	return bench_median(v, 5);
}

static int malloc_main(void)
{
	long n = bench_size(20000000);
	printf("case=malloc_free_glibc value=%.2f unit=ns/op\n", malloc_ns(1, n));
	gort_prof_set_heap_rate(0);
	printf("case=malloc_free_rate0 value=%.2f unit=ns/op\n", malloc_ns(0, n));
	if (gort_prof_set_heap_rate(512 * 1024) >= 0)
		printf("case=malloc_free_rate512k value=%.2f unit=ns/op\n", malloc_ns(0, n));
	gort_prof_set_heap_rate(0);
	return 0;
}

static int argc_;
static char **argv_;

static int bench_main(void *arg)
{
	(void)arg;
	const char *mode = argc_ > 1 ? argv_[1] : "";
	const char *file = argc_ > 2 ? argv_[2] : "/dev/null";
	if (bench_quick)
		rounds = 2;
	if (strcmp(mode, "block") == 0)
		return block_main(file);
	if (strcmp(mode, "mutex") == 0)
		return mutex_main(file);
	if (strcmp(mode, "goroutine") == 0)
		return goroutine_main(file);
	if (strcmp(mode, "heap") == 0)
		return heap_main(file);
	if (strcmp(mode, "pause") == 0)
		return pause_main(bench_size(argc_ > 2 ? atol(argv_[2]) : 100000));
	if (strcmp(mode, "malloc") == 0)
		return malloc_main();
	fprintf(stderr, "usage: profiles [--quick] block|mutex|goroutine|heap FILE | pause N | malloc\n");
	return 2;
}

int main(int argc, char **argv)
{
	argc_ = bench_args(argc, argv);
	argv_ = argv;
	return gort_main(bench_main, NULL);
}
