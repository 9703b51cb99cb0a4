/*
 * pipeline.c -- Go's pipeline pattern: a generator, a squaring stage and a
 * printer, joined by channels; each stage closes its output when its
 * input is closed and drained, and the close flows down the pipe.
 */
#include <stdio.h>

#include "gort.h"

struct stage {
	gort_chan *in, *out;
};

static void generate(void *arg)
{
	gort_chan *out = arg;
	for (long i = 1; i <= 5; i++)
		gort_chan_send(out, &i);
	gort_chan_close(out);
}

static void square(void *arg)
{
	struct stage *s = arg;
	long v;
	while (gort_chan_recv(s->in, &v)) {
		v *= v;
		gort_chan_send(s->out, &v);
	}
	gort_chan_close(s->out);
}

static int start(void *arg)
{
	(void)arg;
	gort_chan *nums = gort_chan_make(sizeof(long), 0);
	gort_chan *squares = gort_chan_make(sizeof(long), 2);
	struct stage sq = { nums, squares };
	gort_go(generate, nums);
	gort_go(square, &sq);
	long v, sum = 0;
	while (gort_chan_recv(squares, &v)) {
		printf("%ld\n", v);
		sum += v;
	}
	printf("sum %ld\n", sum);
	gort_chan_free(nums);
	gort_chan_free(squares);
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
