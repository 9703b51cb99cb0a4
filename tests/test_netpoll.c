/*
 * test_netpoll.c -- the poller and the descriptor API: many connections
 * on few threads, deadlines, close, half-close, EOF, errors as values, a
 * descriptor closed behind gort's back, SIGPIPE, and the errno hazard.
 *
 * Loopback only; every loop is bounded in count, and every wait has a
 * deadline or the suite's timeout, so a hang is reported as one.
 */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "testutil.h"

#include "gort.h"

#define SEC 1000000000LL

static int64_t in(int64_t ns)
{
	return gort_now() + ns;
}

/* Threads there were before gort started any: 1 natively; qemu-user adds
 * one of its own (its RCU thread), which is not gort's to count. */
static int base_threads = 1;

static int threads(void)
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

/* A listener on an ephemeral loopback port; its "127.0.0.1:N" in addr. */
static int listen_any(char *addr, size_t n)
{
	int l = gort_listen("tcp4", "127.0.0.1:0");
	ck_assert_msg(l >= 0, "listen: %s", gort_strerror(l));
	ck_assert_int_gt(gort_localaddr(l, addr, n), 0);
	return l;
}

/* --- many connections, few threads ---------------------------------------- */

#define ROUNDS 4
#define MSG 64

static int nconns;
static char echo_addr[64];
static gort_waitgroup echo_wg;
static volatile uint32_t echo_ok, echo_bad;
static volatile int32_t max_threads;

static void echo_server_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[MSG];
	for (;;) {
		ssize_t r = gort_read(fd, buf, sizeof buf, in(60 * SEC));
		if (r <= 0)
			break;
		if (gort_write(fd, buf, (size_t)r, in(60 * SEC)) != r)
			break;
	}
	gort_close(fd);
}

static void acceptor(void *arg)
{
	int l = (int)(intptr_t)arg;
	for (int i = 0; i < nconns; i++) {
		int c = gort_accept(l, NULL, NULL, in(60 * SEC));
		if (c < 0) {
			fprintf(stderr, "accept: %s\n", gort_strerror(c));
			atomic_add32(&echo_bad, 1);
			return;
		}
		gort_go(echo_server_conn, (void *)(intptr_t)c);
	}
}

