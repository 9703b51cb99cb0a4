/*
 * httpd.c -- a small HTTP/1.1 server, a goroutine per connection, as Go's
 * net/http serves.
 *
 *   httpd [ADDRESS]   serve on ADDRESS (host:port, default 127.0.0.1:8080)
 *                     until SIGINT or SIGTERM, then shut down cleanly
 *   httpd --test      serve on an ephemeral loopback port, put the server
 *                     through its paces with clients in the same program,
 *                     and print what they saw (the example's test)
 *
 * It serves GET and HEAD of "/" (hello from gort) and "/count" (how many
 * requests this connection and the server have answered); any other
 * path is 404, a request it cannot parse 400.  Connections are kept
 * alive, as HTTP/1.1 has them by default, until the client says
 * "Connection: close" (or speaks HTTP/1.0 without asking for
 * keep-alive), an error makes the framing untrustworthy, or the server
 * stops.  Requests a client sends without waiting for the answers
 * (pipelining) are answered in order.  Request bodies, framed by
 * Content-Length, are read and thrown away; chunked ones are refused.
 *
 * Stopping, as Go's Server.Shutdown does it: close the listener, so the
 * accepting goroutine wakes with -GORT_ECLOSED; close every connection
 * that is idle, waiting for a request, which wakes its goroutine the
 * same way; let busy ones finish the request at hand, answered with
 * "Connection: close"; and wait for every connection goroutine to end.
 * Reads and writes have deadlines, so no client can hold that up for
 * more than READ_TIMEOUT plus WRITE_TIMEOUT.
 *
 * The signal is seen through a pipe (the classic self-pipe): the
 * handler only writes a byte, and a goroutine blocked reading the other
 * end starts the shutdown -- Go's signal.Notify, in a few lines.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gort.h"

#define IDLE_TIMEOUT 60000000000LL    /* a kept-alive connection, waiting: 60 s */
#define READ_TIMEOUT 10000000000LL    /* the rest of a request, once begun: 10 s */
#define WRITE_TIMEOUT 10000000000LL   /* an answer: 10 s */
#define MAX_BODY (1 << 20)            /* the largest request body read and discarded */

/* A connection's state.  Its goroutine moves it from BUSY to IDLE and
 * back around each wait for a request; the shutdown moves it from IDLE to
 * CLOSED, by compare-and-swap, and closes the descriptor.  So exactly one
 * of the two closes it, and the goroutine touches no descriptor the
 * shutdown has closed. */
enum { BUSY, IDLE, CLOSED };

struct server {
	int listener;
	volatile uint32_t stopping;   /* atomic */
	volatile uint32_t requests;   /* answered, on every connection; atomic */
	int failed;                   /* accepting stopped on an error; the acceptor's */
	gort_waitgroup running;       /* one per connection goroutine */
	gort_mutex mu;                /* protects conns */
	struct conn *conns;           /* every open connection */
};

struct conn {
	struct server *srv;
	int fd;
	struct conn *prev, *next;     /* srv->conns; srv->mu */
	volatile uint32_t state;      /* BUSY, IDLE or CLOSED; atomic */
	uint32_t requests;            /* answered on this connection */
	time_t date_at;               /* the second date was made for */
	char date[32];
	size_t len;                   /* bytes in buf, the next request's first */
	char buf[8192];
};

/* --- parsing a request ------------------------------------------------------ */

struct request {
	char *method, *target;        /* in the connection's buffer */
	int minor;                    /* HTTP/1.minor */
	int keep_alive;
	long long content_length;
	int status;                   /* 0, or the error to answer with */
};

/* The end of the header block in p[0..n): the offset just past the empty
 * line that ends it, or 0 if that has not arrived yet.  Lines end with
 * CRLF or, as RFC 9112 lets a server accept, a bare LF. */
static size_t header_end(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The next line from *p, NUL-terminated in place without its line end.
 * Every line of a header block ends in LF, the empty line last of all. */
static char *next_line(char **p)
{
	char *line = *p, *nl = strchr(line, '\n');
	*nl = '\0';
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	*p = nl + 1;
	return line;
}

/* RFC 9110's token: the characters a method or a header name is made of. */
static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Does the comma-separated list v name token t? */
static int has_token(const char *v, const char *t)
{
	size_t tl = strlen(t);
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		size_t n = strcspn(v, ", \t");
		if (n == tl && strncasecmp(v, t, tl) == 0)
			return 1;
		v += n;
	}
	return 0;
}

