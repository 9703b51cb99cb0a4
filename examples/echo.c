/*
 * echo.c -- an echo server and its clients in one program.  The server
 * is written as a Go server is: one goroutine accepts, and each
 * connection gets a goroutine of its own that reads and writes as if it
 * had the machine to itself; a goroutine waiting for bytes parks in the
 * poller and holds no thread.  Every read and write carries a deadline,
 * and every failure comes back as a value (a negative errno), checked
 * where the call is made.  Closing the listener is how the server is
 * told to stop: the goroutine blocked in gort_accept wakes with
 * -GORT_ECLOSED, as Go's Accept returns net.ErrClosed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort.h"

#define CLIENTS 4
#define LINES 3

struct server {
	int listener;
	gort_waitgroup conns;   /* one per connection still being served */
	int served;             /* connections accepted; the acceptor's alone */
	int err;                /* why accepting stopped, if not a close */
	gort_chan *stopped;     /* closed once every connection has ended */
};

struct conn {
	struct server *srv;
	int fd;
};

/* One connection: send back whatever comes, until the client closes its
 * end.  The deadline is Go's conn.SetDeadline(time.Now().Add(5 *
 * time.Second)), renewed for each read and each write. */
static void echo_conn(void *arg)
{
	struct conn *c = arg;
	char buf[512];
	for (;;) {
		ssize_t n = gort_read(c->fd, buf, sizeof buf, gort_now() + 5000000000);
		if (n == 0)
			break;   /* the client is done */
		if (n < 0) {
			fprintf(stderr, "echo: read: %s\n", gort_strerror((int)n));
			break;
		}
		ssize_t w = gort_write(c->fd, buf, (size_t)n, gort_now() + 5000000000);
		if (w < 0) {
			fprintf(stderr, "echo: write: %s\n", gort_strerror((int)w));
			break;
		}
	}
	gort_close(c->fd);
	struct server *s = c->srv;
	free(c);   /* first: once the last is done, the program may end */
	gort_waitgroup_done(&s->conns);
}

/* Accept until the listener is closed, then wait for the connections
 * already accepted to end. */
static void serve(void *arg)
{
	struct server *s = arg;
	for (;;) {
		int fd = gort_accept(s->listener, NULL, NULL, GORT_FOREVER);
		/* The listener was closed: time to stop.  Closed while we
		 * waited, the call says so (-GORT_ECLOSED); closed between two
		 * calls, the number is already free (-EBADF). */
		if (fd == -GORT_ECLOSED || fd == -EBADF)
			break;
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM ||
		    fd == -ECONNABORTED) {
			/* out of descriptors or memory, or a client that gave
			 * up: the next one may do better */
			fprintf(stderr, "echo: accept: %s\n", gort_strerror(fd));
			gort_sleep(10000000);
			continue;
		}
		if (fd < 0) {
			s->err = fd;   /* anything else: the listener is no use */
			break;
		}
		struct conn *c = malloc(sizeof *c);
		if (!c) {
			gort_close(fd);
			continue;
		}
		*c = (struct conn){ s, fd };
		s->served++;
		gort_waitgroup_add(&s->conns, 1);
		gort_go(echo_conn, c);
	}
	gort_waitgroup_wait(&s->conns);
	gort_chan_close(s->stopped);
}

struct client {
	int id;
	const char *addr;
	gort_waitgroup *done;
	/* what the client saw, for main to print in order */
	int early;              /* a read before writing anything: its result */
	char echoed[LINES][64];
	const char *failed;     /* the call that failed, or NULL */
	int err;                /* ... and its error */
};

/* Read one line into buf (NUL-terminated, newline kept): its length, 0
 * if the connection ended first, or a negative errno.  A client sends
 * its next line only after the last came back, so a read never brings
 * bytes beyond the newline. */
static ssize_t read_line(int fd, char *buf, size_t size, int64_t deadline)
{
	size_t got = 0;
	while (got == 0 || buf[got - 1] != '\n') {
		if (got == size - 1)
			return -EMSGSIZE;
		ssize_t n = gort_read(fd, buf + got, size - 1 - got, deadline);
		if (n <= 0)
			return n;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

static void client(void *arg)
{
	struct client *c = arg;
	int fd = gort_dial("tcp", c->addr, gort_now() + 5000000000);
	if (fd < 0) {
		c->failed = "dial", c->err = fd;
		goto out;
	}
	if (c->id == 0) {
		/* Nothing was sent, so nothing can come back: the deadline,
		 * 50 ms from now, is what ends this read. */
		char b;
		c->early = (int)gort_read(fd, &b, 1, gort_now() + 50000000);
	}
	for (int i = 0; i < LINES; i++) {
		char line[64];
		int n = snprintf(line, sizeof line, "line %d from client %d\n", i, c->id);
		int64_t deadline = gort_now() + 5000000000;
		ssize_t r = gort_write(fd, line, (size_t)n, deadline);
		if (r < 0) {
			c->failed = "write", c->err = (int)r;
			break;
		}
		r = read_line(fd, c->echoed[i], sizeof c->echoed[i], deadline);
		if (r <= 0) {
			c->failed = "read", c->err = (int)r;   /* 0: the server hung up */
			break;
		}
	}
	gort_close(fd);
out:
	gort_waitgroup_done(c->done);
}

static int start(void *arg)
{
	(void)arg;
	struct server srv = { .stopped = gort_chan_make(0, 0) };   /* chan struct{} */
	/* port 0: the system picks a free one; gort_localaddr says which */
	srv.listener = gort_listen("tcp4", "127.0.0.1:0");
	if (srv.listener < 0) {
		fprintf(stderr, "echo: listen: %s\n", gort_strerror(srv.listener));
		return 1;
	}
	char addr[64];
	int e = gort_localaddr(srv.listener, addr, sizeof addr);
	if (e < 0) {
		fprintf(stderr, "echo: localaddr: %s\n", gort_strerror(e));
		return 1;
	}
	gort_go(serve, &srv);

	static struct client clients[CLIENTS];
	gort_waitgroup done = { 0 };
	gort_waitgroup_add(&done, CLIENTS);
	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = (struct client){ .id = i, .addr = addr, .done = &done };
		gort_go(client, &clients[i]);
	}
	gort_waitgroup_wait(&done);

	int status = 0;
	if (clients[0].early == -ETIMEDOUT) {
		printf("client 0, reading before writing: %s\n", gort_strerror(clients[0].early));
	} else if (!clients[0].failed) {
		printf("client 0, reading before writing: %d, not a timeout\n", clients[0].early);
		status = 1;
	}
	for (int i = 0; i < CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->failed) {
			printf("client %d: %s: %s\n", i, c->failed,
				c->err ? gort_strerror(c->err) : "the connection ended");
			status = 1;
			continue;
		}
		for (int j = 0; j < LINES; j++)
			printf("client %d got back: %s", i, c->echoed[j]);
	}

	gort_close(srv.listener);
	gort_chan_recv(srv.stopped, NULL);
	if (srv.err) {
		printf("server: accept: %s\n", gort_strerror(srv.err));
		status = 1;
	}
	printf("server stopped after %d connections\n", srv.served);
	gort_chan_free(srv.stopped);
	return status;
}

int main(void)
{
	return gort_main(start, NULL);
}