static void echo_client(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	int fd = gort_dial("tcp", echo_addr, in(60 * SEC));
	if (fd < 0) {
		fprintf(stderr, "dial: %s\n", gort_strerror(fd));
		atomic_add32(&echo_bad, 1);
		gort_waitgroup_done(&echo_wg);
		return;
	}
	int good = 1;
	for (int r = 0; r < ROUNDS && good; r++) {
		unsigned char out[MSG], back[MSG];
		for (int i = 0; i < MSG; i++)
			out[i] = (unsigned char)(id * 31 + (uint32_t)r * 7 + (uint32_t)i);
		if (gort_write(fd, out, MSG, in(60 * SEC)) != MSG) {
			good = 0;
			break;
		}
		size_t got = 0;
		while (got < MSG) {
			ssize_t n = gort_read(fd, back + got, MSG - got, in(60 * SEC));
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		good = got == MSG && memcmp(out, back, MSG) == 0;
		int t = threads();
		for (int32_t m = max_threads; t > m; m = max_threads)
			if (atomic_cas32((volatile uint32_t *)&max_threads, (uint32_t)m, (uint32_t)t))
				break;
	}
	atomic_add32(good ? &echo_ok : &echo_bad, 1);
	gort_close(fd);
	gort_waitgroup_done(&echo_wg);
}

/* The clients: a process of their own, so that each side has its
 * 10,000 descriptors under the usual limit of 20,000. */
static int echo_clients_main(void *arg)
{
	(void)arg;
	gort_waitgroup_add(&echo_wg, nconns);
	for (int i = 0; i < nconns; i++)
		gort_go(echo_client, (void *)(uintptr_t)i);
	gort_waitgroup_wait(&echo_wg);
	if (echo_bad || echo_ok != (uint32_t)nconns) {
		printf("clients: %u good, %u bad\n", echo_ok, echo_bad);
		return 1;
	}
	int procs = gort_gomaxprocs(0);
	if (max_threads - (base_threads - 1) > procs + 3) {
		printf("clients: %d threads for %d connections at GORTMAXPROCS=%d\n", (int)max_threads,
			nconns, procs);
		return 1;
	}
	return 0;
}

static int echo_listener;

static void echo_watch(void *a)
{
	(void)a;
	for (;;) {
		int t = threads();
		for (int32_t m = max_threads; t > m; m = max_threads)
			if (atomic_cas32((volatile uint32_t *)&max_threads, (uint32_t)m, (uint32_t)t))
				break;
		gort_sleep(5000000);
	}
}

static int echo_server_main(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;
	gort_go(echo_watch, NULL);
	acceptor((void *)(intptr_t)echo_listener);   /* every connection accepted */
	ck_assert_uint_eq(echo_bad, 0);
	/* the client's exit: its goroutines have all checked their bytes */
	int st;
	for (int i = 0; i < 24000 && waitpid(pid, &st, WNOHANG) == 0; i++)
		gort_sleep(10000000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the clients failed (status %#x)", st);
	/* main's thread, sysmon, the Ms running goroutines, and the one in
	 * the poller: however many descriptors wait */
	int procs = gort_gomaxprocs(0);
	ck_assert_msg(max_threads - (base_threads - 1) <= procs + 3, "server: %d threads (%d before "
		"gort) for %d connections at GORTMAXPROCS=%d", (int)max_threads, base_threads, nconns, procs);
	gort_close(echo_listener);
	return 0;
}

START_TEST(echo_10k)
{
	nconns = 10000 / SCALE;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)nconns + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)nconns + 64)
			nconns = (int)rl.rlim_cur - 64;
		printf("INFO: descriptor limit %llu: %d connections\n",
			(unsigned long long)rl.rlim_cur, nconns);
	}
	int procs = _i == 0 ? 1 : 2;
	base_threads = threads();
	echo_listener = gort_listen("tcp4", "127.0.0.1:0");
	ck_assert_int_ge(echo_listener, 0);
	ck_assert_int_gt(gort_localaddr(echo_listener, echo_addr, sizeof echo_addr), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(echo_listener);
		alarm(200);
		int r = run_main(procs, echo_clients_main, NULL);
		fflush(NULL);   /* _exit would drop what the clients printed */
		_exit(r);
	}
	RUN(procs, echo_server_main, (void *)(intptr_t)pid);
}
END_TEST

/* --- deadlines ---------------------------------------------------------------- */

static int deadline_main(void *arg)
{
	(void)arg;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char c;
	for (int i = 0; i < 5; i++) {
		int64_t d = in(20000000);
		ssize_t r = gort_read(sv[0], &c, 1, d);
		ck_assert_int_eq(r, -ETIMEDOUT);
		ck_assert_int_ge(gort_now(), d);   /* never early */
	}
	/* a deadline already past: no wait at all */
	ck_assert_int_eq(gort_read(sv[0], &c, 1, 0), -ETIMEDOUT);
	ck_assert_int_eq(gort_fd_wait(sv[0], GORT_READ, gort_now() - 1), -ETIMEDOUT);
	/* data ready: the deadline does not matter */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(gort_fd_wait(sv[0], GORT_READ, 0), 0);
	ck_assert_int_eq(gort_read(sv[0], &c, 1, 0), 1);
	ck_assert_int_eq(c, 'x');
	ck_assert_int_eq(gort_fd_wait(sv[0], GORT_WRITE, GORT_FOREVER), 0);
	ck_assert_int_eq(gort_fd_wait(sv[0], GORT_READ | GORT_WRITE, 0), -EINVAL);
	/* a deadline on the write side: fill the socket, then time out */
	static char big[1 << 16];
	ssize_t w;
	do
		w = gort_write(sv[0], big, sizeof big, in(20000000));
	while (w > 0);
	ck_assert_int_eq(w, -ETIMEDOUT);
	gort_close(sv[0]);
	close(sv[1]);
	return 0;
}

START_TEST(deadlines_never_early)
{
	RUN(2, deadline_main, NULL);
}
END_TEST

/* --- close wakes every waiter ------------------------------------------------------ */

static int cw_fd;
static volatile uint32_t cw_results[2];
static gort_waitgroup cw_wg;

