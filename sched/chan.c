/*
 * chan.c -- channels (Go: chan.go).
 *
 * A channel is a lock, a ring buffer of `cap` elements (none for an
 * unbuffered channel), and two queues of waiting goroutines, receivers
 * and senders, each waiter described by a sudog on its own stack.
 *
 * Invariants, all under c->lock:
 *   - at least one of recvq and sendq is empty (a waiting receiver and a
 *     waiting sender would have met);
 *   - if the buffer holds anything, recvq is empty;
 *   - if the buffer has room, sendq is empty.
 *
 * A sender that finds a waiting receiver copies its element straight into
 * the receiver's variable (sudog.elem points at it) and readies it: the
 * receiver wakes with its value, no second trip through the lock.  The
 * same holds the other way round, and for a full buffer a receiver takes
 * the oldest element and moves the first waiting sender's into its place,
 * so FIFO order holds.
 *
 * A sudog that belongs to a select may be claimed by several channels at
 * once; only the first to win g->selectdone may complete it (dequeue skips
 * the losers).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sched/chan.h"

/* --- wait queues (c->lock held) ------------------------------------------- */

void gort_sched_enqueue(struct waitq *q, struct sudog *sg)
{
	sg->next = NULL;
	sg->prev = q->last;
	if (q->last)
		q->last->next = sg;
	else
		q->first = sg;
	q->last = sg;
}

void gort_sched_dequeue_sudog(struct waitq *q, struct sudog *sg)
{
	if (sg->prev)
		sg->prev->next = sg->next;
	else if (q->first == sg)
		q->first = sg->next;
	else
		return;   /* not in this queue */
	if (sg->next)
		sg->next->prev = sg->prev;
	else
		q->last = sg->prev;
	sg->next = sg->prev = NULL;
}

struct sudog *gort_sched_dequeue(struct waitq *q)
{
	struct sudog *sg;
	while ((sg = q->first) != NULL) {
		q->first = sg->next;
		if (q->first)
			q->first->prev = NULL;
		else
			q->last = NULL;
		sg->next = sg->prev = NULL;
		/* A select's other case may have won already. */
		if (sg->isselect && !atomic_cas32((volatile uint32_t *)&sg->g->selectdone, 0, 1))
			continue;
		return sg;
	}
	return NULL;
}

/* --- making and freeing --------------------------------------------------- */

static struct pool chanpool = {
	.local = POOL_LOCAL_CHAN,
	.size = sizeof(struct gort_chan),
	.magic_off = offsetof(struct gort_chan, magic),
	.link_off = offsetof(struct gort_chan, buf),
};

gort_chan *gort_chan_make(size_t elemsize, size_t cap)
{
	if (elemsize > 1 << 16)
		gort_runtime_panicf("makechan: element size %zu too large (at most 65536 bytes)", elemsize);
	if (cap > (SIZE_MAX / 2) / (elemsize ? elemsize : 1))
		gort_runtime_panic("makechan: size out of range");
	/* From the pool, each on a cache line of its own: the lock word must
	 * not share a line with whatever another thread is writing. */
	struct gort_chan *c = gort_sched_pool_get(&chanpool);
	if (!c)
		return NULL;
	c->elemsize = elemsize;
	c->dataqsiz = cap;
	if (cap && elemsize && cap * elemsize <= sizeof c->inl) {
		c->buf = c->inl;   /* zeroed with the rest */
	} else if (cap && elemsize) {
		c->buf = calloc(cap, elemsize);
		if (!c->buf) {
			gort_sched_pool_put(&chanpool, c);
			return NULL;
		}
	}
	atomic_store32(&c->magic, POOL_CHAN);
	return c;
}

/* gort_chan_free's verdict, under the channel's lock: a freed channel is
 * fatal, one with goroutines blocked on it a panic; else it is marked
 * freed, and any later call on it is diagnosed (pool.c). */
