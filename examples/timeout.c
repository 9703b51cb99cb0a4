/*
 * timeout.c -- select with a timeout: wait for a reply that comes too
 * late, give up when a timer fires, then wait again with more patience.
 * Three ways: a timer of our own (freed by hand), a deadline (no timer
 * at all: the goroutine's own waits), and gort_after (Go's time.After:
 * freed by whoever receives its value).
 */
#include <stdio.h>

#include "gort.h"

static void slow(void *arg)
{
	gort_chan *reply = arg;
	gort_sleep(100 * 1000000);   /* 100 ms */
	const char *msg = "the reply";
	gort_chan_send(reply, &msg);
}

/* Wait up to ms for a reply; returns it, or NULL on timeout. */
static const char *wait_for(gort_chan *reply, int ms)
{
	gort_timer *t = gort_timer_new((int64_t)ms * 1000000);
	const char *msg = NULL;
	int64_t fired;
	gort_select_case cases[] = {
		{ .c = reply, .dir = GORT_RECV, .elem = &msg },
		{ .c = gort_timer_chan(t), .dir = GORT_RECV, .elem = &fired },
	};
	int which = gort_select(cases, 2, 1);
	gort_timer_free(t);
	return which == 0 ? msg : NULL;
}

/* The same with a deadline: nothing to make or free. */
static const char *wait_until(gort_chan *reply, int ms)
{
	const char *msg = NULL;
	int r = gort_chan_recv_until(reply, &msg, gort_now() + (int64_t)ms * 1000000);
	return r == 1 ? msg : NULL;
}

/* And with gort_after, when the timeout is likely to be received: if the
 * reply wins instead, the timeout is not freed by itself, so free it. */
static const char *wait_after(gort_chan *reply, int ms)
{
	gort_chan *timeout = gort_after((int64_t)ms * 1000000);
	const char *msg = NULL;
	gort_select_case cases[] = {
		{ .c = reply, .dir = GORT_RECV, .elem = &msg },
		{ .c = timeout, .dir = GORT_RECV },
	};
	int which = gort_select(cases, 2, 1);
	if (which == 0)
		gort_chan_free(timeout);   /* not received: ours to free */
	return which == 0 ? msg : NULL;
}

static int start(void *arg)
{
	(void)arg;
	gort_chan *reply = gort_chan_make(sizeof(const char *), 1);
	gort_go(slow, reply);
	const char *msg = wait_for(reply, 20);
	printf("after 20 ms: %s\n", msg ? msg : "timed out");
	msg = wait_for(reply, 1000);
	printf("within 1 s: %s\n", msg ? msg : "timed out");
	gort_go(slow, reply);
	msg = wait_until(reply, 20);
	printf("deadline in 20 ms: %s\n", msg ? msg : "timed out");
	msg = wait_after(reply, 1000);
	printf("gort_after, 1 s: %s\n", msg ? msg : "timed out");
	gort_go(slow, reply);
	msg = wait_after(reply, 20);
	printf("gort_after, 20 ms: %s\n", msg ? msg : "timed out");
	msg = wait_until(reply, 1000);
	printf("deadline in 1 s: %s\n", msg ? msg : "timed out");
	gort_chan_free(reply);
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
