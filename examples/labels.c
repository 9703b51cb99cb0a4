/*
 * labels.c -- a profiled program with labels: two kinds of work, each run
 * under its own label set (Go's pprof.Do), profiled at 1000 Hz; the
 * runtime's report shows where the time went, and the labels say which
 * samples belong to which job -- in `go tool pprof -tagfocus job=resize`
 * too.  The profile goes to labels.prof, or the file named first.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gort.h"

static volatile unsigned long sink;

static __attribute__((noinline)) void burn_ms(int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	unsigned long x = 1;
	do {
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005ul + (unsigned long)i;
		sink = x;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

/* (the empty asm keeps each call from becoming a jump, which would take
 * resize and encode out of the stacks) */
static __attribute__((noinline)) void resize(void *arg)
{
	(void)arg;
	burn_ms(300);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void encode(void *arg)
{
	(void)arg;
	burn_ms(100);
	__asm__ __volatile__("" ::: "memory");
}

static int start(void *arg)
{
	const char *path = arg;
	if (gort_prof_start(path, 1000) != 0)
		return 1;
	gort_prof_do(gort_labels_with(NULL, "job", "resize"), resize, NULL);
	gort_prof_do(gort_labels_with(NULL, "job", "encode"), encode, NULL);
	if (gort_prof_stop() != 0)
		return 1;
	printf("profile written to %s; the runtime's report:\n", path);
	gort_prof_report(stdout, 20);   /* room for whatever else got a sample (a sanitizer, libc) */
	printf("go tool pprof -top -tagfocus job=resize %s\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	return gort_main(start, argc > 1 ? argv[1] : "labels.prof");
}
