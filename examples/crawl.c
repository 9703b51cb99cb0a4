/*
 * crawl.c -- a crawler with bounded concurrency: contexts, deadlines and
 * a weighted semaphore (Go: context, golang.org/x/sync/semaphore).
 *
 * The program serves a small web of pages itself, on 127.0.0.1 and a
 * port the system picks, and crawls it from "/":
 *
 *   - every fetch runs in a goroutine of its own, but a semaphore of
 *     weight MAXFETCH lets only that many talk to the server at once;
 *   - the whole crawl has a context with a deadline, and each fetch a
 *     child context with a shorter one: the earlier of the two bounds
 *     each fetch, and its deadline goes straight to gort_dial,
 *     gort_write and gort_read;
 *   - one page, /slow, never answers (the server waits for the client
 *     to hang up): its fetch ends with its deadline, as "deadline
 *     exceeded", and the others go on meanwhile;
 *   - results come back through a channel; the crawler starts a fetch
 *     for every link it has not seen, and ends when none is left.
 *
 * The server stops with the cancellable-accept idiom: a goroutine waits
 * on the server's context and closes the listener, which wakes the
 * acceptor with -GORT_ECLOSED.
 *
 * What it prints is the same on every run: the pages sorted, each with
 * its status or error, and whether the bound held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort.h"

#define MAXFETCH 3
#define FETCH_NS (2000 * 1000000LL)     /* each fetch: 2 s */
#define CRAWL_NS (60000 * 1000000LL)    /* the whole crawl: 60 s */
#define MAXPAGES 32

/* --- the site --------------------------------------------------------------- */

static const struct page {
	const char *path;
	const char *links;   /* one per line */
} site[] = {
	{ "/", "/a\n/b\n/c\n" },
	{ "/a", "/a/1\n/a/2\n/b\n" },
	{ "/a/1", "/\n" },
	{ "/a/2", "/c/1\n" },
	{ "/b", "/b/1\n/slow\n" },
	{ "/b/1", "/a\n/missing\n" },
	{ "/c", "/c/1\n/c/2\n" },
	{ "/c/1", "" },
	{ "/c/2", "/a/2\n" },
	{ "/slow", "/never-seen\n" },
};

struct server {
	int listener;
	gort_ctx *ctx;                /* cancelled to stop it */
	gort_waitgroup running;       /* the acceptor and each connection */
};

struct sconn {
	struct server *srv;
	int fd;
};

