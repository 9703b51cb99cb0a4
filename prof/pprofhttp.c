/*
 * pprofhttp.c -- the live endpoint: Go's net/http/pprof, served by a
 * running gort program on the poller (Go: net/http/pprof/pprof.go, and
 * the small part of net/http it stands on).
 *
 * What it is for.  A profile written at exit answers "where did the time
 * go in that run"; a live endpoint answers "what is this program doing
 * now", of a server that has run for a week, or of one that is stuck.
 * Go programs get it with one import: net/http/pprof registers handlers
 * under /debug/pprof/ on the default mux, and
 * `go tool pprof http://host:6060/debug/pprof/profile?seconds=5` fetches a
 * CPU profile of the next five seconds.  gort serves the same paths, with
 * the same headers and the same error texts, so that the same command
 * works against a gort program:
 *
 *   Go (net/http/pprof)                 gort (this file)
 *   import _ "net/http/pprof";          GORTPPROF=127.0.0.1:6060, or
 *   go http.ListenAndServe(addr, nil)   gort_prof_serve("127.0.0.1:6060")
 *   Index: the HTML list                index(): the same list, from table[]
 *   Profile: StartCPUProfile(w),        serve_cpu(): gort_prof_start_fd on
 *     sleep(r, sec), StopCPUProfile()     a memfd, a parked wait, stop, send
 *   handler(name): Lookup(name).WriteTo serve_named(): table[name].write
 *   Cmdline: os.Args joined by NUL      serve_cmdline(): /proc/self/cmdline
 *   Symbol: FuncForPC for each address  serve_symbol(): gort_funcinfo_for_pc
 *   Trace                               not served (501; GORTTRACE is gort's)
 *   serveError: text/plain, X-Go-Pprof  serve_error(): the same headers, so
 *                                         `go tool pprof` prints our text
 *
 * The server.  gort_prof_serve listens at once (so a bad address or a port
 * in use is the caller's error, returned), then starts one goroutine that
 * accepts, and one goroutine per connection, as net/http does; all of them
 * carry the label gort=pprof-http, so the CPU they use shows up as theirs
 * (`-tagfocus gort=pprof-http`; `-tagignore` to leave it out).  Every
 * wait is the poller's: a goroutine waiting for a request, or for the
 * seconds of a profile to pass, is parked and holds no thread.
 *
 * HTTP, minimally and defensively.  One request per connection, answered
 * with "Connection: close" (HTTP/1.1 allows a server to say so; every
 * client copes, go tool pprof and curl included), so there is no
 * keep-alive state to get wrong.  The request line and headers must fit
 * in MAXHEAD bytes (else 431, as net/http answers past MaxHeaderBytes) and
 * arrive within HEAD_TIMEOUT of the connection (else the connection is
 * closed, as net/http's ReadHeaderTimeout does): a slow or silent client
 * holds a goroutine and a little memory for seconds, not forever, and at
 * most MAXCONNS of them are served at once (as many more get 503).  Anything
 * that does not parse is 400 and the connection is closed; methods other
 * than GET and HEAD are 405 (POST too, on /symbol, where Go takes it);
 * a path outside /debug/pprof/ is 404 with a body that says where to
 * look.  After the answer the server closes its side and reads what the
 * client may still send for up to LINGER, so that unread request bytes do
 * not make the kernel reset the connection before the client has read the
 * answer (net/http's closeWriteAndWait).
 *
 * The CPU profile.  gort_prof_start_fd writes the whole profile at stop,
 * with blocking write(2)s; the connection is non-blocking under the
 * poller, and a client that does not read would fill the socket buffer
 * and make the writer spin, or block a thread.  So the profile goes to a
 * memfd (an O_TMPFILE where there is none), and from there to the client
 * with gort_write, which parks while the client is slow.  That also gives
 * the answer a Content-Length.  The wait for the seconds to pass is a
 * gort_read of the connection with the end of the profile as deadline:
 * the goroutine is parked, -ETIMEDOUT is "time's up", and an end of file
 * or an error is the client going away -- Go's sleep(r, d), which ends at
 * d or when the request's context is cancelled.  Either way the profiler
 * is stopped at once, so the next request can have it.  The stop writes
 * the profile (symbolizing every PC, which can take a good part of a
 * second), so it runs inside gort_syscall_enter/exit: the P goes on
 * running other goroutines meanwhile.  A profiler already running
 * (GORTPROF, the program's own gort_prof_start, another /profile) is 500
 * "Could not enable CPU profiling: cpu profiling already in use", Go's
 * words.  Go ignores a bad seconds= and profiles 30 s; gort refuses it
 * with 400 `invalid value for "seconds"`, the words of Go's delta
 * profiles, since a typo that silently costs 30 s is worse than an error.
 *
 * The other profiles are one table, table[] below: a name, the line the
 * index shows, and a writer `int (*)(const char *name, int fd)` that
 * writes the gzip'd profile to fd and returns 0 or a negative errno:
 * gort_prof_lookup_write (profiles.c) for all five.  -ENOSYS -- the heap
 * profile where gort may not replace malloc (a sanitizer's build) -- is
 * answered 501 "gort: the <name> profile is not available in this build".  A writer runs on
 * the connection's goroutine and writes to a memfd, as the CPU profile
 * does.
 *
 * The end of the program.  As in Go, the server does not keep a program
 * alive: when gort_main's main returns, gort_main returns and the
 * server's goroutines are never resumed (a profile in progress is simply
 * never sent).  And as in Go, a goroutine waiting on the poller -- the
 * accept loop, always -- means the outside world may still wake
 * somebody, so the deadlock detector stays quiet: a program whose other
 * goroutines are all blocked for ever goes on serving its profiles
 * instead of dying with "all goroutines are asleep".  That is the point:
 * the goroutine profile of a stuck program is what one wants to fetch.
 *
 * Rejected: a thread of its own with blocking sockets (it would answer
 * even while the scheduler is wedged, but it would be a thread the
 * deadlock detector must be told about, its CPU could carry no label, and
 * the goroutine, block and mutex writers expect a goroutine's context);
 * keep-alive (pprof makes one request, and keep-alive is where a minimal
 * server's bugs live); streaming the profile as the writer produces it
 * (the writer would need a non-blocking sink and the answer chunked
 * framing, for a file that is rarely over a megabyte).
 *
 * Runs on goroutines: no stdio here except snprintf into buffers, no
 * blocking system call on a socket; the GORTPPROF message is printed on
 * gort_main's own thread before main starts, as GORTPROF's is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "prof/prof.h"

#define PREFIX "/debug/pprof/"

enum {
	MAXHEAD = 8192,         /* request line and headers (net/http: 1 MiB) */
	MAXBODY = 65536,        /* a POST to /symbol */
	MAXCONNS = 64,          /* connections served at once; as many more get 503 */
	MAXSECONDS = 1000000,   /* seconds= beyond this is refused (11 days) */
};
#define SEC 1000000000LL
#define HEAD_TIMEOUT (10 * SEC)   /* the whole request head, from the accept */
#define BODY_TIMEOUT (10 * SEC)   /* a POST body, once the head is in */
#define WRITE_TIMEOUT (60 * SEC)  /* the whole answer */
#define LINGER (1 * SEC)          /* reading what the client still sends, after */

