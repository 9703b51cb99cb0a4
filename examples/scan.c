/*
 * scan.c -- a port scanner: dial many ports at once, one goroutine per
 * port, each with a deadline, and collect the answers through a channel.
 * The fan-out is Go's: start a goroutine per target, receive exactly as
 * many results as targets were started, and put each in its place, since
 * they arrive in whatever order the dials finish.
 *
 * So that the output is the same on every run, the program scans ports it
 * knows the state of: a few it listens on itself, and a few it knows to
 * be closed -- ports it listened on and then closed, which nothing else
 * is listening on a moment later.  Those ports are numbers the system
 * picks, so the report names each by what it is ("listener 1"), not by
 * its number.  Nobody accepts on the listeners: the kernel completes a
 * connection to a listening socket by itself, and a scan asks no more.
 */
#include <stdio.h>
#include <string.h>

#include "gort.h"

#define TARGETS 5

struct target {
	const char *kind;   /* "listener" or "closed" */
	int index;          /* among its kind */
	int fd;             /* the listening socket, while it is open */
	char addr[64];      /* "127.0.0.1:port" */
};

struct result {
	int target;         /* index into the targets */
	int err;            /* 0: open; else why not, a negative errno */
};

struct probe {
	const struct target *t;
	int index;
	gort_chan *results;
};

/* Dial one port and report, then hang up: a scan only asks whether the
 * connection is made. */
static void probe(void *arg)
{
	const struct probe *p = arg;
	int fd = gort_dial("tcp4", p->t->addr, gort_now() + 2000000000);   /* 2 s */
	struct result r = { p->index, fd < 0 ? fd : 0 };
	if (fd >= 0)
		gort_close(fd);
	gort_chan_send(p->results, &r);
}

static int listen_loopback(struct target *t)
{
	t->fd = gort_listen("tcp4", "127.0.0.1:0");
	if (t->fd < 0) {
		fprintf(stderr, "scan: listen: %s\n", gort_strerror(t->fd));
		return -1;
	}
	int e = gort_localaddr(t->fd, t->addr, sizeof t->addr);
	if (e < 0) {
		fprintf(stderr, "scan: localaddr: %s\n", gort_strerror(e));
		return -1;
	}
	return 0;
}

static int start(void *arg)
{
	(void)arg;
	/* Interleaved, so that an open port and a closed one are never
	 * told apart by their place in the list. */
	static struct target targets[TARGETS] = {
		{ .kind = "listener", .index = 0 }, { .kind = "closed", .index = 0 },
		{ .kind = "listener", .index = 1 }, { .kind = "closed", .index = 1 },
		{ .kind = "listener", .index = 2 },
	};
	/* Every port is held before any is let go, so that no two targets
	 * are given the same one. */
	for (int i = 0; i < TARGETS; i++)
		if (listen_loopback(&targets[i]) < 0)
			return 1;
	for (int i = 0; i < TARGETS; i++)
		if (strcmp(targets[i].kind, "closed") == 0)
			gort_close(targets[i].fd);   /* its port is free again, and refuses */

	gort_chan *results = gort_chan_make(sizeof(struct result), 0);
	static struct probe probes[TARGETS];
	for (int i = 0; i < TARGETS; i++) {
		probes[i] = (struct probe){ &targets[i], i, results };
		gort_go(probe, &probes[i]);
	}
	int errs[TARGETS];
	for (int i = 0; i < TARGETS; i++) {
		struct result r;
		gort_chan_recv(results, &r);
		errs[r.target] = r.err;
	}

	int open = 0;
	for (int i = 0; i < TARGETS; i++) {
		const struct target *t = &targets[i];
		if (errs[i] == 0) {
			printf("%s %d: open\n", t->kind, t->index);
			open++;
		} else if (errs[i] == -ECONNREFUSED) {
			printf("%s %d: refused (%s)\n", t->kind, t->index, gort_strerror(errs[i]));
		} else {
			printf("%s %d: %s\n", t->kind, t->index, gort_strerror(errs[i]));
		}
	}
	printf("%d of %d ports open\n", open, TARGETS);

	for (int i = 0; i < TARGETS; i++)
		if (strcmp(targets[i].kind, "listener") == 0)
			gort_close(targets[i].fd);
	gort_chan_free(results);
	return 0;
}

int main(void)
{
	return gort_main(start, NULL);
}
