/*
 * net.c -- the network poller's benchmark: a loopback echo ping-pong of
 * 64-byte messages over N connections; bench/go_src/net.go is the same
 * program in Go, and bench/compare.py runs the two side by side.
 *
 *     bench_net [--quick] [N...]      (default: 1 100 1000 10000)
 *
 * For each N, one line per case (case=<name> value=<number> unit=<unit>):
 *
 *   echo_rps_cN          round trips per second, all N connections together
 *   echo_p50_cN          median round-trip latency, microseconds
 *   echo_p99_cN          99th percentile
 *   echo_threads_cN      the server's threads at their peak (/proc/self/task)
 *   echo_cthreads_cN     the client's, likewise
 *   echo_idle_rss_cN     the server's resident memory per idle connection:
 *                        RSS with N connections open, each one echo old and
 *                        its goroutine parked in read, minus RSS before the
 *                        first, over N
 *   echo_cpu_cN          CPU time per round trip, microseconds: the server's
 *                        and the client's, user and system, over the
 *                        measured time.  On a shared machine this is the
 *                        steadier figure: a neighbour's load takes time
 *                        from both runtimes, but costs neither CPU.
 *
 * Two processes, not one.  10,000 connections in one process are 20,000
 * descriptors, and RLIMIT_NOFILE's hard limit is often exactly 20,000 (and
 * only root may raise it); split, each side needs N and a few.  It also
 * keeps the server's threads and memory apart from the load generator's.
 * So this binary plays three parts:
 *
 *   the driver (no --server or --client): for each N, makes a socketpair,
 *     starts itself as a server and as a client with one end of it each as
 *     descriptor 3 (the control channel), waits for both under a time
 *     limit, and kills what is left.  It never starts the runtime.
 *   the server (--server N): listens on 127.0.0.1:0, tells the client its
 *     address over the control channel, and runs a goroutine per
 *     connection that writes back what it reads.  It answers "base" and
 *     "stat" on the control channel with its connection count, RSS and
 *     threads, and exits when the channel closes.
 *   the client (--client N): dials N connections, one after another (so
 *     that the listen backlog never overflows into SYN retries), starts a
 *     goroutine per connection that does one echo and waits at a gate,
 *     asks the server for its RSS, opens the gate, and after a warm-up
 *     measures for a fixed time; then prints the lines.
 *
 * The Go program is built the same way, part for part, so that both sides
 * pay for the same two processes, the same sequential dials, the same
 * shared latency histogram.  No read or write has a deadline (a Go echo
 * server has none either, and gort's per-call deadline would add a timer
 * to every wait); every loop is bounded instead by a count and by the stop
 * flag the client raises when its time is up, and the driver kills any
 * process that outlives its limit.  Each child also dies with its parent
 * (PR_SET_PDEATHSIG) and by alarm(2), so a benchmark killed half-way
 * leaves no server behind.
 *
 * Threads are counted whenever the server is asked for a stat and at the
 * end: neither gort nor Go ever ends an M's thread, so the last count is
 * the peak.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "gort.h"

extern char **environ;

#define MSG 64                      /* bytes per message */
#define CTL 3                       /* the control channel, in both children */
#define SEC 1000000000LL
#define DIAL_TIMEOUT (10 * SEC)
#define CHILD_ALARM 300             /* seconds beyond the load: a child's last resort */

static const long default_conns[] = { 1, 100, 1000, 10000 };
static const long quick_conns[] = { 1, 10 };

/* How long the client loads the server: 2 s, or GORT_BENCH_NET_SECONDS
 * (a quieter machine, or a profiler attached for the length of a run).
 * --quick: just enough to show it works. */
static int64_t warmup_ns(void) { return bench_quick ? SEC / 100 : SEC / 2; }
static int64_t measure_ns(void)
{
	const char *s = getenv("GORT_BENCH_NET_SECONDS");
	double secs = s ? atof(s) : 2;
	return bench_quick ? SEC / 20 : (int64_t)((secs > 0 && secs <= 600 ? secs : 2) * 1e9);
}
/* Round trips per connection at most: far more than the time allows at
 * any N, so the clock, not the count, ends a run that works. */