/* The server.  There is one per process, for its life. */
enum { SRV_OFF, SRV_STARTING, SRV_ON };
static struct {
	volatile uint32_t state;   /* SRV_*; atomic.  OFF -> STARTING by CAS (the
	                              claim), then ON, or back to OFF if listening failed */
	volatile uint32_t port;    /* the bound port; atomic, written before state is ON */
	int fd;                    /* the listener: written once before the accept
	                              goroutine starts, read-only after */
	volatile uint32_t nconns;  /* connections being served; atomic */
} srv = { SRV_OFF, 0, -1, 0 };

/* --- the table of profiles ---------------------------------------------------
 *
 * Every profile but the CPU's is written by gort_prof_lookup_write
 * (profiles.c), by its name; -ENOSYS (the heap profile under a sanitizer,
 * whose allocator gort must not replace) is answered 501. */

static int goroutine_count(void)
{
	return gort_numgoroutine();
}

struct profile_entry {
	const char *name;          /* the path under /debug/pprof/, the file's name */
	const char *desc;          /* the index's line */
	/* Write the gzip'd pprof profile to fd: 0, or a negative errno;
	 * -ENOSYS: this profile is not built (501). */
	int (*write)(const char *name, int fd);
	int (*count)(void);        /* the index's Count column, or NULL: unknown */
};

/* In the order of the index (Go sorts by name). */
static const struct profile_entry table[] = {
	{ "allocs", "A sampling of all past memory allocations",
	  gort_prof_lookup_write, NULL },
	{ "block", "Stack traces that led to blocking on synchronization primitives",
	  gort_prof_lookup_write, NULL },
	{ "goroutine", "Stack traces of all current goroutines",
	  gort_prof_lookup_write, goroutine_count },
	{ "heap", "A sampling of memory allocations of live objects",
	  gort_prof_lookup_write, NULL },
	{ "mutex", "Stack traces of holders of contended mutexes",
	  gort_prof_lookup_write, NULL },
};
#define NTABLE (sizeof table / sizeof table[0])