/* Parse the header block p[0..n), which header_end found, in place. */
static void parse(char *p, size_t n, struct request *rq)
{
	*rq = (struct request){ .content_length = -1, .status = 400 };
	if (memchr(p, '\0', n))
		return;
	char *line = next_line(&p);
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || strchr(sp2 + 1, ' '))
		return;
	*sp1 = *sp2 = '\0';
	rq->method = line, rq->target = sp1 + 1;
	const char *version = sp2 + 1;
	if (!is_token(rq->method) || (rq->target[0] != '/' && strcmp(rq->target, "*") != 0))
		return;
	if (strcmp(version, "HTTP/1.1") == 0) {
		rq->minor = 1;
	} else if (strcmp(version, "HTTP/1.0") == 0) {
		rq->minor = 0;
	} else {
		if (strncmp(version, "HTTP/", 5) == 0)
			rq->status = 505;
		return;
	}
	int host = 0, close = 0, keep = 0;
	for (;;) {
		char *h = next_line(&p);
		if (!*h)
			break;   /* the empty line */
		char *colon = strchr(h, ':');
		if (!colon)
			return;
		*colon = '\0';
		if (!is_token(h))
			return;   /* also "Name : value", and folded lines, long obsolete */
		char *v = trim(colon + 1);
		if (strcasecmp(h, "Host") == 0) {
			if (host++)
				return;
		} else if (strcasecmp(h, "Connection") == 0) {
			close |= has_token(v, "close");
			keep |= has_token(v, "keep-alive");
		} else if (strcasecmp(h, "Content-Length") == 0) {
			char *end;
			long long cl = strtoll(v, &end, 10);
			if (!*v || *end || *v < '0' || *v > '9' ||
			    (rq->content_length >= 0 && rq->content_length != cl))
				return;
			rq->content_length = cl;
		} else if (strcasecmp(h, "Transfer-Encoding") == 0) {
			rq->status = 501;   /* chunked bodies are not read here */
			return;
		}
	}
	if (rq->minor == 1 && host != 1)
		return;   /* HTTP/1.1 requires exactly one Host */
	rq->keep_alive = rq->minor == 1 ? !close : keep && !close;
	rq->status = rq->content_length > MAX_BODY ? 413 : 0;
}

/* --- a connection ------------------------------------------------------------ */

/* The connection is about to wait for a request: mark it idle, which lets
 * the shutdown close it under the goroutine.  0 if the server is
 * stopping, and the connection should end instead. */
static int go_idle(struct conn *c)
{
	gort_atomic_store32(&c->state, IDLE);
	if (!gort_atomic_load32(&c->srv->stopping))
		return 1;   /* the shutdown, if it comes now, will see IDLE */
	/* Back to BUSY -- unless the shutdown saw IDLE first and closed the
	 * descriptor: then the CAS fails, and CLOSED stays. */
	gort_atomic_cas32(&c->state, IDLE, BUSY);
	return 0;
}

/* Blank lines before a request are to be ignored (RFC 9112). */
static void skip_blank_lines(struct conn *c)
{
	size_t n = 0;
	while (n < c->len && (c->buf[n] == '\r' || c->buf[n] == '\n'))
		n++;
	memmove(c->buf, c->buf + n, c->len -= n);
}

/* Read the next request's header block into c->buf: its length, or 0 if
 * the connection has ended (the client hung up, a deadline passed, the
 * server is stopping) -- or the block does not fit, which leaves the
 * buffer full. */
static size_t read_header(struct conn *c)
{
	skip_blank_lines(c);
	int64_t deadline = 0;
	size_t end;
	while ((end = header_end(c->buf, c->len)) == 0) {
		if (c->len == sizeof c->buf)
			return 0;
		int idle = c->len == 0;
		if (idle) {
			if (!go_idle(c))
				return 0;
			deadline = gort_now() + IDLE_TIMEOUT;
		} else if (!deadline) {
			deadline = gort_now() + READ_TIMEOUT;
		}
		ssize_t n = gort_read(c->fd, c->buf + c->len, sizeof c->buf - c->len, deadline);
		if (idle) {
			if (!gort_atomic_cas32(&c->state, IDLE, BUSY))
				return 0;   /* the shutdown closed it: nothing to answer */
			deadline = gort_now() + READ_TIMEOUT;
		}
		if (n <= 0)
			return 0;   /* EOF, -ETIMEDOUT, -ECONNRESET, ...: nobody to tell */
		c->len += (size_t)n;
		skip_blank_lines(c);
	}
	return end;
}