/* Read a request up to its blank line: the path, or NULL. */
static char *read_request(int fd, char *buf, size_t n)
{
	size_t len = 0;
	while (len < n - 1) {
		ssize_t r = gort_read(fd, buf + len, n - 1 - len, GORT_FOREVER);
		if (r <= 0)
			return NULL;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	if (strncmp(buf, "GET ", 4) != 0)
		return NULL;
	char *path = buf + 4, *end = strchr(path, ' ');
	if (!end)
		return NULL;
	*end = '\0';
	return path;
}

static void serve_conn(void *arg)
{
	struct sconn *c = arg;
	char buf[1024], out[1024];
	char *path = read_request(c->fd, buf, sizeof buf);
	if (path && strcmp(path, "/slow") == 0) {
		/* Never answer: wait for the client to give up and hang up. */
		while (gort_read(c->fd, buf, sizeof buf, GORT_FOREVER) > 0)
			;
	} else if (path) {
		const struct page *pg = NULL;
		for (size_t i = 0; i < sizeof site / sizeof site[0]; i++)
			if (strcmp(site[i].path, path) == 0)
				pg = &site[i];
		int n = pg ? snprintf(out, sizeof out, "HTTP/1.0 200 OK\r\n\r\n%s", pg->links)
		           : snprintf(out, sizeof out, "HTTP/1.0 404 Not Found\r\n\r\n");
		gort_write(c->fd, out, (size_t)n, gort_now() + FETCH_NS);
	}
	gort_close(c->fd);
	gort_waitgroup_done(&c->srv->running);
	free(c);
}

static void acceptor(void *arg)
{
	struct server *s = arg;
	for (;;) {
		int fd = gort_accept(s->listener, NULL, NULL, GORT_FOREVER);
		if (fd < 0)
			break;   /* -GORT_ECLOSED: the watcher closed the listener */
		struct sconn *c = malloc(sizeof *c);
		if (!c) {
			gort_close(fd);
			continue;
		}
		c->srv = s, c->fd = fd;
		gort_waitgroup_add(&s->running, 1);
		gort_go(serve_conn, c);
	}
	gort_waitgroup_done(&s->running);
}

/* The idiom for cancelling a blocked call: wait for done, then close the
 * descriptor the call waits on. */
static void watcher(void *arg)
{
	struct server *s = arg;
	gort_chan_recv(gort_ctx_done(s->ctx), NULL);
	gort_close(s->listener);
	gort_waitgroup_done(&s->running);
}

/* --- the crawler ------------------------------------------------------------ */

struct result {
	char path[64];
	int status;          /* HTTP status, or 0 on error */
	int err;             /* a negative errno, or 0 */
	char links[256];     /* the body: one link per line */
};

struct crawl {
	char addr[64];
	gort_ctx *ctx;                 /* the whole crawl's */
	gort_semaphore *sem;           /* at most MAXFETCH fetches at once */
	gort_chan *results;
	volatile uint32_t inflight, maxflight;   /* atomic */
};

struct fetch {
	struct crawl *cr;
	char path[64];
};

/* One fetch, bounded by ctx's deadline: 0, or a negative errno. */
static int get(const char *addr, gort_ctx *ctx, struct result *r)
{
	int64_t deadline = gort_ctx_deadline(ctx);
	int fd = gort_dial("tcp", addr, deadline);
	if (fd < 0)
		return fd;
	char req[128], buf[1024];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", r->path);
	ssize_t w = gort_write(fd, req, (size_t)n, deadline);
	size_t len = 0;
	ssize_t got = w < 0 ? w : 1;
	while (got > 0 && len < sizeof buf - 1) {
		got = gort_read(fd, buf + len, sizeof buf - 1 - len, deadline);
		if (got > 0)
			len += (size_t)got;
	}
	gort_close(fd);
	if (got < 0)
		return (int)got;
	buf[len] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.0 ", 9) != 0 || !body)
		return -EPROTO;
	r->status = atoi(buf + 9);
	snprintf(r->links, sizeof r->links, "%s", body + 4);
	return 0;
}

static void fetcher(void *arg)
{
	struct fetch *f = arg;
	struct crawl *cr = f->cr;
	struct result r = { .status = 0 };
	snprintf(r.path, sizeof r.path, "%s", f->path);
	free(f);
	/* Waiting for a turn is bounded by the crawl's deadline; once its
	 * turn has come, each fetch gets its own, never later than that. */
	r.err = gort_semaphore_acquire(cr->sem, 1, cr->ctx);
	if (r.err == 0) {
		gort_ctx *ctx = gort_ctx_with_timeout(cr->ctx, FETCH_NS);
		uint32_t now = gort_atomic_add32(&cr->inflight, 1), max;
		while (now > (max = gort_atomic_load32(&cr->maxflight)) &&
		       !gort_atomic_cas32(&cr->maxflight, max, now))
			;
		r.err = get(cr->addr, ctx, &r);
		gort_atomic_add32(&cr->inflight, -1);
		gort_semaphore_release(cr->sem, 1);
		gort_ctx_free(ctx);
	}
	gort_chan_send(cr->results, &r);
}

static int bypath(const void *a, const void *b)
{
	return strcmp(((const struct result *)a)->path, ((const struct result *)b)->path);
}

static int start(void *arg)
{
	(void)arg;
	/* The server. */
	struct server srv = { .ctx = gort_ctx_with_cancel(gort_ctx_background()) };
	srv.listener = gort_listen("tcp", "127.0.0.1:0");
	struct crawl cr = { .inflight = 0 };
	if (srv.listener < 0 || gort_localaddr(srv.listener, cr.addr, sizeof cr.addr) < 0) {
		fprintf(stderr, "crawl: listen: %s\n", gort_strerror(srv.listener));
		return 1;
	}
	gort_waitgroup_add(&srv.running, 2);
	gort_go(acceptor, &srv);
	gort_go(watcher, &srv);

	/* The crawl. */
	cr.ctx = gort_ctx_with_timeout(gort_ctx_background(), CRAWL_NS);
	cr.sem = gort_semaphore_new(MAXFETCH);
	cr.results = gort_chan_make(sizeof(struct result), 0);
	static struct result done[MAXPAGES];
	static char seen[MAXPAGES][64];
	int nseen = 0, ndone = 0, pending = 0;
	const char *next = "/";
	for (;;) {
		/* start a fetch for every link not seen yet */
		while (next && *next) {
			const char *nl = strchr(next, '\n');
			size_t len = nl ? (size_t)(nl - next) : strlen(next);
			int known = 0;
			for (int i = 0; i < nseen; i++)
				if (strlen(seen[i]) == len && strncmp(seen[i], next, len) == 0)
					known = 1;
			if (!known && nseen < MAXPAGES && len < sizeof seen[0]) {
				memcpy(seen[nseen], next, len);
				seen[nseen][len] = '\0';
				struct fetch *f = malloc(sizeof *f);
				if (!f)
					return 1;
				f->cr = &cr;
				snprintf(f->path, sizeof f->path, "%s", seen[nseen++]);
				pending++;
				gort_go(fetcher, f);
			}
			next = nl ? nl + 1 : NULL;
		}
		if (pending == 0)
			break;
		struct result *r = &done[ndone++];
		gort_chan_recv(cr.results, r);
		pending--;
		next = r->err == 0 && r->status == 200 ? r->links : NULL;
	}

	qsort(done, (size_t)ndone, sizeof done[0], bypath);
	for (int i = 0; i < ndone; i++) {
		struct result *r = &done[i];
		if (r->err == -ETIMEDOUT)
			printf("%-9s deadline exceeded\n", r->path);
		else if (r->err)
			printf("%-9s error: %s\n", r->path, gort_strerror(r->err));
		else if (r->status != 200)
			printf("%-9s %d\n", r->path, r->status);
		else {
			int links = 0;
			for (const char *p = r->links; *p; p++)
				links += *p == '\n';
			printf("%-9s %d, %d link%s\n", r->path, r->status, links, links == 1 ? "" : "s");
		}
	}
	uint32_t max = gort_atomic_load32(&cr.maxflight);
	printf("%d pages; at most %d fetches at once: %s\n", ndone, MAXFETCH,
		max >= 1 && max <= MAXFETCH ? "held" : "BROKEN");

	/* Stop the server: its context's cancel closes the listener. */
	gort_ctx_cancel(srv.ctx);
	gort_waitgroup_wait(&srv.running);
	gort_ctx_free(srv.ctx);
	gort_ctx_free(cr.ctx);
	gort_semaphore_free(cr.sem);
	gort_chan_free(cr.results);
	return max >= 1 && max <= MAXFETCH ? 0 : 1;
}

int main(void)
{
	return gort_main(start, NULL);
}