/* What the index lists besides the table, as Go's does (and where). */
static const struct {
	const char *name, *desc;
	size_t after;              /* listed after table[after - 1] */
} extras[] = {
	{ "cmdline", "The command line invocation of the current program", 2 },
	{ "profile", "CPU profile. You can specify the duration in the seconds GET parameter "
	  "(default 30). After you get the profile file, use the go tool pprof command to "
	  "investigate the profile.", NTABLE },
};
#define NEXTRAS (sizeof extras / sizeof extras[0])

/* --- a connection -------------------------------------------------------------- */

struct request {
	char *method, *path, *query;  /* in the connection's buffer; path decoded, query raw */
	int minor;                 /* HTTP/1.minor */
	int head;                  /* a HEAD: the headers only */
	long long clen;            /* Content-Length, or -1 */
	int chunked;               /* Transfer-Encoding given */
	int expect;                /* Expect: 100-continue */
};

/* A connection, and everything in it, belongs to its goroutine alone:
 * made by the accept loop before the goroutine starts, freed by it. */
struct conn {
	int fd;
	int64_t start;             /* when it was accepted */
	size_t len, end;           /* bytes in buf; the end of the head in it */
	char buf[MAXHEAD + 1];
};

/* The end of the head in p[0..n): the offset just past the empty line,
 * or 0 if it has not come yet.  Lines end in CRLF or, as RFC 9112 lets a
 * server accept, a bare LF. */
static size_t head_end(const char *p, size_t n)
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

/* Read the head into c->buf: 0, or an HTTP status to answer with (431:
 * too large), or -1: the client went or was too slow, nobody to answer. */
static int read_head(struct conn *c)
{
	int64_t deadline = c->start + HEAD_TIMEOUT;
	while ((c->end = head_end(c->buf, c->len)) == 0) {
		if (c->len == MAXHEAD)
			return 431;
		ssize_t n = gort_read(c->fd, c->buf + c->len, MAXHEAD - c->len, deadline);
		if (n <= 0)
			return -1;   /* EOF, -ETIMEDOUT, -ECONNRESET: nobody to tell */
		c->len += (size_t)n;
	}
	return 0;
}

static char *next_line(char **p)
{
	char *line = *p, *nl = strchr(line, '\n');
	*nl = '\0';
	if (nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	*p = nl + 1;
	return line;
}

/* RFC 9110's token: what a method or a header name is made of. */
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

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decode %XX (and, in a query, + as a space) in s[0..n) into out, at most
 * max bytes with the NUL: 0, or -1 for a bad escape, a NUL or no room. */
static int unescape(const char *s, size_t n, int plus, char *out, size_t max)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];
		if (ch == '%') {
			int a = i + 1 < n ? hexval(s[i + 1]) : -1, b = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (a < 0 || b < 0)
				return -1;
			ch = a << 4 | b;
			i += 2;
		} else if (ch == '+' && plus) {
			ch = ' ';
		}
		if (ch == 0 || o + 1 >= max)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* Parse the head c->buf[0..c->end), NUL-terminated, in place: 0, or the
 * status to answer with (400, 505). */
static int parse_head(struct conn *c, struct request *rq)
{
	char *p = c->buf;
	/* Blank lines before the request line are to be ignored (RFC 9112). */
	while (*p == '\r' || *p == '\n')
		p++;
	if (!*p)
		return 400;
	char *line = next_line(&p);
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || strchr(sp2 + 1, ' '))
		return 400;
	*sp1 = *sp2 = '\0';
	rq->method = line;
	char *target = sp1 + 1, *version = sp2 + 1;
	if (!is_token(rq->method) || target[0] != '/')
		return 400;   /* origin-form only: what every client sends a server */
	if (strcmp(version, "HTTP/1.1") == 0)
		rq->minor = 1;
	else if (strcmp(version, "HTTP/1.0") == 0)
		rq->minor = 0;
	else
		return strncmp(version, "HTTP/", 5) == 0 ? 505 : 400;
	for (const char *t = target; *t; t++)
		if ((unsigned char)*t <= ' ' || *t == 0x7f)
			return 400;
	char *q = strchr(target, '?');
	rq->query = q ? q + 1 : "";
	size_t plen = q ? (size_t)(q - target) : strlen(target);
	/* Decoded in place: never longer than the text it comes from. */
	if (unescape(target, plen, 0, target, plen + 1) < 0)
		return 400;
	rq->path = target;
	int hosts = 0;
	for (;;) {
		char *h = next_line(&p);
		if (!*h)
			break;   /* the empty line */
		char *colon = strchr(h, ':');
		if (!colon)
			return 400;
		*colon = '\0';
		if (!is_token(h))
			return 400;   /* also "Name : value", and obsolete folded lines */
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(h, "Host") == 0) {
			hosts++;
		} else if (strcasecmp(h, "Content-Length") == 0) {
			char *end;
			if (*v < '0' || *v > '9')
				return 400;
			long long n = strtoll(v, &end, 10);
			while (*end == ' ' || *end == '\t')
				end++;
			if (*end || (rq->clen >= 0 && rq->clen != n))
				return 400;
			rq->clen = n;
		} else if (strcasecmp(h, "Transfer-Encoding") == 0) {
			rq->chunked = 1;
		} else if (strcasecmp(h, "Expect") == 0 && strncasecmp(v, "100-continue", 12) == 0) {
			rq->expect = 1;
		}
	}
	if (rq->minor == 1 && hosts != 1)
		return 400;   /* HTTP/1.1 requires exactly one Host (net/http too) */
	rq->head = strcmp(rq->method, "HEAD") == 0;
	return 0;
}

