/*
 * chan.h -- the channel, for chan.c and select.c (Go: hchan in chan.go).
 */
#ifndef GORT_SCHED_CHAN_H
#define GORT_SCHED_CHAN_H

#include "sched/sched.h"

struct waitq {
	struct sudog *first, *last;
};

struct gort_chan {
	struct spinlock lock;       /* protects every field below but magic,
	                               elemsize and dataqsiz */
	volatile uint32_t magic;    /* POOL_CHAN, POOL_FREED once freed (pool.c) */
	volatile uint32_t closed;   /* also read without the lock: atomic */
	uint16_t kind;              /* CHAN_AFTER, CHAN_TICK or 0; constant from its making */
	uint16_t taken;             /* CHAN_AFTER: its value has been received (after.c); lock */
	size_t qcount;              /* elements in buf; also read without the lock */
	size_t dataqsiz;            /* capacity */
	size_t elemsize;
	size_t sendx, recvx;        /* ring indices */
	struct waitq recvq;         /* blocked receivers */
	struct waitq sendq;         /* blocked senders */
	char *buf;                  /* inl, or malloc'd if larger */
	/* A small buffer lives in the channel itself (Go allocates hchan and
	 * its buffer in one piece too): no malloc and free per channel, and
	 * the channel stays one 128-byte pool object. */
	char inl[32] __attribute__((aligned(sizeof(size_t))));
};
_Static_assert(sizeof(struct gort_chan) <= 128, "a channel outgrew its 128-byte pool object");

/* gort_after's and gort_tick's channels (after.c): receive-only, each
 * one pool object with its timer.  The channel comes first, so that the
 * pointer the caller holds is the channel's. */
enum { CHAN_AFTER = 1, CHAN_TICK = 2 };
struct after {
	struct gort_chan c;
	struct timer t;
};
/* The receiver of c's value (c->kind == CHAN_AFTER), with no lock held:
 * c is freed now, or by the last goroutine still waiting on it. */
void gort_sched_after_taken(struct gort_chan *c);
/* c->lock held, a waiter's sudog just taken off c's queue: 1 if the
 * value has been taken and nobody else waits -- c is then marked freed,
 * and the caller gives it back with gort_sched_after_put once it has
 * unlocked it. */
int gort_sched_after_leave(struct gort_chan *c);
void gort_sched_after_put(struct gort_chan *c);
/* gort_chan_free of an after or tick channel. */
void gort_sched_after_free(struct gort_chan *c);
/* gort_chan_free's checks and its mark, for both kinds (chan.c). */
void gort_sched_chan_retire(struct gort_chan *c);
__attribute__((noreturn, cold)) void gort_sched_recvonly(const char *what);

void gort_sched_enqueue(struct waitq *q, struct sudog *sg);
struct sudog *gort_sched_dequeue(struct waitq *q);
void gort_sched_dequeue_sudog(struct waitq *q, struct sudog *sg);

/* With c->lock held; the first two release it. */
void gort_sched_chan_sendto(struct gort_chan *c, struct sudog *sg, const void *ep);
void gort_sched_chan_recvfrom(struct gort_chan *c, struct sudog *sg, void *ep);
void gort_sched_chan_bufput(struct gort_chan *c, const void *ep);
void gort_sched_chan_bufget(struct gort_chan *c, void *ep);

/* Every public call on a channel checks it first: a freed channel is a
 * fatal error naming the call, not a use after free. */
#define CHAN_CHECK(c, what) POOL_CHECK((c), POOL_CHAN, (what), "channel")

/* select.c: a select until deadline (GORT_FOREVER: none; at or before
 * now: don't block), -ETIMEDOUT when it passed; what names the call. */
int gort_sched_selectgo(gort_select_case *cases, int n, int64_t deadline, const char *what);

int gort_sched_chansend(struct gort_chan *c, const void *ep, int block);
int gort_sched_chanrecv(struct gort_chan *c, void *ep, int block);

#endif /* GORT_SCHED_CHAN_H */