static long max_rounds(long n) { return 100000000L / n + 1000; }

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_net: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* --- what both children measure -------------------------------------------- */


/* This process's CPU time, user and system, in microseconds. */
static long long cpu_us(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
		ru.ru_stime.tv_usec;
}

static int nthreads(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Descriptors: the soft limit up to the hard one, as Go 1.19 does at
 * start-up for every program; the hard limit only root can raise. */
static void raise_nofile(long need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < need)
		die("%ld connections need %ld descriptors; RLIMIT_NOFILE allows %ld", need - 64, need,
			(long)rl.rlim_cur);
}

/* The children outlive nothing: not their driver, not a hang. */
static void child_init(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		exit(1);   /* the driver died before we could ask */
	alarm((unsigned)(CHILD_ALARM + measure_ns() / SEC));
}

/* --- the control channel: one line each way at a time ---------------------- */

/* What has been read from the control channel and not yet taken as a
 * line; owned by the main goroutine, the only one that uses the channel. */
static char ctlbuf[256];
static size_t ctllen;

/* A line from the control channel, without its newline: its length, or -1
 * at end of file (or an error). */
static int ctl_getline(char *line, size_t n)
{
	for (;;) {
		char *nl = memchr(ctlbuf, '\n', ctllen);
		if (nl) {
			size_t l = (size_t)(nl - ctlbuf);
			if (l >= n)
				l = n - 1;
			memcpy(line, ctlbuf, l);
			line[l] = '\0';
			ctllen -= (size_t)(nl + 1 - ctlbuf);
			memmove(ctlbuf, nl + 1, ctllen);
			return (int)l;
		}
		if (ctllen == sizeof ctlbuf)
			return -1;   /* a line this long is not ours */
		ssize_t r = gort_read(CTL, ctlbuf + ctllen, sizeof ctlbuf - ctllen, GORT_FOREVER);
		if (r <= 0)
			return -1;
		ctllen += (size_t)r;
	}
}

static void ctl_printf(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line || gort_write(CTL, line, (size_t)n, GORT_FOREVER) != n)
		die("control channel: cannot write");
}

/* --- the server ------------------------------------------------------------ */

static volatile uint32_t open_conns;   /* connections being echoed; atomic */
static int max_threads;                /* owned by the main goroutine */

static void echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[MSG];
	for (;;) {
		ssize_t r = gort_read(fd, buf, sizeof buf, GORT_FOREVER);
		if (r <= 0)
			break;   /* end of file, or the client's reset */
		if (gort_write(fd, buf, (size_t)r, GORT_FOREVER) != r)
			break;
	}
	gort_close(fd);
	gort_atomic_add32(&open_conns, -1);
}

static void acceptor(void *arg)
{
	int l = (int)(intptr_t)arg;
	for (;;) {
		int fd = gort_accept(l, NULL, NULL, GORT_FOREVER);
		if (fd == -ECONNABORTED || fd == -EINTR)
			continue;   /* a client gone before we took it: not ours to mind */
		if (fd < 0)
			die("accept: %s", gort_strerror(fd));
		gort_atomic_add32(&open_conns, 1);
		gort_go(echo, (void *)(intptr_t)fd);
	}
}

static void server_stat(void)
{
	int t = nthreads();
	if (t > max_threads)
		max_threads = t;
	ctl_printf("conns=%u rss=%ld threads=%d cpu=%lld\n", gort_atomic_load32(&open_conns),
		bench_rss_bytes(), max_threads, cpu_us());
}