void gort_sched_chan_retire(gort_chan *c)
{
	spinlock_lock(&c->lock);
	uint32_t magic = c->magic;
	if (magic != POOL_CHAN) {
		spinlock_unlock(&c->lock);
		gort_sched_pool_bad(magic, "gort_chan_free", "channel");
	}
	int busy = c->recvq.first || c->sendq.first;
	if (!busy)
		atomic_store32(&c->magic, POOL_FREED);
	spinlock_unlock(&c->lock);
	if (busy)
		gort_runtime_panic("gort_chan_free of a channel with goroutines blocked on it");
}

void gort_chan_free(gort_chan *c)
{
	if (!c)
		return;
	if (__builtin_expect(c->kind != 0, 0)) {   /* kept by a freed one too: see after.c */
		gort_sched_after_free(c);
		return;
	}
	gort_sched_chan_retire(c);
	if (c->buf != c->inl)
		free(c->buf);
	gort_sched_pool_put(&chanpool, c);
}

size_t gort_chan_len(gort_chan *c)
{
	if (c)
		CHAN_CHECK(c, "gort_chan_len");
	return c ? atomic_loadacquintptr((const volatile uintptr_t *)&c->qcount) : 0;
}

size_t gort_chan_cap(gort_chan *c)
{
	if (c)
		CHAN_CHECK(c, "gort_chan_cap");
	return c ? c->dataqsiz : 0;
}

/* A channel of zero-size elements has no buffer (buf is NULL), and
 * NULL + 0 is undefined behaviour in C: never compute its slots. */
static inline void *slot(struct gort_chan *c, size_t i)
{
	return c->elemsize ? c->buf + i * c->elemsize : NULL;
}

/* Elements are mostly a word or less: copy those without a call. */
static inline void copyelem(struct gort_chan *c, void *dst, const void *src)
{
	if (!dst)
		return;
	if (__builtin_expect(!src, 0)) {
		/* gort_chan_send(c, NULL): the zero value, as Go sends T{} */
		if (c->elemsize)
			memset(dst, 0, c->elemsize);
		return;
	}
	switch (c->elemsize) {
	case 0: return;
	case 1: *(uint8_t *)dst = *(const uint8_t *)src; return;
	case 2: memcpy(dst, src, 2); return;
	case 4: memcpy(dst, src, 4); return;
	case 8: memcpy(dst, src, 8); return;
	default: memcpy(dst, src, c->elemsize);
	}
}

/* --- the operations, shared with select.c (c->lock held, released) ------- */

/* Complete a send to the waiting receiver sg: copy, unlock, wake. */
void gort_sched_chan_sendto(struct gort_chan *c, struct sudog *sg, const void *ep)
{
	copyelem(c, sg->elem, ep);
	if (__builtin_expect(sg->releasetime != 0, 0))   /* the block profile times it */
		sg->releasetime = gort_sched_nanotime();
	spinlock_unlock(&c->lock);
	sg->success = 1;
	sg->g->param = sg;
	gort_sched_ready(sg->g);
}

/* Complete a receive from the waiting sender sg (the buffer, if any, is
 * full): take the oldest element, let the sender's take its place. */
void gort_sched_chan_recvfrom(struct gort_chan *c, struct sudog *sg, void *ep)
{
	if (c->dataqsiz == 0) {
		copyelem(c, ep, sg->elem);
	} else {
		void *q = slot(c, c->recvx);
		copyelem(c, ep, q);
		copyelem(c, q, sg->elem);
		if (++c->recvx == c->dataqsiz)
			c->recvx = 0;
		c->sendx = c->recvx;
	}
	if (__builtin_expect(sg->releasetime != 0, 0))
		sg->releasetime = gort_sched_nanotime();
	spinlock_unlock(&c->lock);
	sg->success = 1;
	sg->g->param = sg;
	gort_sched_ready(sg->g);
}

void gort_sched_chan_bufput(struct gort_chan *c, const void *ep)
{
	copyelem(c, slot(c, c->sendx), ep);
	if (++c->sendx == c->dataqsiz)
		c->sendx = 0;
	atomic_storereluintptr((volatile uintptr_t *)&c->qcount, c->qcount + 1);
}