/* The head, parsed: the byte after it (a body's first, or the NUL that
 * buf keeps room for) is set aside while the parser needs a NUL there. */
static int parse(struct conn *c, struct request *rq)
{
	*rq = (struct request){ .clen = -1 };
	if (memchr(c->buf, '\0', c->end))
		return 400;
	char after = c->buf[c->end];
	c->buf[c->end] = '\0';
	int status = parse_head(c, rq);
	c->buf[c->end] = after;
	return status;
}

/* The value of key in a raw query ("seconds=5&hz=100"), decoded into out:
 * 1 found, 0 absent, -1 undecodable.  The first one wins, as FormValue. */
static int query_value(const char *query, const char *key, char *out, size_t max)
{
	size_t kl = strlen(key);
	for (const char *p = query; *p;) {
		size_t n = strcspn(p, "&;");
		const char *eq = memchr(p, '=', n);
		size_t nl = eq ? (size_t)(eq - p) : n;
		if (nl == kl && memcmp(p, key, kl) == 0) {
			const char *v = eq ? eq + 1 : p + n;
			return unescape(v, (size_t)(p + n - v), 1, out, max) < 0 ? -1 : 1;
		}
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

/* key=N with lo <= N <= hi: 1 and *v, 0 when absent, -1 when bad. */
static int query_int(const char *query, const char *key, long long lo, long long hi, long long *v)
{
	char s[32];
	int r = query_value(query, key, s, sizeof s);
	if (r <= 0)
		return r;
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (!*s || *end || errno || n < lo || n > hi)
		return -1;
	*v = n;
	return 1;
}

/* --- answers --------------------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* The status line and headers, into buf: its length (always < max).
 * extra: more header lines, each ending in CRLF, or NULL; clen < 0: no
 * Content-Length. */
static int header(char *buf, size_t max, int status, const char *ctype, const char *extra,
	long long clen)
{
	/* RFC 9110's date, in English whatever the program's locale says
	 * (strftime's %a and %b would follow LC_TIME). */
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	char date[40];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
		tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	char cl[48] = "";
	if (clen >= 0)
		snprintf(cl, sizeof cl, "Content-Length: %lld\r\n", clen);
	int n = snprintf(buf, max,
		"HTTP/1.1 %d %s\r\n"
		"Content-Type: %s\r\n"
		"X-Content-Type-Options: nosniff\r\n"
		"%s%s"
		"Date: %s\r\n"
		"Connection: close\r\n"
		"\r\n",
		status, reason(status), ctype, extra ? extra : "", cl, date);
	return n < 0 ? 0 : n >= (int)max ? (int)max - 1 : n;
}

static int64_t write_deadline(void)
{
	return gort_now() + WRITE_TIMEOUT;
}

/* A whole answer whose body is in memory. */
static void respond(struct conn *c, const struct request *rq, int status, const char *ctype,
	const char *extra, const char *body, size_t n)
{
	char h[1024];
	int hl = header(h, sizeof h, status, ctype, extra, (long long)n);
	int64_t deadline = write_deadline();
	if (gort_write(c->fd, h, (size_t)hl, deadline) < 0 || (rq && rq->head) || n == 0)
		return;
	gort_write(c->fd, body, n, deadline);
}

/* Go's serveError: plain text, and X-Go-Pprof, which tells go tool pprof
 * that the body is a message for its user (it prints it). */
static void serve_error(struct conn *c, const struct request *rq, int status, const char *extra,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void serve_error(struct conn *c, const struct request *rq, int status, const char *extra,
	const char *fmt, ...)
{
	char body[512], ex[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof body - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof body - 2)
		n = (int)sizeof body - 2;
	body[n++] = '\n';
	body[n] = '\0';
	snprintf(ex, sizeof ex, "X-Go-Pprof: 1\r\n%s", extra ? extra : "");
	respond(c, rq, status, "text/plain; charset=utf-8", ex, body, (size_t)n);
}

/* A descriptor to write a profile to before it is sent: memory, not disk,
 * and nothing left behind whatever happens.  The fd, or -errno. */
static int scratch_fd(void)
{
	int fd = memfd_create("gort-pprof", MFD_CLOEXEC);
	if (fd >= 0)
		return fd;
	const char *dir = getenv("TMPDIR");
	fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd >= 0 ? fd : -errno;
}

/* Send the profile in fd as the answer, a download named name (Go's
 * Content-Disposition).  fd is a memfd or a temporary: reading it never
 * blocks, so plain pread. */
static void send_profile(struct conn *c, const struct request *rq, int fd, const char *name)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		serve_error(c, rq, 500, NULL, "gort: reading back the %s profile: %s", name,
			gort_strerror(-errno));
		return;
	}
	char h[1024], extra[128];
	snprintf(extra, sizeof extra, "Content-Disposition: attachment; filename=\"%s\"\r\n", name);
	int hl = header(h, sizeof h, 200, "application/octet-stream", extra, (long long)st.st_size);
	int64_t deadline = write_deadline();
	if (gort_write(c->fd, h, (size_t)hl, deadline) < 0 || rq->head)
		return;
	/* The request is answered: its buffer is free to carry the file. */
	for (off_t off = 0; off < st.st_size;) {
		ssize_t n = pread(fd, c->buf, sizeof c->buf, off);
		if (n <= 0 || gort_write(c->fd, c->buf, (size_t)n, deadline) < 0)
			return;   /* the client is gone, or too slow: only it can tell */
		off += n;
	}
}

/* --- the handlers ------------------------------------------------------------- */

static void index_page(struct conn *c, const struct request *rq)
{
	size_t max = 8192, n = 0;
	char *b = malloc(max);
	if (!b) {
		serve_error(c, rq, 500, NULL, "gort: out of memory");
		return;
	}
#define OUT(...) do { \
		int k_ = snprintf(b + n, max - n, __VA_ARGS__); \
		if (k_ > 0) n = n + (size_t)k_ < max ? n + (size_t)k_ : max - 1; \
	} while (0)
	OUT("<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n.profile-name{\n"
	    "\tdisplay:inline-block;\n\twidth:6rem;\n}\n</style>\n</head>\n<body>\n"
	    "/debug/pprof/<br>\n<br>\nTypes of profiles available:\n<table>\n"
	    "<thead><td>Count</td><td>Profile</td></thead>\n");
	/* Twice through the same order: the table of links, the descriptions. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			OUT("</table>\n<p>\nProfile Descriptions:\n<ul>\n");
		size_t x = 0;
		for (size_t i = 0; i <= NTABLE; i++) {
			for (; x < NEXTRAS && extras[x].after == i; x++) {
				if (pass == 0)
					OUT("<tr><td></td><td><a href='%s'>%s</a></td></tr>\n",
						extras[x].name, extras[x].name);
				else
					OUT("<li><div class=profile-name>%s: </div> %s</li>\n",
						extras[x].name, extras[x].desc);
			}
			if (i == NTABLE)
				break;
			const struct profile_entry *e = &table[i];
			if (pass == 0 && e->count)
				OUT("<tr><td>%d</td><td><a href='%s'>%s</a></td></tr>\n", e->count(),
					e->name, e->name);
			else if (pass == 0)
				OUT("<tr><td></td><td><a href='%s'>%s</a></td></tr>\n", e->name, e->name);
			else
				OUT("<li><div class=profile-name>%s: </div> %s</li>\n", e->name, e->desc);
		}
	}
	OUT("</ul>\n</p>\n<p>\nServed by gort (prof/pprofhttp.c): "
	    "<code>go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=5</code>\n"
	    "</p>\n</body>\n</html>\n");
#undef OUT
	respond(c, rq, 200, "text/html; charset=utf-8", NULL, b, n);
	free(b);
}

/* The time's up (0), the client closed its side (1: Go's cancelled
 * context; what was profiled is still sent), or the connection failed
 * (-1: nobody to send it to).  Parked in the poller all the while. */
static int wait_until(struct conn *c, int64_t until)
{
	for (;;) {
		char junk[512];
		ssize_t n = gort_read(c->fd, junk, sizeof junk, until);
		if (n == -ETIMEDOUT)
			return 0;
		if (n == 0)
			return 1;
		if (n < 0)
			return -1;
		/* bytes after the request: nothing we answer; dropped */
	}
}

static void serve_cpu(struct conn *c, const struct request *rq)
{
	long long sec = 30, hz = 100;
	if (query_int(rq->query, "seconds", 1, MAXSECONDS, &sec) < 0) {
		serve_error(c, rq, 400, NULL, "invalid value for \"seconds\" - must be a positive integer");
		return;
	}
	if (query_int(rq->query, "hz", 1, 10000, &hz) < 0) {
		serve_error(c, rq, 400, NULL, "invalid value for \"hz\" - must be an integer from 1 to 10000");
		return;
	}
	if (rq->head) {   /* what a GET would answer, without profiling for it */
		char h[1024];
		int hl = header(h, sizeof h, 200, "application/octet-stream",
			"Content-Disposition: attachment; filename=\"profile\"\r\n", -1);
		gort_write(c->fd, h, (size_t)hl, write_deadline());
		return;
	}
	int fd = scratch_fd();
	if (fd < 0) {
		serve_error(c, rq, 500, NULL, "Could not enable CPU profiling: %s", gort_strerror(fd));
		return;
	}
	int err = gort_prof_start_fd(fd, (int)hz);
	if (err) {
		serve_error(c, rq, 500, NULL, "Could not enable CPU profiling: %s",
			err == -EBUSY ? "cpu profiling already in use" : gort_strerror(err));
		close(fd);
		return;
	}
	int gone = wait_until(c, gort_now() + sec * SEC);
	/* Writing the profile blocks this thread for a while: let the P go. */
	gort_syscall_enter();
	err = gort_prof_stop();
	gort_syscall_exit();
	if (gone < 0)
		;   /* nobody to answer */
	else if (err == -EINVAL)   /* the program stopped it under us (it has the profile) */
		serve_error(c, rq, 500, NULL, "gort: the CPU profile was stopped by another caller");
	else if (err)
		serve_error(c, rq, 500, NULL, "gort: writing the CPU profile: %s", gort_strerror(err));
	else
		send_profile(c, rq, fd, "profile");
	close(fd);
}

static void serve_named(struct conn *c, const struct request *rq, const struct profile_entry *e)
{
	long long v;
	char ignored[32];
	if (query_value(rq->query, "seconds", ignored, sizeof ignored) != 0) {
		serve_error(c, rq, 501, NULL, "gort: delta profiles (seconds=N) are not built yet; "
			"fetch two profiles and use go tool pprof -base");
		return;
	}
	if (query_int(rq->query, "debug", LLONG_MIN, LLONG_MAX, &v) > 0 && v != 0) {
		serve_error(c, rq, 501, NULL, "gort: the debug=%lld text form is not built yet; "
			"fetch %s without it and read it with go tool pprof", v, e->name);
		return;
	}
	int fd = scratch_fd();
	if (fd < 0) {
		serve_error(c, rq, 500, NULL, "gort: %s profile: %s", e->name, gort_strerror(fd));
		return;
	}
	int err = e->write(e->name, fd);
	if (err == -ENOSYS)
		serve_error(c, rq, 501, NULL, "gort: the %s profile is not available in this build", e->name);
	else if (err)
		serve_error(c, rq, 500, NULL, "gort: writing the %s profile: %s", e->name,
			gort_strerror(err));
	else
		send_profile(c, rq, fd, e->name);
	close(fd);
}

/* os.Args joined by NUL bytes: /proc/self/cmdline is that, plus a NUL
 * after the last. */
static void serve_cmdline(struct conn *c, const struct request *rq)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		serve_error(c, rq, 500, NULL, "gort: /proc/self/cmdline: %s", gort_strerror(-errno));
		return;
	}
	size_t n = 0;
	ssize_t r;
	/* The request is parsed and done with: its buffer holds the answer. */
	while (n < MAXHEAD && (r = read(fd, c->buf + n, MAXHEAD - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (n && c->buf[n - 1] == '\0')
		n--;
	respond(c, rq, 200, "text/plain; charset=utf-8", NULL, c->buf, n);
}

/* Go's Symbol: "num_symbols: 1" (pprof only asks whether symbols exist),
 * then "0xPC name" for each address asked, given as "0x...+0x..." in the
 * query of a GET or the body of a POST. */
static void serve_symbol(struct conn *c, const struct request *rq)
{
	char *words = (char *)rq->query, *body = NULL;
	if (strcmp(rq->method, "POST") == 0) {
		if (rq->chunked) {
			serve_error(c, rq, 501, NULL, "gort: chunked request bodies are not read; "
				"send a Content-Length");
			return;
		}
		if (rq->clen < 0) {
			serve_error(c, rq, 411, NULL, "gort: a POST needs a Content-Length");
			return;
		}
		if (rq->clen > MAXBODY) {
			serve_error(c, rq, 413, NULL, "gort: at most %d bytes of addresses", MAXBODY);
			return;
		}
		body = malloc((size_t)rq->clen + 1);
		if (!body) {
			serve_error(c, rq, 500, NULL, "gort: out of memory");
			return;
		}
		size_t have = c->len - c->end;
		if (have > (size_t)rq->clen)
			have = (size_t)rq->clen;
		memcpy(body, c->buf + c->end, have);
		int64_t deadline = gort_now() + BODY_TIMEOUT;
		/* curl asks before it sends a body over 1 KiB, and waits a
		 * second for the answer: say yes, as net/http does once the
		 * handler reads. */
		static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (rq->expect && have < (size_t)rq->clen &&
		    gort_write(c->fd, go_on, sizeof go_on - 1, deadline) < 0) {
			free(body);
			return;
		}
		while (have < (size_t)rq->clen) {
			ssize_t n = gort_read(c->fd, body + have, (size_t)rq->clen - have, deadline);
			if (n <= 0) {
				free(body);
				return;   /* the client went: nobody to answer */
			}
			have += (size_t)n;
		}
		body[have] = '\0';
		words = body;
	}
	size_t max = 4096, n = 0;
	char *out = malloc(max);
	if (!out) {
		free(body);
		serve_error(c, rq, 500, NULL, "gort: out of memory");
		return;
	}
	n = (size_t)snprintf(out, max, "num_symbols: 1\n");
	for (char *w = words; *w;) {
		size_t wl = strcspn(w, "+");
		char save = w[wl];
		w[wl] = '\0';
		char *end;
		unsigned long long pc = strtoull(w, &end, 0);
		struct gort_funcinfo fi;
		if (pc && !*end && pc <= UINTPTR_MAX && gort_funcinfo_for_pc((uintptr_t)pc, &fi)) {
			size_t need = strlen(fi.name) + 32;
			if (n + need >= max) {
				char *bigger = max < (1 << 20) ? realloc(out, max * 2 + need) : NULL;
				if (!bigger)
					break;
				out = bigger;
				max = max * 2 + need;
			}
			n += (size_t)snprintf(out + n, max - n, "%#llx %s\n", pc, fi.name);
		}
		w[wl] = save;
		w += wl;
		if (*w)
			w++;
	}
	respond(c, rq, 200, "text/plain; charset=utf-8", NULL, out, n);
	free(out);
	free(body);
}

static void route(struct conn *c, const struct request *rq)
{
	const char *path = rq->path;
	if (strcmp(path, "/debug/pprof") == 0) {   /* net/http's mux redirects so */
		serve_error(c, rq, 301, "Location: " PREFIX "\r\n", "Moved Permanently: see %s", PREFIX);
		return;
	}
	if (strncmp(path, PREFIX, sizeof PREFIX - 1) != 0) {
		serve_error(c, rq, 404, NULL, "gort: nothing at %.200s; the profiles are listed at %s",
			path, PREFIX);
		return;
	}
	const char *name = path + sizeof PREFIX - 1;
	int post_ok = strcmp(name, "symbol") == 0;
	if (!rq->head && strcmp(rq->method, "GET") != 0 && !(post_ok && strcmp(rq->method, "POST") == 0)) {
		serve_error(c, rq, 405, post_ok ? "Allow: GET, HEAD, POST\r\n" : "Allow: GET, HEAD\r\n",
			"gort: %s is not served; use GET", rq->method);
		return;
	}
	if (!*name) {
		index_page(c, rq);
	} else if (strcmp(name, "profile") == 0) {
		serve_cpu(c, rq);
	} else if (strcmp(name, "cmdline") == 0) {
		serve_cmdline(c, rq);
	} else if (strcmp(name, "symbol") == 0) {
		serve_symbol(c, rq);
	} else if (strcmp(name, "trace") == 0) {
		serve_error(c, rq, 501, NULL, "gort: Go's execution trace is not served; "
			"GORTTRACE=file.json writes gort's, for Perfetto");
	} else {
		for (size_t i = 0; i < NTABLE; i++)
			if (strcmp(name, table[i].name) == 0) {
				serve_named(c, rq, &table[i]);
				return;
			}
		serve_error(c, rq, 404, NULL, "Unknown profile: %.200s (the list is at %s)", name, PREFIX);
	}
}

/* Close our side, then take what the client still sends, for a moment:
 * closing a socket with unread bytes makes the kernel send a reset, and
 * a reset can overtake the answer in the client's kernel. */
static void linger_close(int fd, char *buf, size_t n)
{
	gort_shutdown(fd, SHUT_WR);
	int64_t deadline = gort_now() + LINGER;
	size_t taken = 0;
	while (taken < MAXBODY) {
		ssize_t r = gort_read(fd, buf, n, deadline);
		if (r <= 0)
			break;
		taken += (size_t)r;
	}
	gort_close(fd);
}

/* A connection over MAXCONNS: told so, without reading its request. */
static void reject_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: text/plain; charset=utf-8\r\nX-Go-Pprof: 1\r\n"
		"Content-Length: 33\r\nConnection: close\r\n\r\n"
		"gort: too many pprof connections\n";
	char buf[256];
	if (gort_write(fd, busy, sizeof busy - 1, gort_now() + LINGER) >= 0)
		linger_close(fd, buf, sizeof buf);
	else
		gort_close(fd);
	atomic_add32(&srv.nconns, -1);
}

static void serve_conn(void *arg)
{
	struct conn *c = arg;
	struct request rq;
	int status = read_head(c);
	if (status == 0)
		status = parse(c, &rq);
	if (status > 0) {
		/* rq may be half filled: answer as to a GET */
		serve_error(c, NULL, status, NULL, "%d %s", status, reason(status));
	} else if (status == 0) {
		if (rq.chunked && strcmp(rq.method, "POST") != 0)
			serve_error(c, NULL, 501, NULL, "gort: request bodies are not read here");
		else
			route(c, &rq);
	}
	linger_close(c->fd, c->buf, sizeof c->buf);
	free(c);
	atomic_add32(&srv.nconns, -1);
}

/* --- the server ----------------------------------------------------------------- */

static void report(const char *what, int err)
{
	char line[200];
	int n = snprintf(line, sizeof line, "gort: pprof endpoint: %s: %s\n", what, gort_strerror(err));
	if (n > 0)
		gort_write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, GORT_FOREVER);
}