static int server_main(void *arg)
{
	(void)arg;
	int l = gort_listen("tcp4", "127.0.0.1:0");
	if (l < 0)
		die("listen: %s", gort_strerror(l));
	char addr[64];
	if (gort_localaddr(l, addr, sizeof addr) < 0)
		die("localaddr");
	gort_go(acceptor, (void *)(intptr_t)l);
	ctl_printf("addr %s\n", addr);
	char line[64];
	while (ctl_getline(line, sizeof line) >= 0) {
		if (strcmp(line, "base") == 0 || strcmp(line, "stat") == 0)
			server_stat();   /* gort has no collector: "base" is "stat" */
		else
			die("control channel: unknown request \"%s\"", line);
	}
	return 0;   /* the client has gone: so do we, connections and all */
}

/* --- the latency histogram ---------------------------------------------------
 * Log-linear buckets, shared by every client goroutine: values under 64 ns
 * exactly, above that 32 buckets per power of two (3% wide), up to 2^40 ns.
 * The Go side has the same buckets and the same atomic adds, so both pay
 * the same for the bookkeeping. */
#define HSUB 32
#define HBUCKETS (2 * HSUB + (40 - 6) * HSUB)
static volatile uint32_t hist[HBUCKETS];   /* atomic */

static unsigned bucket(uint64_t v)
{
	if (v < 2 * HSUB)
		return (unsigned)v;
	unsigned b = 63 - (unsigned)__builtin_clzll(v);   /* 6 and up */
	unsigned i = 2 * HSUB + (b - 6) * HSUB + (unsigned)((v >> (b - 5)) & (HSUB - 1));
	return i < HBUCKETS ? i : HBUCKETS - 1;
}

/* The middle of bucket i, in ns. */
static double bucket_mid(unsigned i)
{
	if (i < 2 * HSUB)
		return i;
	unsigned b = (i - 2 * HSUB) / HSUB + 6, sub = (i - 2 * HSUB) % HSUB;
	double lo = (double)((uint64_t)(HSUB + sub) << (b - 5)), width = (double)((uint64_t)1 << (b - 5));
	return lo + width / 2;
}

static uint64_t hist_total(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < HBUCKETS; i++)
		n += gort_atomic_load32(&hist[i]);
	return n;
}

/* The q-quantile, in ns: the middle of the bucket where it falls. */
static double hist_quantile(double q)
{
	uint64_t total = hist_total(), seen = 0;
	if (!total)
		return 0;
	uint64_t want = (uint64_t)(q * (double)total);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HBUCKETS; i++) {
		seen += gort_atomic_load32(&hist[i]);
		if (seen >= want)
			return bucket_mid(i);
	}
	return bucket_mid(HBUCKETS - 1);
}

/* --- the client ------------------------------------------------------------ */

static long nconns, rounds;
static int *fds;
static gort_waitgroup ready, finished;
static gort_chan *gate;                  /* closed to start the load */
static volatile uint32_t measuring, stop, failures;   /* atomic */

/* One echo: the message out, all of it back.  0, or a negative errno. */
static int roundtrip(int fd, const char *msg, char *buf)
{
	ssize_t w = gort_write(fd, msg, MSG, GORT_FOREVER);
	if (w != MSG)
		return w < 0 ? (int)w : -EIO;
	for (size_t got = 0; got < MSG;) {
		ssize_t r = gort_read(fd, buf + got, MSG - got, GORT_FOREVER);
		if (r <= 0)
			return r < 0 ? (int)r : -ECONNRESET;
		got += (size_t)r;
	}
	return 0;
}

static void fail(const char *what, int err)
{
	if (gort_atomic_add32(&failures, 1) == 1)
		fprintf(stderr, "bench_net: %s: %s\n", what, gort_strerror(err));
}