void gort_sched_chan_bufget(struct gort_chan *c, void *ep)
{
	copyelem(c, ep, slot(c, c->recvx));
	if (++c->recvx == c->dataqsiz)
		c->recvx = 0;
	atomic_storereluintptr((volatile uintptr_t *)&c->qcount, c->qcount - 1);
}

/* A wait that the block profile may time (Go's t0 and releasetime = -1
 * in chansend and chanrecv): the time it begins, or 0 when the profile
 * is off -- then one load and one branch are all it costs, and only on
 * the path that blocks. */
static inline int64_t blockstart(struct sudog *sg)
{
	if (__builtin_expect(!(PROFFLAGS() & PROF_BLOCK), 1))
		return 0;
	sg->releasetime = -1;
	return gort_sched_nanotime();
}

/* The goroutine about to block on c, whose lock is held; outside a
 * goroutine there is nobody to park: unlock and panic. */
static struct g *blocking_g(struct gort_chan *c, const char *what)
{
	struct g *gp = getg();
	if (!gp) {
		spinlock_unlock(&c->lock);
		gort_sched_mustgetg(what);
	}
	return gp;
}

int gort_sched_chansend(struct gort_chan *c, const void *ep, int block)
{
	if (!c) {
		if (!block)
			return 0;
		gort_sched_mustgetg("gort_chan_send");
		gort_sched_park(NULL, wrChanSendNil);
		gort_runtime_throw("unreachable: woke from a send on a nil channel");
	}
	CHAN_CHECK(c, "gort_chan_send");
	if (__builtin_expect(c->kind != 0, 0))
		gort_sched_recvonly("send on");
	gort_sched_notsyscall("gort_chan_send");
	/* Fast refusal without the lock, as Go does: not closed and no room
	 * now means the non-blocking send would fail. */
	if (!block && !atomic_loadacq32(&c->closed) &&
	    ((c->dataqsiz == 0 && !c->recvq.first) ||
	     (c->dataqsiz > 0 && atomic_loadacquintptr((const volatile uintptr_t *)&c->qcount) == c->dataqsiz)))
		return 0;

	spinlock_lock(&c->lock);
	if (c->closed) {
		spinlock_unlock(&c->lock);
		gort_runtime_panic("send on closed channel");
	}
	struct sudog *sg = gort_sched_dequeue(&c->recvq);
	if (sg) {
		gort_sched_chan_sendto(c, sg, ep);
		return 1;
	}
	if (c->qcount < c->dataqsiz) {
		gort_sched_chan_bufput(c, ep);
		spinlock_unlock(&c->lock);
		return 1;
	}
	if (!block) {
		spinlock_unlock(&c->lock);
		return 0;
	}
	struct g *gp = blocking_g(c, "gort_chan_send (blocking)");
	struct sudog me = { .g = gp, .elem = (void *)ep, .c = c };
	int64_t t0 = blockstart(&me);
	gp->param = NULL;
	gort_sched_enqueue(&c->sendq, &me);
	gort_sched_park_fn(gort_sched_after_spinunlock, &c->lock, wrChanSend);
	if (__builtin_expect(t0 != 0, 0) && me.releasetime > 0)
		gort_sched_blockevent(me.releasetime - t0);
	if (!me.success)
		gort_runtime_panic("send on closed channel");
	return 1;
}

