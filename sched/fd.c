/*
 * fd.c -- reading, writing, accepting and connecting without holding a
 * thread (Go: internal/poll/fd_unix.go and fd_poll_runtime.go).
 *
 * Every operation has the same shape, Go's:
 *
 *   take a reference (fails once gort_close has begun)
 *   take the direction's mutex (one reader, one writer at a time)
 *   loop: try the system call; if it would block (EAGAIN), wait in the
 *         poller for the descriptor's next edge, or the deadline
 *   release both
 *
 * A descriptor is classified on first use (classify): registered with
 * the poller and made non-blocking, or, if epoll refuses it (a regular
 * file) or it is a blocking 0, 1 or 2 (shared with the parent), served
 * by the system-call hand-off: the goroutine's P goes to another thread
 * while this one blocks, and poll(2) honours the deadline first.
 *
 * Errors come back as values.  errno is read only right after the system
 * call that set it, on the thread that made it: gort.h's errno is safe
 * across a switch, but there is no switch between the two anyway.
 *
 * SIGPIPE.  A write to a socket passes MSG_NOSIGNAL, so a dead peer is
 * -EPIPE.  A pipe has no such flag: the write is made with this thread's
 * gort_runtime_in_write flag up, and gort's SIGPIPE handler
 * (runtime/signal.c) lets a
 * signal that finds the flag up go, so write(2) returns EPIPE; any other
 * SIGPIPE -- a plain write(2) by the program -- gets the disposition it
 * had before gort.  Descriptors 1 and 2 are Go's exception: a broken
 * stdout kills the program with SIGPIPE, as it would any C program.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sched/netpoll.h"

/* Decide once how fd is served: PD_POLL or PD_BLOCK, or -EBADF (then it
 * stays undecided, for the number's next life).  pd->lock held.  The
 * answer is published only when complete: an operation that reads
 * pd->kind without the lock must never see PD_BLOCK on a descriptor
 * about to be made non-blocking, or PD_POLL on one still blocking. */
static int classify(struct polldesc *pd)
{
	int fd = pd->fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	pd->sock = S_ISSOCK(st.st_mode);
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		return PD_BLOCK;
	if (!pd->sock)
		gort_runtime_sigpipe_init();   /* a pipe's EPIPE must be a value */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fd <= 2 && !(fl & O_NONBLOCK)))
		return PD_BLOCK;
	if (gort_sched_netpoll_init() < 0)
		return PD_BLOCK;
	if (gort_sched_netpoll_os_open(fd, gort_sched_pd_key(pd)) < 0)
		return PD_BLOCK;   /* EPERM: not pollable */
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		gort_sched_netpoll_os_close(fd);
		return PD_BLOCK;
	}
	return PD_POLL;
}

/* Begin an operation on fd: its polldesc with a reference taken, or
 * NULL and *err. */
static struct polldesc *begin(int fd, int *err)
{
	struct polldesc *pd = gort_sched_pd_get(fd);
	if (!pd) {
		*err = -EBADF;
		return NULL;
	}
	if (!gort_sched_pd_begin(pd)) {
		*err = GORT_ECLOSED_ERR;
		return NULL;
	}
	if (atomic_loadacq32(&pd->kind) == PD_UNKNOWN) {
		int e = 0;
		spinlock_lock(&pd->lock);
		if (pd->kind == PD_UNKNOWN) {
			e = classify(pd);
			if (e > 0)
				atomic_storerel32(&pd->kind, (uint32_t)e);
		}
		spinlock_unlock(&pd->lock);
		if (e < 0) {
			gort_sched_pd_end(pd);
			*err = e;
			return NULL;
		}
	}
	return pd;
}

/* For the hand-off: wait with poll(2) until fd is ready or the deadline
 * passes, holding no P.  0 or -ETIMEDOUT (or poll's error). */
