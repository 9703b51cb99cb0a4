/*
 * netpoll.c -- the network poller, portable half (Go: netpoll.go).
 *
 * A goroutine that reads a socket with no data must wait without holding
 * a thread: it parks, and whoever learns that the socket is readable
 * makes it runnable again.  The OS tells us through epoll
 * (netpoll_epoll.c); this file keeps, for each descriptor gort waits on,
 * a polldesc saying who waits for what.
 *
 * The descriptor table.  A polldesc is found by its descriptor number, in
 * a two-level table of PDCHUNK-entry chunks that are allocated on first
 * use and never freed: a polldesc is type-stable, so an event that comes
 * late, for a descriptor closed since, still lands on valid memory -- and
 * is recognised as stale by its sequence number (below).
 *
 * The two slots.  Each polldesc has a reader slot rg and a writer slot
 * wg, each a word holding one of
 *
 *     0          nothing: no notification pending, nobody waiting
 *     PD_READY   the descriptor became ready and nobody has consumed it
 *     PD_WAIT    a goroutine is about to park here
 *     a G        that goroutine is parked here
 *
 * and moved only by CAS or exchange, by three parties:
 *
 *   the waiter   READY -> 0 (consume, no park), or 0 -> WAIT, then after
 *                its switch WAIT -> G (commit).  If the commit CAS fails,
 *                a notification or a cancellation came in between: the
 *                waiter is made runnable at once instead of sleeping.
 *                When it runs again it takes the slot back to 0 and
 *                looks at what it held.
 *   the poller   any -> READY (an edge); a G found there is readied.
 *   a cancel     WAIT or G -> 0, readying the G: a deadline's timer, or
 *                gort_close.  The waiter then finds 0, not READY, and
 *                learns why from its own timed-out flag or the closing
 *                bit.
 *
 * Only one goroutine may wait in one slot: fd.c's per-direction mutex
 * serialises readers and writers of a descriptor, as Go's fdMutex does,
 * so two readers of one socket take turns instead of corrupting a slot.
 *
 * Closing.  refs counts the operations in flight (<< 1) and its low bit
 * says "closing".  gort_close sets the bit, bumps seq so that events
 * already queued for the old descriptor are dropped, and cancels both
 * slots; each operation that sees the bit returns GORT_ECLOSED.  The
 * last operation to leave a closing polldesc closes the descriptor for
 * real (so its number cannot be reused while a system call may still be
 * using it), and the polldesc is ready for the number's next life.
 *
 * A descriptor closed behind gort's back (plain close(2)) leaves a
 * polldesc that believes it is registered, while the kernel has dropped
 * the registration with the file; if the number is then reused, a
 * goroutine could wait for an edge that will never be reported.  So
 * sysmon checks, with a cheap EPOLL_CTL_MOD, every descriptor that has
 * had a goroutine waiting for a while (1 s, then doubling, per descriptor,
 * to 16 s; at most 64 checks a pass): if
 * the registration is gone, the polldesc forgets it and the waiters are
 * woken to try again, which registers the new file.  Busy descriptors,
 * whose waiters come and go within milliseconds, are never checked.
 *
 * The scheduler's side (proc.c): an M looking for work polls without
 * blocking; the one M that would otherwise sleep blocks in the poller,
 * with the earliest timer as its timeout, and is woken through the
 * eventfd when an earlier timer appears; sysmon polls if nobody has for
 * 10 ms.  netpoll() never readies a G itself: it returns them, and the
 * caller puts them where it can run them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/netpoll.h"

#define PDCHUNK 1024
#define PDDIR 4096                 /* PDDIR * PDCHUNK descriptors at most */

static struct polldesc *volatile pdtab[PDDIR];
static struct rtlock pdtablock;    /* taken to add a chunk */
static volatile int32_t pdmax = -1;   /* the highest fd ever given a polldesc; atomic */
static volatile uint32_t inited;
static struct rtlock initlock;