static void cw_reader(void *a)
{
	(void)a;
	char c;
	cw_results[0] = (uint32_t)-gort_read(cw_fd, &c, 1, GORT_FOREVER);
	gort_waitgroup_done(&cw_wg);
}

static void cw_writer(void *a)
{
	(void)a;
	static char big[1 << 20];
	ssize_t r;
	do
		r = gort_write(cw_fd, big, sizeof big, GORT_FOREVER);
	while (r > 0);
	cw_results[1] = (uint32_t)-r;
	gort_waitgroup_done(&cw_wg);
}

static int close_main(void *a)
{
	(void)a;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cw_fd = sv[0];
	gort_waitgroup_add(&cw_wg, 2);
	gort_go(cw_reader, NULL);
	gort_go(cw_writer, NULL);
	gort_sleep(50000000);   /* they wait by now, or will find it closed: same answer */
	ck_assert_int_eq(gort_close(cw_fd), 0);
	gort_waitgroup_wait(&cw_wg);
	ck_assert_uint_eq(cw_results[0], GORT_ECLOSED);
	ck_assert_uint_eq(cw_results[1], GORT_ECLOSED);
	ck_assert_int_eq(gort_close(cw_fd), -EBADF);   /* closed for real by now */
	ck_assert_str_eq(gort_strerror(-GORT_ECLOSED), "use of closed file descriptor");
	close(sv[1]);
	return 0;
}

START_TEST(close_wakes_waiters)
{
	RUN(2, close_main, NULL);
}
END_TEST

/* --- half-close and EOF ---------------------------------------------------------------- */

static char hc_addr[64];

static void hc_server(void *arg)
{
	int l = (int)(intptr_t)arg;
	int c = gort_accept(l, NULL, NULL, in(30 * SEC));
	ck_assert_int_ge(c, 0);
	char buf[64];
	size_t got = 0;
	ssize_t r;
	while ((r = gort_read(c, buf + got, sizeof buf - got, in(30 * SEC))) > 0)
		got += (size_t)r;
	ck_assert_int_eq(r, 0);   /* the client's half-close: EOF */
	/* our half is still open: answer */
	char reply[80];
	int n = snprintf(reply, sizeof reply, "got %zu bytes", got);
	ck_assert_int_eq(gort_write(c, reply, (size_t)n, in(30 * SEC)), n);
	gort_close(c);
}

static int halfclose_main(void *a)
{
	(void)a;
	int l = listen_any(hc_addr, sizeof hc_addr);
	gort_go(hc_server, (void *)(intptr_t)l);
	int fd = gort_dial("tcp4", hc_addr, in(30 * SEC));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(gort_write(fd, "hello, world", 12, in(30 * SEC)), 12);
	ck_assert_int_eq(gort_shutdown(fd, SHUT_WR), 0);
	char buf[80] = { 0 };
	size_t got = 0;
	ssize_t r;
	while ((r = gort_read(fd, buf + got, sizeof buf - 1 - got, in(30 * SEC))) > 0)
		got += (size_t)r;
	ck_assert_int_eq(r, 0);   /* the server closed: EOF */
	ck_assert_str_eq(buf, "got 12 bytes");
	gort_close(fd);
	gort_close(l);
	return 0;
}

START_TEST(half_close_and_eof)
{
	RUN(2, halfclose_main, NULL);
}
END_TEST

/* --- a connection storm on one listener ----------------------------------------------- */

#define STORM (2000 / SCALE)
static char storm_addr[64];
static volatile uint32_t storm_accepted, storm_dialled;
static gort_waitgroup storm_wg;

static void storm_dialler(void *a)
{
	(void)a;
	int fd = gort_dial("tcp", storm_addr, in(60 * SEC));
	if (fd >= 0) {
		atomic_add32(&storm_dialled, 1);
		char c;
		gort_read(fd, &c, 1, in(60 * SEC));   /* until the server closes */
		gort_close(fd);
	} else {
		fprintf(stderr, "storm dial: %s\n", gort_strerror(fd));
	}
	gort_waitgroup_done(&storm_wg);
}