static int block_until(int fd, short events, int64_t deadline)
{
	if (deadline < 0)
		return 0;   /* no deadline: the system call itself may block */
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int64_t left = deadline - gort_sched_nanotime();
		if (left <= 0)
			return -ETIMEDOUT;
		int ms = left > 1000000000LL * 1000 ? 1000000000 : (int)((left + 999999) / 1000000);
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

enum op { OP_READ, OP_WRITE, OP_ACCEPT, OP_SENDTO, OP_RECVFROM };

struct ioargs {
	void *buf;
	size_t n;
	int flags;
	struct sockaddr *sa;
	socklen_t *salen;
	socklen_t tolen;
	size_t done;        /* writes: bytes already written */
};

/* One attempt of the system call, on this thread, no switch: the result
 * or -errno. */
static long attempt(struct polldesc *pd, enum op op, struct ioargs *a)
{
	long r;
	int fd = pd->fd;
	do {
		switch (op) {
		case OP_READ:
			r = read(fd, a->buf, a->n);
			break;
		case OP_WRITE:
			if (pd->sock) {
				r = send(fd, a->buf, a->n, MSG_NOSIGNAL);
			} else {
				gort_runtime_in_write = fd > 2;
				r = write(fd, a->buf, a->n);
				gort_runtime_in_write = 0;
			}
			break;
		case OP_ACCEPT:
			r = accept4(fd, a->sa, a->salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (r >= 0) {
				/* Go's default for every TCP connection, accepted
				 * or dialled: no Nagle (a unix socket refuses it,
				 * harmlessly) */
				int one = 1;
				setsockopt((int)r, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			}
			break;
		case OP_SENDTO:
			r = sendto(fd, a->buf, a->n, a->flags | MSG_NOSIGNAL, a->sa, a->tolen);
			break;
		case OP_RECVFROM:
			r = recvfrom(fd, a->buf, a->n, a->flags, a->sa, a->salen);
			break;
		default:
			r = -1;
			errno = EINVAL;
		}
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* The loop every operation shares (see the top). */
static long do_io(int fd, enum op op, struct ioargs *a, int64_t deadline)
{
	int err;
	struct polldesc *pd = begin(fd, &err);
	if (!pd)
		return err;
	int reading = op == OP_READ || op == OP_ACCEPT || op == OP_RECVFROM;
	gort_mutex *mu = reading ? &pd->rmu : &pd->wmu;
	gort_mutex_lock(mu);
	long r;
	for (;;) {
		if (gort_sched_pd_closing(pd)) {
			r = GORT_ECLOSED_ERR;
			break;
		}
		if (atomic_loadacq32(&pd->kind) == PD_BLOCK) {
			gort_syscall_enter();
			r = block_until(fd, reading ? POLLIN : POLLOUT, deadline);
			if (r == 0)
				r = attempt(pd, op, a);
			gort_syscall_exit();
			if (op == OP_WRITE && r >= 0 && (size_t)r < a->n) {
				a->buf = (char *)a->buf + r;
				a->n -= (size_t)r;
				a->done += (size_t)r;
				continue;
			}
			break;
		}
		r = attempt(pd, op, a);
		if (op == OP_WRITE && r >= 0 && (size_t)r < a->n) {
			/* a short write: the rest, under the same mutex, so
			 * that two writers' bytes never interleave */
			a->buf = (char *)a->buf + r;
			a->n -= (size_t)r;
			a->done += (size_t)r;
			continue;
		}
		if (r != -EAGAIN)
			break;
		r = gort_sched_pd_wait(pd, reading ? 'r' : 'w', deadline);
		if (r < 0)
			break;
	}
	if (op == OP_WRITE && r >= 0)
		r += (long)a->done;
	gort_mutex_unlock(mu);
	gort_sched_pd_end(pd);
	/* Go's rule for a broken stdout or stderr: die of SIGPIPE. */
	if (r == -EPIPE && op == OP_WRITE && fd <= 2 && fd >= 1)
		raise(SIGPIPE);
	return r;
}

static void check_deadline(const char *what, int64_t deadline)
{
	if (deadline < -1)
		gort_runtime_panicf("%s: deadline %lld is neither GORT_FOREVER nor a time",
			what, (long long)deadline);
}

ssize_t gort_read(int fd, void *buf, size_t n, int64_t deadline)
{
	check_deadline("gort_read", deadline);
	struct ioargs a = { .buf = buf, .n = n };
	return do_io(fd, OP_READ, &a, deadline);
}

ssize_t gort_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	check_deadline("gort_write", deadline);
	struct ioargs a = { .buf = (void *)buf, .n = n };
	return do_io(fd, OP_WRITE, &a, deadline);
}

int gort_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline)
{
	check_deadline("gort_accept", deadline);
	struct ioargs a = { .sa = addr, .salen = addrlen };
	return (int)do_io(fd, OP_ACCEPT, &a, deadline);
}

ssize_t gort_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
	socklen_t tolen, int64_t deadline)
{
	check_deadline("gort_sendto", deadline);
	struct ioargs a = { .buf = (void *)buf, .n = n, .flags = flags, .sa = (struct sockaddr *)to,
		.tolen = tolen };
	return do_io(fd, OP_SENDTO, &a, deadline);
}

ssize_t gort_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
	socklen_t *fromlen, int64_t deadline)
{
	check_deadline("gort_recvfrom", deadline);
	struct ioargs a = { .buf = buf, .n = n, .flags = flags, .sa = from, .salen = fromlen };
	return do_io(fd, OP_RECVFROM, &a, deadline);
}

int gort_fd_wait(int fd, int events, int64_t deadline)
{
	check_deadline("gort_fd_wait", deadline);
	if (events != GORT_READ && events != GORT_WRITE)
		return -EINVAL;
	int err;
	struct polldesc *pd = begin(fd, &err);
	if (!pd)
		return err;
	int reading = events == GORT_READ;
	int r;
	if (atomic_loadacq32(&pd->kind) == PD_BLOCK) {
		gort_syscall_enter();
		struct pollfd p = { .fd = fd, .events = reading ? POLLIN : POLLOUT };
		if (deadline >= 0) {
			r = block_until(fd, p.events, deadline);
		} else {
			while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR)
				;   /* a handled signal (SIGPROF) is no answer */
			r = r < 0 ? -errno : 0;
		}
		gort_syscall_exit();
	} else {
		gort_mutex *mu = reading ? &pd->rmu : &pd->wmu;
		gort_mutex_lock(mu);
		/* The poller reports edges: ask the kernel for the level first. */
		struct pollfd p = { .fd = fd, .events = reading ? POLLIN : POLLOUT };
		r = poll(&p, 1, 0) > 0 ? 0 : gort_sched_pd_wait(pd, reading ? 'r' : 'w', deadline);
		gort_mutex_unlock(mu);
	}
	gort_sched_pd_end(pd);
	return r;
}

