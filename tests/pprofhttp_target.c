/*
 * pprofhttp_target.c -- the program tests/pprofhttp_test.py points curl
 * and go tool pprof at (prof/pprofhttp.c, the live endpoint).
 *
 *   pprofhttp_target serve ADDRESS   gort_prof_serve(ADDRESS); prints
 *                                    "port N" and "burn 0xPC" on stdout,
 *                                    then burns CPU in burn_for_pprof
 *                                    for ever beside a goroutine blocked
 *                                    for ever, until killed
 *   pprofhttp_target stuck           main and one other goroutine block
 *                                    for ever on channels, and nothing
 *                                    else runs: a deadlock, unless
 *                                    GORTPPROF serves
 *   pprofhttp_target exit            main returns at once (with
 *                                    GORTPPROF set, the server must not
 *                                    keep the program alive)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort.h"

static volatile unsigned long sink;

/* The function whose samples the test looks for: it never calls out, so
 * every sample taken while it runs has it as the leaf. */
__attribute__((noinline)) static void burn_for_pprof(void)
{
	for (;;)
		for (unsigned long i = 0; i < 1000000; i++)
			sink += i * i ^ (sink >> 3);
}

static void burner(void *arg)
{
	(void)arg;
	burn_for_pprof();
}

static void blocked(void *arg)
{
	gort_chan_recv(arg, NULL);   /* nobody ever sends */
}

static int serve_main(void *arg)
{
	int err = gort_prof_serve(arg);
	if (err) {
		fprintf(stderr, "gort_prof_serve(%s): %s\n", (const char *)arg, gort_strerror(err));
		return 1;
	}
	printf("port %d\n", gort_prof_serve_port());
	printf("burn %#lx\n", (unsigned long)(uintptr_t)burn_for_pprof);
	fflush(stdout);
	gort_chan *never = gort_chan_make(0, 0);
	gort_go(blocked, never);
	gort_go(burner, NULL);
	gort_chan_recv(never, NULL);
	return 0;
}

static int stuck_main(void *arg)
{
	(void)arg;
	gort_chan *never = gort_chan_make(0, 0);
	gort_go(blocked, never);
	printf("stuck\n");
	fflush(stdout);
	gort_chan_recv(never, NULL);
	return 0;
}

static int exit_main(void *arg)
{
	(void)arg;
	printf("main returns\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return gort_main(serve_main, argv[2]);
	if (argc == 2 && strcmp(argv[1], "stuck") == 0)
		return gort_main(stuck_main, NULL);
	if (argc == 2 && strcmp(argv[1], "exit") == 0)
		return gort_main(exit_main, NULL);
	fprintf(stderr, "usage: pprofhttp_target serve ADDRESS | stuck | exit\n");
	return 2;
}