static int storm_main(void *a)
{
	(void)a;
	int l = listen_any(storm_addr, sizeof storm_addr);
	gort_waitgroup_add(&storm_wg, STORM);
	for (int i = 0; i < STORM; i++)
		gort_go(storm_dialler, NULL);
	static int conns[2000];
	for (int i = 0; i < STORM; i++) {
		conns[i] = gort_accept(l, NULL, NULL, in(60 * SEC));
		ck_assert_msg(conns[i] >= 0, "accept %d: %s", i, gort_strerror(conns[i]));
		storm_accepted++;
	}
	for (int i = 0; i < STORM; i++)
		gort_close(conns[i]);
	gort_waitgroup_wait(&storm_wg);
	ck_assert_uint_eq(storm_accepted, STORM);
	ck_assert_uint_eq(storm_dialled, STORM);
	gort_close(l);
	return 0;
}

START_TEST(listener_storm)
{
	RUN(2, storm_main, NULL);
}
END_TEST

/* --- errors as values ---------------------------------------------------------------------- */

static int errors_main(void *a)
{
	(void)a;
	char addr[64];
	int l = listen_any(addr, sizeof addr);
	gort_close(l);   /* nobody listens there now */
	ck_assert_int_eq(gort_dial("tcp4", addr, in(10 * SEC)), -ECONNREFUSED);
	ck_assert_int_eq(gort_dial("tcp", "127.0.0.1", in(SEC)), -EINVAL);       /* no port */
	ck_assert_int_eq(gort_dial("tcp", "::1:80", in(SEC)), -EINVAL);          /* unbracketed v6 */
	ck_assert_int_eq(gort_dial("carrier-pigeon", "127.0.0.1:1", in(SEC)), -EINVAL);
	ck_assert_int_eq(gort_dial("tcp", "127.0.0.1:no-such-service", in(SEC)), -EINVAL);
	ck_assert_int_eq(gort_dial("unix", "/nonexistent/gort.sock", in(SEC)), -ENOENT);
	ck_assert_int_eq(gort_listen("tcp", NULL), -EINVAL);
	ck_assert_int_eq(gort_read(-1, addr, 1, 0), -EBADF);
	ck_assert_int_eq(gort_read(12345, addr, 1, 0), -EBADF);
	ck_assert_int_eq(gort_write(12345, addr, 1, 0), -EBADF);
	ck_assert_int_eq(gort_close(12345), -EBADF);
	/* a name resolves (localhost is in /etc/hosts): dial it */
	char laddr[64], daddr[80];
	l = listen_any(laddr, sizeof laddr);
	snprintf(daddr, sizeof daddr, "localhost:%s", strrchr(laddr, ':') + 1);
	int fd = gort_dial("tcp4", daddr, in(10 * SEC));
	ck_assert_msg(fd >= 0, "dial %s: %s", daddr, gort_strerror(fd));
	gort_close(fd);
	gort_close(l);
	/* udp: a datagram each way */
	int u = gort_listen("udp4", "127.0.0.1:0");
	ck_assert_int_ge(u, 0);
	ck_assert_int_gt(gort_localaddr(u, laddr, sizeof laddr), 0);
	int c = gort_dial("udp4", laddr, in(SEC));
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(gort_write(c, "ping", 4, in(SEC)), 4);
	char buf[16];
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	ck_assert_int_eq(gort_recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl, in(10 * SEC)), 4);
	ck_assert_int_eq(gort_sendto(u, "pong", 4, 0, (struct sockaddr *)&from, fl, in(SEC)), 4);
	ck_assert_int_eq(gort_read(c, buf, sizeof buf, in(10 * SEC)), 4);
	ck_assert_int_eq(memcmp(buf, "pong", 4), 0);
	gort_close(c);
	gort_close(u);
	return 0;
}

START_TEST(errors_are_values)
{
	RUN(2, errors_main, NULL);
}
END_TEST

/* --- a descriptor closed behind gort's back, its number reused -------------------------------- */

static int reuse_peer;

static void reuse_writer(void *a)
{
	(void)a;
	gort_sleep(100000000);   /* after the reader waits, or not: either way it must see it */
	ck_assert_int_eq(write(reuse_peer, "z", 1), 1);
}