volatile uint32_t gort_sched_netpoll_waiters;   /* Gs parked in a slot; atomic */
volatile int64_t gort_sched_netpoll_lastpoll;   /* nanotime of the last poll; atomic */

int gort_sched_netpoll_init(void)
{
	if (atomic_loadacq32(&inited))
		return 0;
	gort_sched_lock(&initlock);
	int err = 0;
	if (!inited) {
		err = gort_sched_netpoll_os_init();
		if (!err)
			atomic_storerel32(&inited, 1);
	}
	gort_sched_unlock(&initlock);
	return err;
}

int gort_sched_netpoll_inited(void)
{
	return atomic_loadacq32(&inited) != 0;
}

struct polldesc *gort_sched_pd_lookup(int fd)
{
	if (fd < 0 || fd >= PDDIR * PDCHUNK)
		return NULL;
	struct polldesc *c = atomic_loadp((void *const volatile *)&pdtab[fd / PDCHUNK]);
	return c ? &c[fd % PDCHUNK] : NULL;
}

struct polldesc *gort_sched_pd_get(int fd)
{
	if (fd < 0 || fd >= PDDIR * PDCHUNK)
		return NULL;
	struct polldesc *pd = gort_sched_pd_lookup(fd);
	if (pd)
		goto out;
	gort_sched_lock(&pdtablock);
	struct polldesc *c = pdtab[fd / PDCHUNK];
	if (!c) {
		c = calloc(PDCHUNK, sizeof *c);
		if (!c)
			gort_runtime_throw("out of memory growing the poll descriptor table");
		for (int i = 0; i < PDCHUNK; i++)
			c[i].fd = fd / PDCHUNK * PDCHUNK + i;
		atomic_storep((void *volatile *)&pdtab[fd / PDCHUNK], c);
	}
	gort_sched_unlock(&pdtablock);
	pd = &c[fd % PDCHUNK];
out:
	for (int32_t m = atomic_load32((const volatile uint32_t *)&pdmax); fd > m;
	     m = atomic_load32((const volatile uint32_t *)&pdmax))
		if (atomic_cas32((volatile uint32_t *)&pdmax, (uint32_t)m, (uint32_t)fd))
			break;
	return pd;
}

uint64_t gort_sched_pd_key(struct polldesc *pd)
{
	return (uint64_t)atomic_load32(&pd->seq) << 32 | (uint32_t)pd->fd;
}

/* --- operations in flight, and closing ------------------------------------ */

int gort_sched_pd_begin(struct polldesc *pd)
{
	for (;;) {
		uint32_t r = atomic_load32(&pd->refs);
		if (r & 1)
			return 0;
		if (atomic_cas32(&pd->refs, r, r + 2))
			return 1;
	}
}

/* The real close, once nobody uses the descriptor: forget everything. */
static void pd_finish_close(struct polldesc *pd)
{
	spinlock_lock(&pd->lock);
	if (pd->kind == PD_POLL)
		gort_sched_netpoll_os_close(pd->fd);
	atomic_storerel32(&pd->kind, PD_UNKNOWN);
	pd->checkat = 0;
	spinlock_unlock(&pd->lock);
	atomic_storeuintptr(&pd->rg, 0);
	atomic_storeuintptr(&pd->wg, 0);
	/* Ready for the number's next life before the number is free: once
	 * close returns, socket(2) on another thread may hand it out. */
	atomic_storerel32(&pd->refs, 0);
	close(pd->fd);
}

void gort_sched_pd_end(struct polldesc *pd)
{
	if (atomic_add32(&pd->refs, -2) == 1)
		pd_finish_close(pd);
}

/* Take a waiting G out of a slot.  ioready: leave READY behind (an edge);
 * else leave 0 (a cancel), and touch a slot holding nothing or READY not
 * at all.  Returns the G to ready, or NULL. */