/* Consume the request's body: 0, or -1 if the connection failed first. */
static int discard_body(struct conn *c, long long n)
{
	int64_t deadline = gort_now() + READ_TIMEOUT;
	while (n > 0) {
		if (c->len == 0) {
			ssize_t r = gort_read(c->fd, c->buf, sizeof c->buf, deadline);
			if (r <= 0)
				return -1;
			c->len = (size_t)r;
		}
		size_t take = (unsigned long long)n < c->len ? (size_t)n : c->len;
		memmove(c->buf, c->buf + take, c->len - take);
		c->len -= take;
		n -= (long long)take;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* RFC 9110's Date, made at most once a second per connection. */
static const char *date(struct conn *c)
{
	time_t now = time(NULL);
	if (now != c->date_at) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(c->date, sizeof c->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		c->date_at = now;
	}
	return c->date;
}

/* An answer, made while the request's strings are still in the buffer
 * and sent once its body is out of the way. */
struct answer {
	int keep;                     /* the connection goes on after it */
	int len;
	char text[512];
};

/* The answer to rq, whose status says whether it parsed. */
static void answer(struct conn *c, const struct request *rq, struct answer *a)
{
	int status = rq->status, head = 0;
	char body[128];
	const char *allow = NULL;
	uint32_t total = gort_atomic_add32(&c->srv->requests, 1);
	c->requests++;
	if (status == 0) {
		size_t pl = strcspn(rq->target, "?");   /* the path, without the query */
		head = strcmp(rq->method, "HEAD") == 0;
		int root = pl == 1 && rq->target[0] == '/', count = pl == 6 && strncmp(rq->target, "/count", 6) == 0;
		if (!root && !count)
			status = 404;
		else if (!head && strcmp(rq->method, "GET") != 0)
			status = 405, allow = "GET, HEAD";
		else if (root)
			status = 200, snprintf(body, sizeof body, "hello from gort\n");
		else
			status = 200, snprintf(body, sizeof body,
				"request %u on this connection, %u on the server\n", c->requests, total);
	}
	if (status != 200)
		snprintf(body, sizeof body, "%d %s\n", status, reason(status));
	/* after an error the request's framing cannot be trusted */
	a->keep = rq->status == 0 && rq->keep_alive && !gort_atomic_load32(&c->srv->stopping);
	a->len = snprintf(a->text, sizeof a->text,
		"HTTP/1.1 %d %s\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: %zu\r\n"
		"Date: %s\r\n"
		"%s%s%s"
		"%s"
		"\r\n"
		"%s",
		status, reason(status), strlen(body), date(c),
		allow ? "Allow: " : "", allow ? allow : "", allow ? "\r\n" : "",
		!a->keep ? "Connection: close\r\n" : rq->minor == 0 ? "Connection: keep-alive\r\n" : "",
		head ? "" : body);
}

/* Send the answer, in one write: 1 if the connection goes on. */
static int send_answer(struct conn *c, const struct answer *a)
{
	if (gort_write(c->fd, a->text, (size_t)a->len, gort_now() + WRITE_TIMEOUT) < 0)
		return 0;
	return a->keep;
}

static void serve_conn(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	struct answer a;
	for (;;) {
		struct request rq;
		size_t end = read_header(c);
		if (end == 0) {
			if (c->len == sizeof c->buf) {   /* headers too long to hold */
				rq = (struct request){ .status = 431 };
				answer(c, &rq, &a);
				send_answer(c, &a);
			}
			break;
		}
		parse(c->buf, end, &rq);
		answer(c, &rq, &a);
		memmove(c->buf, c->buf + end, c->len - end);
		c->len -= end;
		if (rq.status == 0 && rq.content_length > 0 && discard_body(c, rq.content_length) < 0)
			break;
		if (!send_answer(c, &a))
			break;
	}
	gort_mutex_lock(&s->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	gort_mutex_unlock(&s->mu);
	if (gort_atomic_load32(&c->state) != CLOSED)
		gort_close(c->fd);
	free(c);
	gort_waitgroup_done(&s->running);
}

/* --- the server -------------------------------------------------------------- */

/* Accept until the listener is closed. */
static void serve(struct server *s)
{
	for (;;) {
		int fd = gort_accept(s->listener, NULL, NULL, GORT_FOREVER);
		/* The listener was closed: time to stop.  Closed while we
		 * waited, the call says so (-GORT_ECLOSED); closed between two
		 * calls, the number is already free (-EBADF). */
		if (fd == -GORT_ECLOSED || fd == -EBADF)
			return;
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM ||
		    fd == -ECONNABORTED) {
			/* out of descriptors or memory, or a client that gave
			 * up: wait a moment and go on, as net/http does */
			fprintf(stderr, "httpd: accept: %s\n", gort_strerror(fd));
			gort_sleep(10000000);
			continue;
		}
		if (fd < 0) {
			/* anything else: the listener is no use */
			fprintf(stderr, "httpd: accept: %s\n", gort_strerror(fd));
			s->failed = 1;
			return;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			gort_close(fd);
			continue;
		}
		/* Each answer goes out in one write, so Nagle's algorithm
		 * can only hold back the second of two pipelined ones -- but
		 * for as long as the client delays its ACK, 40 ms on Linux.
		 * Go turns it off on every TCP connection; gort_dial does,
		 * gort_accept leaves the socket as the kernel made it. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->srv = s, c->fd = fd, c->state = BUSY;
		gort_mutex_lock(&s->mu);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		gort_mutex_unlock(&s->mu);
		gort_waitgroup_add(&s->running, 1);
		gort_go(serve_conn, c);
	}
}

/* After the listener has closed: end the idle connections, and wait for
 * the busy ones to finish. */
static void shut_down(struct server *s)
{
	gort_atomic_store32(&s->stopping, 1);
	gort_mutex_lock(&s->mu);
	for (struct conn *c = s->conns; c; c = c->next)
		if (gort_atomic_cas32(&c->state, IDLE, CLOSED))
			gort_close(c->fd);   /* its goroutine wakes with -GORT_ECLOSED */
	gort_mutex_unlock(&s->mu);
	gort_waitgroup_wait(&s->running);
}

static int listen_on(struct server *s, const char *address, char *bound, size_t n)
{
	s->listener = gort_listen("tcp", address);
	if (s->listener < 0) {
		fprintf(stderr, "httpd: listen %s: %s\n", address, gort_strerror(s->listener));
		return -1;
	}
	int e = gort_localaddr(s->listener, bound, n);
	if (e < 0) {
		fprintf(stderr, "httpd: %s: %s\n", address, gort_strerror(e));
		return -1;
	}
	return 0;
}

static int signal_w = -1;   /* the pipe's write end, for the handler */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(signal_w, &b, 1) < 0) {
		/* full: a signal is already waiting to be read */
	}
	errno = saved;
}

struct watch {
	int fd;                       /* the pipe's read end */
	struct server *srv;
};

static void watch_signals(void *arg)
{
	struct watch *w = arg;
	unsigned char sig;
	if (gort_read(w->fd, &sig, 1, GORT_FOREVER) == 1)
		fprintf(stderr, "httpd: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	/* a second Ctrl-C, for a user who will not wait, kills at once */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	gort_close(w->srv->listener);
}

static int serve_main(void *arg)
{
	static struct server srv;
	char bound[80];
	if (listen_on(&srv, arg, bound, sizeof bound) < 0)
		return 1;
	int p[2];
	/* non-blocking: a handler must never wait, even on a full pipe */
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		perror("httpd: pipe");
		return 1;
	}
	signal_w = p[1];
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	static struct watch w;
	w = (struct watch){ p[0], &srv };
	gort_go(watch_signals, &w);

	fprintf(stderr, "httpd: listening on %s\n", bound);
	serve(&srv);
	shut_down(&srv);
	fprintf(stderr, "httpd: shut down after %u requests\n", gort_atomic_load32(&srv.requests));
	return srv.failed;
}

/* --- --test: clients in the same program ------------------------------------ */

#define CLIENTS 8
#define ROUNDS 3

struct client {
	int fd;
	size_t len;
	char buf[4096];
};

struct response {
	int status;
	int closes;                   /* "Connection: close" */
	long long length;             /* Content-Length, -1 if none */
	char body[256];
};

static int64_t soon(void)
{
	return gort_now() + 10000000000LL;   /* 10 s: generous, for emulators */
}

static int dial(struct client *cl, const char *addr)
{
	cl->len = 0;
	cl->fd = gort_dial("tcp", addr, soon());
	return cl->fd;
}

/* Read one response; head: to a HEAD request, so no body whatever the
 * headers say.  0, or a negative errno: -EPROTO for what is not HTTP,
 * -ECONNRESET for an end of file before the whole response. */
static int read_response(struct client *cl, int head, struct response *rs)
{
	size_t end;
	while ((end = header_end(cl->buf, cl->len)) == 0) {
		if (cl->len == sizeof cl->buf)
			return -EPROTO;
		ssize_t n = gort_read(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len, soon());
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
		cl->len += (size_t)n;
	}
	char hdr[sizeof cl->buf + 1];
	memcpy(hdr, cl->buf, end);
	hdr[end] = '\0';
	*rs = (struct response){ .length = -1 };
	if (sscanf(hdr, "HTTP/1.1 %d", &rs->status) != 1)
		return -EPROTO;
	for (char *h = strchr(hdr, '\n'); h && h[1]; h = strchr(h + 1, '\n')) {
		if (strncasecmp(h + 1, "Content-Length:", 15) == 0)
			rs->length = atoll(h + 16);
		else if (strncasecmp(h + 1, "Connection: close", 17) == 0)
			rs->closes = 1;
	}
	memmove(cl->buf, cl->buf + end, cl->len -= end);
	size_t want = head || rs->length < 0 ? 0 : (size_t)rs->length;
	if (want >= sizeof rs->body)
		return -EPROTO;
	while (cl->len < want) {
		ssize_t n = gort_read(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len, soon());
		if (n <= 0)
			return n < 0 ? (int)n : -ECONNRESET;
		cl->len += (size_t)n;
	}
	memcpy(rs->body, cl->buf, want);
	rs->body[want] = '\0';
	memmove(cl->buf, cl->buf + want, cl->len -= want);
	return 0;
}

/* After a response that closed: does the server hang up? */
static const char *hung_up(struct client *cl)
{
	char c;
	ssize_t n = cl->len ? 1 : gort_read(cl->fd, &c, 1, soon());
	return n == 0 ? "then the server hangs up" : "but the connection stays open";
}

/* "label: status "body"", the body's newline shown as \n. */
static void print_answer(const char *label, const struct response *rs)
{
	size_t n = strlen(rs->body);
	int nl = n && rs->body[n - 1] == '\n';
	printf("%s: %d \"%.*s%s\"\n", label, rs->status, (int)(n - (size_t)nl), rs->body,
		nl ? "\\n" : "");
}

/* Send request, read the answer, and print it. */
static int exchange(struct client *cl, const char *label, const char *request, int head,
	struct response *rs)
{
	ssize_t w = gort_write(cl->fd, request, strlen(request), soon());
	int e = w < 0 ? (int)w : read_response(cl, head, rs);
	if (e < 0) {
		printf("%s: %s\n", label, gort_strerror(e));
		return e;
	}
	if (head)
		printf("%s: %d, no body, Content-Length %lld\n", label, rs->status, rs->length);
	else
		print_answer(label, rs);
	return 0;
}

struct keepalive {
	const char *addr;
	int good;                     /* requests answered 200, on one connection */
	gort_waitgroup *done;
};

static void keepalive_client(void *arg)
{
	struct keepalive *k = arg;
	struct client *cl = malloc(sizeof *cl);
	if (cl && dial(cl, k->addr) >= 0) {
		for (int i = 0; i < ROUNDS; i++) {
			const char *rq = "GET / HTTP/1.1\r\nHost: gort\r\n\r\n";
			struct response rs;
			if (gort_write(cl->fd, rq, strlen(rq), soon()) < 0 ||
			    read_response(cl, 0, &rs) < 0 || rs.status != 200 || rs.closes ||
			    strcmp(rs.body, "hello from gort\n") != 0)
				break;
			k->good++;
		}
		gort_close(cl->fd);
	}
	free(cl);
	gort_waitgroup_done(k->done);
}

struct test_server {
	struct server srv;
	gort_chan *stopped;           /* closed when the server has shut down */
};

static void test_server(void *arg)
{
	struct test_server *t = arg;
	serve(&t->srv);
	shut_down(&t->srv);
	gort_chan_close(t->stopped);
}

/* A new connection for one request that should end it: send, print the
 * answer, and whether the server then hung up. */
static int one_shot(const char *addr, const char *label, const char *request)
{
	static struct client cl;
	struct response rs;
	if (dial(&cl, addr) < 0) {
		printf("%s: dial: %s\n", label, gort_strerror(cl.fd));
		return -1;
	}
	int e = exchange(&cl, label, request, 0, &rs);
	if (e == 0)
		printf("  %s\n", rs.closes ? hung_up(&cl) : "and the connection stays open");
	gort_close(cl.fd);
	return e;
}

static int test_main(void *arg)
{
	(void)arg;
	static struct test_server t;
	char addr[80];
	if (listen_on(&t.srv, "127.0.0.1:0", addr, sizeof addr) < 0)
		return 1;
	t.stopped = gort_chan_make(0, 0);
	gort_go(test_server, &t);
	int failed = 0;

	/* many connections at once, each kept alive for several requests */
	static struct keepalive ka[CLIENTS];
	gort_waitgroup done = { 0 };
	gort_waitgroup_add(&done, CLIENTS);
	for (int i = 0; i < CLIENTS; i++) {
		ka[i] = (struct keepalive){ addr, 0, &done };
		gort_go(keepalive_client, &ka[i]);
	}
	gort_waitgroup_wait(&done);
	int good = 0;
	for (int i = 0; i < CLIENTS; i++)
		good += ka[i].good;
	printf("%d clients at once, %d requests each on one connection: %d answered "
		"\"hello from gort\"\n", CLIENTS, ROUNDS, good);
	failed |= good != CLIENTS * ROUNDS;

	/* one connection, request after request */
	static struct client cl;
	struct response rs;
	if (dial(&cl, addr) < 0) {
		printf("dial: %s\n", gort_strerror(cl.fd));
		return 1;
	}
	failed |= exchange(&cl, "GET /count", "GET /count HTTP/1.1\r\nHost: gort\r\n\r\n", 0, &rs) < 0;
	failed |= exchange(&cl, "GET /count?again", "GET /count?again HTTP/1.1\r\nHost: gort\r\n\r\n",
		0, &rs) < 0;
	failed |= exchange(&cl, "HEAD /", "HEAD / HTTP/1.1\r\nHost: gort\r\n\r\n", 1, &rs) < 0;
	failed |= exchange(&cl, "POST / (a 5-byte body)",
		"POST / HTTP/1.1\r\nHost: gort\r\nContent-Length: 5\r\n\r\nhello", 0, &rs) < 0;
	failed |= exchange(&cl, "GET /nothing-here", "GET /nothing-here HTTP/1.1\r\nHost: gort\r\n\r\n",
		0, &rs) < 0;
	/* two requests in one write, answered in order */
	failed |= exchange(&cl, "pipelined GET /count, GET /",
		"GET /count HTTP/1.1\r\nHost: gort\r\n\r\nGET / HTTP/1.1\r\nHost: gort\r\n\r\n", 0, &rs) < 0;
	if (read_response(&cl, 0, &rs) == 0)
		print_answer("  and then", &rs);
	else
		failed = 1;
	failed |= exchange(&cl, "GET / (Connection: close)",
		"GET / HTTP/1.1\r\nHost: gort\r\nConnection: close\r\n\r\n", 0, &rs) < 0;
	printf("  %s\n", hung_up(&cl));
	gort_close(cl.fd);

	/* what a server must refuse, or may end the connection after */
	failed |= one_shot(addr, "garbage", "hello, server\r\n\r\n") < 0;
	failed |= one_shot(addr, "HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n") < 0;
	failed |= one_shot(addr, "HTTP/2.0 in text", "GET / HTTP/2.0\r\nHost: gort\r\n\r\n") < 0;
	failed |= one_shot(addr, "a chunked body",
		"POST / HTTP/1.1\r\nHost: gort\r\nTransfer-Encoding: chunked\r\n\r\n") < 0;
	failed |= one_shot(addr, "HTTP/1.0", "GET / HTTP/1.0\r\n\r\n") < 0;
	failed |= one_shot(addr, "HTTP/1.0 asking for keep-alive",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") < 0;

	/* a kept-alive connection left idle: the shutdown ends it */
	if (dial(&cl, addr) < 0 ||
	    exchange(&cl, "GET / (then idle)", "GET / HTTP/1.1\r\nHost: gort\r\n\r\n", 0, &rs) < 0)
		return 1;
	gort_close(t.srv.listener);
	char c;
	ssize_t n = gort_read(cl.fd, &c, 1, soon());
	printf("  at shutdown: %s\n", n == 0 ? "the server hangs up" : gort_strerror((int)n));
	failed |= n != 0;
	gort_close(cl.fd);
	gort_chan_recv(t.stopped, NULL);
	printf("server: shut down after %u requests\n", gort_atomic_load32(&t.srv.requests));
	gort_chan_free(t.stopped);
	return failed || t.srv.failed;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--test") == 0)
		return gort_main(test_main, NULL);
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: httpd [ADDRESS]   (default 127.0.0.1:8080)\n"
		                "       httpd --test\n");
		return 2;
	}
	return gort_main(serve_main, argc > 1 ? argv[1] : "127.0.0.1:8080");
}