int gort_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, int64_t deadline)
{
	check_deadline("gort_connect", deadline);
	int err;
	struct polldesc *pd = begin(fd, &err);
	if (!pd)
		return err;
	gort_mutex_lock(&pd->wmu);
	int r;
	if (atomic_loadacq32(&pd->kind) == PD_BLOCK) {
		/* a blocking socket (0, 1 or 2): connect(2) blocks, off the P;
		 * the kernel's own timeout, not the deadline, bounds it */
		gort_syscall_enter();
		while ((r = connect(fd, addr, addrlen)) < 0 && errno == EINTR)
			;
		r = r < 0 ? -errno : 0;
		gort_syscall_exit();
		if (r == -EISCONN || r == -EALREADY)
			r = 0;   /* an interrupted connect went on in the kernel */
	} else {
		r = connect(fd, addr, addrlen) < 0 ? -errno : 0;
	}
	if (r == -EINPROGRESS || r == -EINTR) {
		{
			/* The attempt is over when the socket turns writable:
			 * connected if it has a peer; if not, the pending error
			 * comes out of a zero-length peek.  (Go reads SO_ERROR;
			 * its value is not an errno qemu-user translates, so
			 * under emulation it would be the host's number.) */
			for (;;) {
				r = gort_sched_pd_wait(pd, 'w', deadline);
				if (r < 0)
					break;
				struct sockaddr_storage ss;
				socklen_t len = sizeof ss;
				if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
					r = 0;
					break;
				}
				char c;
				if (recv(fd, &c, 0, MSG_PEEK | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
				    errno != ENOTCONN) {
					r = -errno;
					break;
				}
				/* still connecting: an edge for something else */
			}
		}
	}
	gort_mutex_unlock(&pd->wmu);
	gort_sched_pd_end(pd);
	return r;
}

int gort_socket(int domain, int type, int protocol)
{
	int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
	return fd < 0 ? -errno : fd;
}

int gort_close(int fd)
{
	struct polldesc *pd = gort_sched_pd_get(fd);
	if (!pd || fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	return gort_sched_pd_close(pd);
}

int gort_shutdown(int fd, int how)
{
	return shutdown(fd, how) < 0 ? -errno : 0;
}

const char *gort_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err == GORT_ECLOSED)
		return "use of closed file descriptor";
	if (err == ECANCELED)
		return "context canceled";   /* a context's reason (context.c); Go's Canceled */
	return strerror(err);
}
