/*
 * pingpong.c -- two goroutines hit a ball back and forth over unbuffered
 * channels.  Each send waits for the receive, so the order is fixed however
 * many threads run them.
 */
#include <stdio.h>

#include "gort.h"

struct table {
	gort_chan *ping, *pong;
};

static void player(void *arg)
{
	struct table *t = arg;
	int ball;
	while (gort_chan_recv(t->ping, &ball)) {
		printf("pong %d\n", ball);
		ball++;
		gort_chan_send(t->pong, &ball);
	}
	gort_chan_close(t->pong);
}

static int start(void *arg)
{
	(void)arg;
	struct table t = { gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0) };
	gort_go(player, &t);
	int ball = 1;
	for (int i = 0; i < 3; i++) {
		printf("ping %d\n", ball);
		gort_chan_send(t.ping, &ball);
		gort_chan_recv(t.pong, &ball);
	}
	gort_chan_close(t.ping);
	gort_chan_recv(t.pong, NULL);   /* wait for the player to leave */
	printf("game over at %d\n", ball);
	gort_chan_free(t.ping);
	gort_chan_free(t.pong);
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