static void pinger(void *arg)
{
	int fd = fds[(intptr_t)arg];
	char msg[MSG], buf[MSG];
	memset(msg, 'x', sizeof msg);
	int e = roundtrip(fd, msg, buf);
	if (e < 0)
		fail("first echo", e);
	gort_waitgroup_done(&ready);
	gort_chan_recv(gate, NULL);
	for (long i = 0; e == 0 && i < rounds && !gort_atomic_load32(&stop); i++) {
		int64_t t0 = gort_now();
		if ((e = roundtrip(fd, msg, buf)) < 0) {
			fail("echo", e);
			break;
		}
		if (gort_atomic_load32(&measuring))
			gort_atomic_add32(&hist[bucket((uint64_t)(gort_now() - t0))], 1);
	}
	/* A reset, not a FIN: the closing side would otherwise keep each
	 * port in TIME_WAIT for a minute, and alternating runs of 10,000
	 * connections would use the ephemeral range up. */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	gort_close(fd);
	gort_waitgroup_done(&finished);
}

struct stat_reply {
	long conns, rss;
	int threads;
	long long cpu;   /* microseconds */
};

static struct stat_reply ask(const char *what)
{
	char line[256];
	struct stat_reply s = { 0, 0, 0, 0 };
	ctl_printf("%s\n", what);
	if (ctl_getline(line, sizeof line) < 0 ||
	    sscanf(line, "conns=%ld rss=%ld threads=%d cpu=%lld", &s.conns, &s.rss, &s.threads,
		    &s.cpu) != 4)
		die("control channel: no answer to %s", what);
	return s;
}

static void report(const char *what, long n, double v, const char *unit)
{
	printf("case=echo_%s_c%ld value=%.4g unit=%s\n", what, n, v, unit);
	fflush(stdout);
}

static int client_main(void *arg)
{
	(void)arg;
	char line[256], addr[64];
	if (ctl_getline(line, sizeof line) < 0 || sscanf(line, "addr %63s", addr) != 1)
		die("control channel: no address from the server");
	rounds = max_rounds(nconns);
	fds = calloc((size_t)nconns, sizeof *fds);
	gate = gort_chan_make(0, 0);
	if (!fds || !gate)
		die("out of memory");
	int cthreads = nthreads();

	struct stat_reply base = ask("base");
	for (long i = 0; i < nconns; i++) {
		fds[i] = gort_dial("tcp4", addr, gort_now() + DIAL_TIMEOUT);
		if (fds[i] < 0)
			die("dial %s (connection %ld): %s", addr, i + 1, gort_strerror(fds[i]));
	}
	gort_waitgroup_add(&ready, (int)nconns);
	gort_waitgroup_add(&finished, (int)nconns);
	for (long i = 0; i < nconns; i++)
		gort_go(pinger, (void *)(intptr_t)i);
	gort_waitgroup_wait(&ready);
	if (gort_atomic_load32(&failures))
		die("%u connections failed their first echo", gort_atomic_load32(&failures));

	/* Every connection has echoed once and waits: the server's goroutines
	 * are parked in read.  Let the last of them get there. */
	struct stat_reply idle;
	int64_t until = gort_now() + 10 * SEC;
	while ((idle = ask("stat")).conns != nconns && gort_now() < until)
		gort_sleep(SEC / 100);
	if (idle.conns != nconns)
		die("the server has %ld connections of %ld", idle.conns, nconns);
	gort_sleep(SEC / 10);
	idle = ask("stat");

	gort_chan_close(gate);
	gort_sleep(warmup_ns());
	struct stat_reply start = ask("stat");
	long long cpu0 = cpu_us();
	int64_t t0 = gort_now();
	gort_atomic_store32(&measuring, 1);
	gort_sleep(measure_ns());
	gort_atomic_store32(&measuring, 0);
	int64_t t1 = gort_now();
	long long cpu1 = cpu_us();
	int t = nthreads();
	if (t > cthreads)
		cthreads = t;
	struct stat_reply after = ask("stat");
	gort_atomic_store32(&stop, 1);
	gort_waitgroup_wait(&finished);
	if (gort_atomic_load32(&failures))
		die("%u connections failed", gort_atomic_load32(&failures));
	t = nthreads();
	if (t > cthreads)
		cthreads = t;

	report("rps", nconns, (double)hist_total() / ((double)(t1 - t0) / 1e9), "req/s");
	report("p50", nconns, hist_quantile(0.50) / 1e3, "us");
	report("p99", nconns, hist_quantile(0.99) / 1e3, "us");
	report("threads", nconns, after.threads, "threads");
	report("cthreads", nconns, cthreads, "threads");
	report("idle_rss", nconns, (double)(idle.rss - base.rss) / (double)nconns, "bytes/conn");
	report("cpu", nconns, (double)(after.cpu - start.cpu + cpu1 - cpu0) / (double)hist_total(),
		"us/req");
	return 0;   /* closing the control channel ends the server */
}