static int reuse_main(void *a)
{
	(void)a;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char c;
	ck_assert_int_eq(gort_read(sv[0], &c, 1, 0), -ETIMEDOUT);   /* registered now */
	int old = sv[0];
	close(sv[0]);   /* behind gort's back */
	close(sv[1]);
	int nv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, nv), 0);
	int fd = nv[0] == old ? nv[0] : nv[1] == old ? nv[1] : -1;
	ck_assert_msg(fd >= 0, "the number %d was not reused", old);
	reuse_peer = fd == nv[0] ? nv[1] : nv[0];
	gort_go(reuse_writer, NULL);
	ck_assert_int_eq(gort_read(fd, &c, 1, in(30 * SEC)), 1);
	ck_assert_int_eq(c, 'z');
	gort_close(fd);
	close(reuse_peer);
	return 0;
}

START_TEST(fd_reused_behind_our_back)
{
	RUN(2, reuse_main, NULL);
}
END_TEST

/* --- two readers on one descriptor take turns ------------------------------------ */

static int turn_fd;
static volatile uint32_t turn_got[2];
static gort_waitgroup turn_wg;

static void turn_reader(void *a)
{
	int id = (int)(intptr_t)a;
	char c;
	if (gort_read(turn_fd, &c, 1, in(30 * SEC)) == 1)
		turn_got[id] = (uint32_t)c;
	gort_waitgroup_done(&turn_wg);
}

static int turns_main(void *a)
{
	(void)a;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	turn_fd = sv[0];
	gort_waitgroup_add(&turn_wg, 2);
	gort_go(turn_reader, (void *)0);
	gort_go(turn_reader, (void *)1);
	gort_sleep(20000000);   /* one waits in the poller, one for its turn (or not yet) */
	ck_assert_int_eq(write(sv[1], "a", 1), 1);
	gort_sleep(20000000);
	ck_assert_int_eq(write(sv[1], "b", 1), 1);
	gort_waitgroup_wait(&turn_wg);
	/* each got one byte, whichever came first */
	ck_assert_uint_eq(turn_got[0] + turn_got[1], 'a' + 'b');
	ck_assert_uint_ne(turn_got[0], turn_got[1]);
	gort_close(sv[0]);
	close(sv[1]);
	return 0;
}

START_TEST(two_readers_take_turns)
{
	RUN(2, turns_main, NULL);
}
END_TEST

/* A regular file: the poller refuses it; the system-call hand-off reads
 * it, and gort_fd_wait says it is ready at once. */
static int file_main(void *a)
{
	(void)a;
	char path[] = "/tmp/gort-netpoll-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(gort_write(fd, "regular", 7, GORT_FOREVER), 7);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(gort_fd_wait(fd, GORT_READ, in(SEC)), 0);
	char buf[16] = { 0 };
	ck_assert_int_eq(gort_read(fd, buf, sizeof buf, in(SEC)), 7);
	ck_assert_str_eq(buf, "regular");
	ck_assert_int_eq(gort_read(fd, buf, sizeof buf, in(SEC)), 0);   /* EOF */
	ck_assert_int_eq(gort_close(fd), 0);
	return 0;
}

START_TEST(regular_file_hand_off)
{
	RUN(1, file_main, NULL);
}
END_TEST

/* --- SIGPIPE ------------------------------------------------------------------------------------ */

static int sigpipe_main(void *a)
{
	(void)a;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	ck_assert_int_eq(gort_write(sv[0], "x", 1, in(SEC)), -EPIPE);
	gort_close(sv[0]);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);
	ck_assert_int_eq(gort_write(p[1], "x", 1, in(SEC)), -EPIPE);
	gort_close(p[1]);
	return 0;
}

START_TEST(sigpipe_is_a_value)
{
	RUN(2, sigpipe_main, NULL);
}
END_TEST

/* A plain write(2) to a broken pipe still kills, as in any C program:
 * gort's handler lets alone what gort did not write. */
static int plain_sigpipe_main(void *a)
{
	(void)a;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);
	ck_assert_int_eq(gort_write(p[1], "x", 1, in(SEC)), -EPIPE);   /* installs nothing lasting */
	ssize_t r = write(p[1], "x", 1);
	printf("survived a plain write: %zd\n", r);
	return 0;
}

static void plain_sigpipe_child(void *a)
{
	(void)a;
	exit(run_main(2, plain_sigpipe_main, NULL));
}

