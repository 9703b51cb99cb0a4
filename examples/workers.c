/*
 * workers.c -- a worker pool: three workers take jobs from one channel and
 * send results to another; a WaitGroup says when they are all done, and a
 * closer goroutine then closes the results.  Results arrive in any order;
 * the program sorts them before printing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gort.h"

struct pool {
	gort_chan *jobs, *results;
	gort_waitgroup wg;
};

static void worker(void *arg)
{
	struct pool *p = arg;
	int job;
	while (gort_chan_recv(p->jobs, &job)) {
		int result = job * job;
		gort_chan_send(p->results, &result);
	}
	gort_waitgroup_done(&p->wg);
}

static void closer(void *arg)
{
	struct pool *p = arg;
	gort_waitgroup_wait(&p->wg);
	gort_chan_close(p->results);
}

static int cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int start(void *arg)
{
	(void)arg;
	struct pool p = { gort_chan_make(sizeof(int), 9), gort_chan_make(sizeof(int), 0), { 0 } };
	gort_waitgroup_add(&p.wg, 3);
	for (int i = 0; i < 3; i++)
		gort_go(worker, &p);
	gort_go(closer, &p);
	for (int job = 1; job <= 9; job++)
		gort_chan_send(p.jobs, &job);
	gort_chan_close(p.jobs);

	int got[9], n = 0, r;
	while (gort_chan_recv(p.results, &r))
		got[n++] = r;
	qsort(got, (size_t)n, sizeof got[0], cmp);
	printf("%d results:", n);
	for (int i = 0; i < n; i++)
		printf(" %d", got[i]);
	printf("\n");
	gort_chan_free(p.jobs);
	gort_chan_free(p.results);
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