/* --- the driver ------------------------------------------------------------ */

static pid_t spawn(char **argv, int ctl)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ctl, CTL);
	pid_t pid;
	int e = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e)
		die("posix_spawn: %s", strerror(e));
	return pid;
}

/* Wait for pid until the deadline (bench_now's clock): its wait status,
 * or -1 if it was still running and has been killed. */
static int reap(pid_t pid, uint64_t deadline)
{
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			die("waitpid: %s", strerror(errno));
		if (bench_now() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
}

static int drive(char *argv0, long n)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	/* Out of the way of descriptor 3, which dup2 must make of each end in
	 * its child (a dup2 onto itself would leave close-on-exec set), and
	 * closed in every other child. */
	int srv = fcntl(sv[0], F_DUPFD_CLOEXEC, 10), cli = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
	close(sv[0]);
	close(sv[1]);
	if (srv < 0 || cli < 0)
		die("fcntl: %s", strerror(errno));
	char nbuf[32];
	snprintf(nbuf, sizeof nbuf, "%ld", n);
	char *sargv[] = { argv0, "--server", nbuf, bench_quick ? "--quick" : NULL, NULL };
	char *cargv[] = { argv0, "--client", nbuf, bench_quick ? "--quick" : NULL, NULL };
	pid_t sp = spawn(sargv, srv);
	pid_t cp = spawn(cargv, cli);
	close(srv);
	close(cli);
	/* Setting up 10,000 connections takes a second or two; the limit is
	 * for a hang, not a slow machine. */
	uint64_t limit = (uint64_t)(bench_quick ? 60 : 120 + n / 100) * SEC + (uint64_t)measure_ns();
	int cst = reap(cp, bench_now() + limit);
	int sst = reap(sp, bench_now() + 10 * SEC);
	if (cst == -1)
		die("the client (%ld connections) ran over %lld s and was killed", n,
			(long long)(limit / SEC));
	if (!WIFEXITED(cst) || WEXITSTATUS(cst) != 0)
		die("the client (%ld connections) failed (wait status %#x)", n, cst);
	if (sst == -1 || !WIFEXITED(sst) || WEXITSTATUS(sst) != 0)
		die("the server (%ld connections) failed (wait status %#x)", n, sst);
	return 0;
}

int main(int argc, char **argv)
{
	char *argv0 = argv[0];
	/* --server N, --client N: a child, for N connections */
	if (argc > 2 && (strcmp(argv[1], "--server") == 0 || strcmp(argv[1], "--client") == 0)) {
		int server = argv[1][2] == 's';
		nconns = atol(argv[2]);
		bench_args(argc - 2, argv + 2);
		if (nconns < 1)
			die("%s N: N must be at least 1", argv[1]);
		child_init();
		raise_nofile(nconns + 64);
		return gort_main(server ? server_main : client_main, NULL);
	}
	argc = bench_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);   /* a child's death must not be ours */
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			drive(argv0, atol(argv[i]));
	} else if (bench_quick) {
		for (size_t i = 0; i < sizeof quick_conns / sizeof quick_conns[0]; i++)
			drive(argv0, quick_conns[i]);
	} else {
		for (size_t i = 0; i < sizeof default_conns / sizeof default_conns[0]; i++)
			drive(argv0, default_conns[i]);
	}
	return 0;
}