/* Returns selected | received << 1. */
int gort_sched_chanrecv(struct gort_chan *c, void *ep, int block)
{
	if (!c) {
		if (!block)
			return 0;
		gort_sched_mustgetg("gort_chan_recv");
		gort_sched_park(NULL, wrChanReceiveNil);
		gort_runtime_throw("unreachable: woke from a receive on a nil channel");
	}
	CHAN_CHECK(c, "gort_chan_recv");
	gort_sched_notsyscall("gort_chan_recv");
	/* gort_after's channel frees itself once its value is taken; read
	 * now, while c is surely alive (see after.c) */
	int after = c->kind == CHAN_AFTER;
	if (!block && atomic_loadacquintptr((const volatile uintptr_t *)&c->qcount) == 0 &&
	    !(c->dataqsiz == 0 && c->sendq.first)) {
		if (!atomic_loadacq32(&c->closed))
			return 0;
	}

	spinlock_lock(&c->lock);
	if (c->closed && c->qcount == 0) {
		spinlock_unlock(&c->lock);
		if (ep && c->elemsize)
			memset(ep, 0, c->elemsize);
		return 1;
	}
	struct sudog *sg = gort_sched_dequeue(&c->sendq);
	if (sg) {
		gort_sched_chan_recvfrom(c, sg, ep);
		return 3;
	}
	if (c->qcount > 0) {
		gort_sched_chan_bufget(c, ep);
		spinlock_unlock(&c->lock);
		if (__builtin_expect(after, 0))
			gort_sched_after_taken(c);
		return 3;
	}
	if (!block) {
		spinlock_unlock(&c->lock);
		return 0;
	}
	struct g *gp = blocking_g(c, "gort_chan_recv (blocking)");
	struct sudog me = { .g = gp, .elem = ep, .c = c };
	int64_t t0 = blockstart(&me);
	gp->param = NULL;
	gort_sched_enqueue(&c->recvq, &me);
	gort_sched_park_fn(gort_sched_after_spinunlock, &c->lock, wrChanReceive);
	if (__builtin_expect(t0 != 0, 0) && me.releasetime > 0)
		gort_sched_blockevent(me.releasetime - t0);
	if (__builtin_expect(after, 0) && me.success)
		gort_sched_after_taken(c);
	return me.success ? 3 : 1;
}

void gort_chan_send(gort_chan *c, const void *elem)
{
	/* a tail call: the block profile puts this frame back (blockprof.c) */
	gort_sched_chansend(c, elem, 1);
}

int gort_chan_recv(gort_chan *c, void *elem)
{
	return gort_sched_chanrecv(c, elem, 1) >> 1;
}

void gort_chan_close(gort_chan *c)
{
	if (!c)
		gort_runtime_panic("close of nil channel");
	CHAN_CHECK(c, "gort_chan_close");
	if (__builtin_expect(c->kind != 0, 0))
		gort_sched_recvonly("close of");
	spinlock_lock(&c->lock);
	if (c->closed) {
		spinlock_unlock(&c->lock);
		gort_runtime_panic("close of closed channel");
	}
	atomic_store32(&c->closed, 1);
	/* Collect everyone, then wake them outside the lock. */
	struct sudog *wake = NULL, *sg;
	while ((sg = gort_sched_dequeue(&c->recvq)) != NULL) {
		if (sg->elem && c->elemsize)
			memset(sg->elem, 0, c->elemsize);
		sg->success = 0;
		sg->wakelink = wake;
		wake = sg;
	}
	while ((sg = gort_sched_dequeue(&c->sendq)) != NULL) {
		sg->success = 0;
		sg->wakelink = wake;
		wake = sg;
	}
	spinlock_unlock(&c->lock);
	while (wake) {
		sg = wake;
		wake = sg->wakelink;
		if (__builtin_expect(sg->releasetime != 0, 0))
			sg->releasetime = gort_sched_nanotime();
		sg->g->param = sg;
		gort_sched_ready(sg->g);
	}
}

/* The deadline forms: a select of one case (select.c), which knows how
 * to wait on the goroutine's own timer. */
int gort_chan_recv_until(gort_chan *c, void *elem, int64_t deadline)
{
	gort_select_case k = { .c = c, .dir = GORT_RECV, .elem = elem };
	int r = gort_sched_selectgo(&k, 1, deadline, "gort_chan_recv_until");
	return r < 0 ? r : k.ok;
}

int gort_chan_send_until(gort_chan *c, const void *elem, int64_t deadline)
{
	gort_select_case k = { .c = c, .dir = GORT_SEND, .elem = (void *)elem };
	int r = gort_sched_selectgo(&k, 1, deadline, "gort_chan_send_until");
	return r < 0 ? r : 0;
}