static void accept_loop(void *arg)
{
	(void)arg;
	gort_labels_set(gort_labels_with(NULL, "gort", "pprof-http"));   /* its conns inherit it */
	for (;;) {
		int fd = gort_accept(srv.fd, NULL, NULL, GORT_FOREVER);
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM ||
		    fd == -ECONNABORTED || fd == -EINTR) {
			/* out of descriptors or memory, or a client that gave up:
			 * a moment, and on, as net/http does */
			gort_sleep(10000000);
			continue;
		}
		if (fd < 0) {
			report("accept", fd);   /* the listener is no use: stop serving */
			return;
		}
		int one = 1;   /* a header then a body: no Nagle wait between them */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* MAXCONNS served; as many again told 503 (each a goroutine on a
		 * small buffer, for a moment); beyond that, dropped outright. */
		uint32_t n = atomic_add32(&srv.nconns, 1);
		struct conn *c = n <= MAXCONNS ? malloc(sizeof *c) : NULL;
		if (!c) {
			if (n <= 2 * MAXCONNS) {
				gort_go(reject_conn, (void *)(intptr_t)fd);
				continue;
			}
			gort_close(fd);
			atomic_add32(&srv.nconns, -1);
			continue;
		}
		c->fd = fd;
		c->start = gort_now();
		c->len = c->end = 0;
		gort_go(serve_conn, c);
	}
}