START_TEST(plain_write_still_killed)
{
	struct child c;
	run_child(plain_sigpipe_child, NULL, &c, 30);
	ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGPIPE,
		"want death by SIGPIPE; output:\n%s", c.out);
}
END_TEST

/* --- the errno hazard (gort.h) -------------------------------------------------------------------- */

/* errno_probe.c, compiled once with glibc's errno and once with gort's:
 * how often errno's address after a migration is still the old thread's. */
#include "errno_probe.h"

static struct errno_probe probes[2];
static gort_waitgroup probe_wg;

static void prober(void *a)
{
	struct errno_probe p = { 0 };
	int which = (int)(intptr_t)a & 1;
	(which ? errno_probe_gort : errno_probe_glibc)(&p, 4000 / SCALE);
	/* long is pointer-sized on every Linux ABI gort runs on */
	gort_atomic_adduintptr((volatile uintptr_t *)&probes[which].migrations, p.migrations);
	gort_atomic_adduintptr((volatile uintptr_t *)&probes[which].stale_address, p.stale_address);
	gort_atomic_adduintptr((volatile uintptr_t *)&probes[which].stale_value, p.stale_value);
	gort_atomic_adduintptr((volatile uintptr_t *)&probes[which].reads, p.reads);
	gort_waitgroup_done(&probe_wg);
}

static int errno_main(void *a)
{
	(void)a;
	/* One kind at a time: a goroutine with glibc's errno also *writes*
	 * through the old thread's address, into the errno of whichever
	 * goroutine runs there now -- the hazard's other half, which would
	 * land in the remedy's measurement. */
	for (intptr_t kind = 0; kind < 2; kind++) {
		gort_waitgroup_add(&probe_wg, 8);
		for (intptr_t i = 0; i < 8; i++)
			gort_go(prober, (void *)kind);
		gort_waitgroup_wait(&probe_wg);
	}
	printf("INFO: glibc's errno: %ld reads, %ld after a migration, %ld at the old thread's address, "
		"%ld saw another thread's value\n", probes[0].reads, probes[0].migrations,
		probes[0].stale_address, probes[0].stale_value);
	printf("INFO: gort.h's errno: %ld reads, %ld after a migration, %ld at the old thread's address, "
		"%ld saw another thread's value\n", probes[1].reads, probes[1].migrations,
		probes[1].stale_address, probes[1].stale_value);
	ck_assert_msg(probes[0].migrations > 0 && probes[1].migrations > 0, "no goroutine migrated");
	/* the hazard: the compiler kept the old thread's errno address */
	ck_assert_int_eq(probes[0].stale_address, probes[0].migrations);
	/* the remedy: never */
	ck_assert_int_eq(probes[1].stale_address, 0);
	ck_assert_int_eq(probes[1].stale_value, 0);
	return 0;
}

START_TEST(errno_hazard_and_remedy)
{
	RUN(4, errno_main, NULL);
}
END_TEST

static int bad_deadline(void *a)
{
	(void)a;
	char c;
	gort_read(0, &c, 1, -5);
	return 0;
}

START_TEST(dies_bad_deadline)
{
	struct child c;
	expect_death_in(bad_deadline, NULL, 1, &c, (const char *const[]){
		"panic: gort_read: deadline -5 is neither GORT_FOREVER nor a time", NULL });
}
END_TEST

static Suite *netpoll_suite(void)
{
	Suite *s = suite_create("netpoll");
	TCase *tc = tcase_create("poller");
	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, echo_10k, 0, 2);
	tcase_add_test(tc, deadlines_never_early);
	tcase_add_test(tc, close_wakes_waiters);
	tcase_add_test(tc, half_close_and_eof);
	tcase_add_test(tc, listener_storm);
	tcase_add_test(tc, errors_are_values);
	tcase_add_test(tc, fd_reused_behind_our_back);
	tcase_add_test(tc, two_readers_take_turns);
	tcase_add_test(tc, regular_file_hand_off);
	tcase_add_test(tc, sigpipe_is_a_value);
	tcase_add_test(tc, plain_write_still_killed);
	tcase_add_test(tc, errno_hazard_and_remedy);
	tcase_add_test(tc, dies_bad_deadline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(netpoll_suite());
}