static struct g *unblock(volatile uintptr_t *slot, int ioready)
{
	for (;;) {
		uintptr_t old = atomic_loaduintptr(slot);
		if (old == PD_READY)
			return NULL;
		if (old == 0 && !ioready)
			return NULL;
		if (atomic_casuintptr(slot, old, ioready ? PD_READY : 0))
			return old > PD_WAIT ? (struct g *)old : NULL;
	}
}

int gort_sched_pd_close(struct polldesc *pd)
{
	for (;;) {
		uint32_t r = atomic_load32(&pd->refs);
		if (r & 1)
			return GORT_ECLOSED_ERR;   /* a close is already under way */
		/* our own reference, so that we can be the last to leave */
		if (atomic_cas32(&pd->refs, r, (r + 2) | 1))
			break;
	}
	atomic_add32(&pd->seq, 1);   /* events queued for the old file are stale */
	struct g *r = unblock(&pd->rg, 0), *w = unblock(&pd->wg, 0);
	if (r)
		gort_sched_ready(r);
	if (w)
		gort_sched_ready(w);
	gort_sched_pd_end(pd);
	return 0;
}

int gort_sched_pd_closing(struct polldesc *pd)
{
	return atomic_load32(&pd->refs) & 1;
}

/* --- waiting --------------------------------------------------------------- */

static void poll_timeout(struct timer *t, void *arg)
{
	(void)t;
	struct g *gp = arg;
	gp->polltimedout = 1;
	struct g *w = unblock(gp->pollslot, 0);
	if (w)
		gort_sched_ready(w);
}

/* After the switch: WAIT -> G, or, if an edge or a cancel came first,
 * make the G runnable at once. */
static void poll_commit(struct m *m, void *arg)
{
	(void)m;
	struct g *gp = arg;
	if (!atomic_casuintptr(gp->pollslot, PD_WAIT, (uintptr_t)gp))
		gort_sched_ready(gp);
}

int gort_sched_pd_wait(struct polldesc *pd, int mode, int64_t deadline)
{
	volatile uintptr_t *slot = mode == 'r' ? &pd->rg : &pd->wg;
	for (;;) {
		if (atomic_casuintptr(slot, PD_READY, 0))
			return 0;
		if (atomic_casuintptr(slot, 0, PD_WAIT))
			break;
		/* An edge may land between the two CASes: look again.  Only a
		 * WAIT or a G here is wrong. */
		uintptr_t v = atomic_loaduintptr(slot);
		if (v != 0 && v != PD_READY)
			gort_runtime_throw("netpoll: two goroutines wait in one poll slot");
	}
	/* After WAIT is up: a close or a deadline now either sees it, or
	 * was seen here. */
	int64_t now = deadline > 0 ? gort_sched_nanotime() : 0;
	if (gort_sched_pd_closing(pd) || deadline == 0 || (deadline > 0 && deadline <= now)) {
		uintptr_t old = atomic_xchguintptr(slot, 0);
		if (old == PD_READY)
			return 0;
		return gort_sched_pd_closing(pd) ? GORT_ECLOSED_ERR : -ETIMEDOUT;
	}
	struct g *gp = gort_sched_mustgetg("gort_fd_wait");
	gp->pollslot = slot;
	gp->polltimedout = 0;
	if (deadline > 0) {
		gp->sleeptimer.when = deadline;
		gp->sleeptimer.period = 0;
		gp->sleeptimer.f = poll_timeout;
		gp->sleeptimer.arg = gp;
		gort_sched_addtimer(&gp->sleeptimer);
	}
	spinlock_lock(&pd->lock);
	if (!pd->checkat) {
		/* The gap is the descriptor's, kept across waits: an idle
		 * server's thousands of long waits must not each cost a check
		 * (measured: at 10,000 connections, more epoll_ctl calls than
		 * reads and writes together, when every wait began at 20 ms). */
		if (pd->checkgap < 1000000000)
			pd->checkgap = 1000000000;
		pd->checkat = gort_sched_nanotime() + pd->checkgap;
	}
	spinlock_unlock(&pd->lock);
	atomic_add32(&gort_sched_netpoll_waiters, 1);
	gort_sched_park_fn(poll_commit, gp, wrIOWait);
	atomic_add32(&gort_sched_netpoll_waiters, -1);
	uintptr_t old = atomic_xchguintptr(slot, 0);
	if (deadline > 0)
		gort_sched_deltimer(&gp->sleeptimer);   /* waits out a firing under way */
	spinlock_lock(&pd->lock);
	pd->checkat = 0;
	spinlock_unlock(&pd->lock);
	if (old == PD_READY)
		return 0;
	if (gort_sched_pd_closing(pd))
		return GORT_ECLOSED_ERR;
	if (gp->polltimedout)
		return -ETIMEDOUT;
	return 0;   /* woken to look again (a lost registration): the caller retries */
}

