/*
 * prof.c -- what the profiler costs; bench/go_src/prof.go is the same in Go.
 *
 *   prof_overhead_100hz, prof_overhead_1000hz
 *       extra CPU time of a CPU-bound program (one busy goroutine per P)
 *       profiled at that rate, against the same work unprofiled, in %;
 *       the three are interleaved and each figure is a median
 *   sigprof_handler_32frames
 *       the handler's own cost per sample with 32 frames on the stack:
 *       a SIGPROF sent to ourselves, minus the same round trip to an
 *       empty SIGUSR1 handler (gort only), in this thread's CPU time
 *       (bench.h's bench_sig_roundtrips says how and why).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "gort.h"

static volatile uint64_t sink;
static gort_waitgroup wg;

static __attribute__((noinline)) void busy(void *arg)
{
	long n = (long)(intptr_t)arg;
	uint64_t x = 1;
	for (long i = 0; i < n; i++)
		x = x * 6364136223846793005ull + (uint64_t)i;
	sink = x;
	gort_waitgroup_done(&wg);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* CPU seconds the work took, profiled at hz (0: not profiled). */
static double run(int hz, int procs)
{
	if (hz && gort_prof_start("/dev/null", hz) != 0) {
		fprintf(stderr, "prof: cannot start the profiler\n");
		exit(1);
	}
	double c0 = cpu_seconds();
	gort_waitgroup_add(&wg, procs);
	for (int i = 0; i < procs; i++)
		gort_go(busy, (void *)(intptr_t)bench_size(300000000));
	gort_waitgroup_wait(&wg);
	double c = cpu_seconds() - c0;
	if (hz)
		gort_prof_stop();
	return c;
}

/* --- the handler's cost --------------------------------------------------- */

static int bench_main(void *arg)
{
	(void)arg;
	int procs = gort_gomaxprocs(0), runs = bench_runs();
	double off[101], p100[101], p1000[101];
	for (int r = 0; r < runs; r++) {
		off[r] = run(0, procs);
		p100[r] = run(100, procs);
		p1000[r] = run(1000, procs);
	}
	double base = bench_median(off, runs);
	bench_print("prof_overhead_100hz", 100 * (bench_median(p100, runs) / base - 1), "%");
	bench_print("prof_overhead_1000hz", 100 * (bench_median(p1000, runs) / base - 1), "%");

	/* One goroutine, 32 frames deep, signals itself.  The profiler runs at
	 * 1 Hz so its timer adds nothing; the signals are ours. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = bench_sig_empty;
	sigaction(SIGUSR1, &sa, NULL);
	gort_prof_start("/dev/null", 1);
	double with[101], without[101];
	for (int r = 0; r < runs; r++) {
		with[r] = bench_sig_deep(32, SIGPROF, (int)bench_size(20000));
		without[r] = bench_sig_deep(32, SIGUSR1, (int)bench_size(20000));
	}
	gort_prof_stop();
	bench_print("sigprof_handler_32frames", bench_median(with, runs) - bench_median(without, runs), "ns");
	return 0;
}

int main(int argc, char **argv)
{
	if (bench_args(argc, argv) > 1) {
		fprintf(stderr, "usage: bench_prof [--quick]\n");
		return 2;
	}
	return gort_main(bench_main, NULL);
}