int gort_prof_serve(const char *address)
{
	if (!address || !*address)
		return -EINVAL;
	if (!atomic_cas32(&srv.state, SRV_OFF, SRV_STARTING))
		return -EBUSY;
	int fd = gort_listen("tcp", address);
	if (fd < 0) {
		atomic_store32(&srv.state, SRV_OFF);   /* another address may do */
		return fd;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
			: ntohs(((struct sockaddr_in *)&ss)->sin_port);
	srv.fd = fd;
	atomic_store32(&srv.port, (uint32_t)port);
	atomic_store32(&srv.state, SRV_ON);
	gort_go(accept_loop, NULL);
	return 0;
}

int gort_prof_serve_port(void)
{
	if (atomic_load32(&srv.state) != SRV_ON)
		return -ENOTCONN;
	return (int)atomic_load32(&srv.port);
}

/* GORTPPROF=host:port, at gort_main's start (cpuprof.c's hook calls it):
 * on gort_main's thread, before main runs, so stdio is fine. */
void gort_prof_http_main_start(void)
{
	const char *s = getenv("GORTPPROF");
	if (!s || !*s)
		return;
	int err = gort_prof_serve(s);
	if (err == -EINVAL) {
		fprintf(stderr, "gort: GORTPPROF=%s: not a host:port address (127.0.0.1:6060; "
			"port 0 picks one)\n", s);
	} else if (err == -ENOENT) {
		fprintf(stderr, "gort: GORTPPROF=%s: no such host\n", s);
	} else if (err) {
		fprintf(stderr, "gort: GORTPPROF=%s: %s\n", s, gort_strerror(err));
	} else {
		/* With port 0 nobody else can know where it is. */
		const char *colon = strrchr(s, ':');
		if (colon && strcmp(colon, ":0") == 0) {
			char addr[128];
			if (gort_localaddr(srv.fd, addr, sizeof addr) > 0)
				fprintf(stderr, "gort: GORTPPROF=%s: serving http://%s%s\n", s, addr, PREFIX);
		}
	}
}
