/*
 * netpoll_epoll.c -- the poller's Linux half: epoll and an eventfd
 * (Go: netpoll_epoll.go).  netpoll.c is the portable half; this file is
 * the only one that knows what epoll is, so a kqueue port would replace
 * it and nothing else.
 *
 * Descriptors are registered once, edge-triggered, for reading and
 * writing together (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET): an edge
 * is reported once per change of state, so a descriptor costs nothing
 * while nobody waits on it, and no re-arming system call is ever needed.
 * The event's 64-bit user word carries the descriptor and the sequence
 * number its polldesc had when it was registered (netpoll.c), never a
 * pointer: an event for a descriptor gort has since closed, and perhaps
 * reopened, names an old sequence number and is dropped.
 *
 * The eventfd is registered level-triggered: a wake-up written while
 * nobody is in epoll_wait is still there for the next caller.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched.h"

#define BREAK_KEY UINT64_MAX   /* the eventfd's user word: no descriptor has it */

static int epfd = -1, evfd = -1;
static volatile uint32_t breakpending;   /* a wake-up is written, not yet read; atomic */

int gort_sched_netpoll_os_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (evfd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BREAK_KEY };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0)
		return -errno;
	return 0;
}

static uint32_t events_for(void)
{
	return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
}

/* Returns 0, or -EPERM for a descriptor epoll cannot watch (a regular
 * file, a directory), or another negative errno. */
int gort_sched_netpoll_os_open(int fd, uint64_t key)
{
	struct epoll_event ev = { .events = events_for(), .data.u64 = key };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Is fd still registered as the descriptor we registered?  A MOD on a
 * number that was closed (EBADF) or now names another file (ENOENT)
 * fails.  (It also re-arms the edge, which at worst reports a readiness
 * that is true.) */
int gort_sched_netpoll_os_check(int fd, uint64_t key)
{
	struct epoll_event ev = { .events = events_for(), .data.u64 = key };
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void gort_sched_netpoll_os_close(int fd)
{
	struct epoll_event ev = { 0 };
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);   /* a closed fd is gone anyway */
}

void gort_sched_netpoll_os_break(void)
{
	if (!atomic_cas32(&breakpending, 0, 1))
		return;   /* one wake-up in flight is enough */
	uint64_t one = 1;
	while (write(evfd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

/* Wait up to ns nanoseconds (-1: for ever, 0: not at all), and hand each
 * descriptor event to ready(ctx, key, r, w).  Returns the number of events. */
int gort_sched_netpoll_os_wait(int64_t ns, void (*ready)(void *ctx, uint64_t key, int r, int w),
	void *ctx)
{
	struct epoll_event evs[128];
	int ms;
	if (ns < 0)
		ms = -1;
	else if (ns == 0)
		ms = 0;
	else if (ns < 1000000)
		ms = 1;   /* epoll_wait counts milliseconds: round up, never wake early */
	else if (ns < 1000000000000LL)
		ms = (int)((ns + 999999) / 1000000);
	else
		ms = 1000000;   /* about 17 minutes: the caller loops */
	int n = epoll_wait(epfd, evs, (int)(sizeof evs / sizeof evs[0]), ms);
	if (n < 0)
		return 0;   /* EINTR: a signal, such as SIGPROF; the caller looks again */
	int got = 0;
	for (int i = 0; i < n; i++) {
		uint32_t e = evs[i].events;
		if (evs[i].data.u64 == BREAK_KEY) {
			uint64_t v;
			while (read(evfd, &v, sizeof v) < 0 && errno == EINTR)
				;
			atomic_store32(&breakpending, 0);
			continue;
		}
		int r = (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
		int w = (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
		if (r || w) {
			ready(ctx, evs[i].data.u64, r, w);
			got++;
		}
	}
	return got;
}
