/*
 * gdb_target.c -- a program for runtime/gort-gdb.py's test: three
 * goroutines park in known places, then gdb_here() is called, where the
 * test's breakpoint stops.
 */
#include <stdio.h>

#include "gort.h"

static gort_chan *never;
static gort_mutex mu;

__attribute__((noinline)) void gdb_here(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void receiver(void *arg)
{
	(void)arg;
	int v;
	gort_chan_recv(never, &v);
	__asm__ __volatile__("" ::: "memory");   /* no tail call: keep this frame */
}

static __attribute__((noinline)) void sleeper(void *arg)
{
	(void)arg;
	gort_sleep(60 * 1000000000LL);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void locker(void *arg)
{
	(void)arg;
	gort_mutex_lock(&mu);
	__asm__ __volatile__("" ::: "memory");
}

static int start(void *arg)
{
	(void)arg;
	never = gort_chan_make(sizeof(int), 0);
	gort_mutex_lock(&mu);
	gort_go(receiver, NULL);
	gort_go(sleeper, NULL);
	gort_go(locker, NULL);
	gort_sleep(50000000);
	gdb_here();
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