/* --- polling --------------------------------------------------------------- */

struct glist {
	struct g *head, *tail;
};

static void push(struct glist *l, struct g *gp)
{
	if (!gp)
		return;
	gp->schedlink = NULL;
	if (l->tail)
		l->tail->schedlink = gp;
	else
		l->head = gp;
	l->tail = gp;
}

static void ready_event(void *ctx, uint64_t key, int r, int w)
{
	struct glist *l = ctx;
	struct polldesc *pd = gort_sched_pd_lookup((int)(uint32_t)key);
	if (!pd || atomic_load32(&pd->seq) != (uint32_t)(key >> 32))
		return;   /* a file gort has closed since */
	if (r)
		push(l, unblock(&pd->rg, 1));
	if (w)
		push(l, unblock(&pd->wg, 1));
}

/* Several Ms may poll at once (epoll hands each event to one of them):
 * the list is the caller's own. */
struct g *gort_sched_netpoll(int64_t ns)
{
	if (!gort_sched_netpoll_inited())
		return NULL;
	struct glist l = { NULL, NULL };
	gort_sched_netpoll_os_wait(ns, ready_event, &l);
	atomic_store64((volatile uint64_t *)&gort_sched_netpoll_lastpoll,
		(uint64_t)gort_sched_nanotime());
	return l.head;
}

/* sysmon's check for registrations lost to a plain close(2): see the top. */
void gort_sched_netpoll_check(int64_t now)
{
	static int64_t next;
	if (now < next || atomic_load32(&gort_sched_netpoll_waiters) == 0)
		return;
	next = now + 20000000;
	int32_t max = (int32_t)atomic_load32((const volatile uint32_t *)&pdmax);
	int budget = 64;   /* checks a pass: a bounded cost, whatever the load */
	for (int32_t fd = 0; fd <= max && budget > 0; fd++) {
		struct polldesc *pd = gort_sched_pd_lookup(fd);
		if (!pd) {
			fd |= PDCHUNK - 1;
			continue;
		}
		if (!pd->checkat || now < pd->checkat)
			continue;
		int lost = 0;
		spinlock_lock(&pd->lock);
		if (pd->checkat && now >= pd->checkat) {
			if (pd->checkgap < 16000000000)
				pd->checkgap *= 2;
			pd->checkat = now + pd->checkgap;
			budget--;
			if (pd->kind == PD_POLL && gort_sched_netpoll_os_check(fd, gort_sched_pd_key(pd)) < 0) {
				atomic_storerel32(&pd->kind, PD_UNKNOWN);   /* the next try registers the new file */
				lost = 1;
			}
		}
		spinlock_unlock(&pd->lock);
		if (lost) {
			struct g *r = unblock(&pd->rg, 1), *w = unblock(&pd->wg, 1);
			if (r)
				gort_sched_ready(r);
			if (w)
				gort_sched_ready(w);
		}
	}
}
