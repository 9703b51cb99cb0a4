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

int gort_sched_chansend(struct gort_chan *c, const void *ep, int block);
int gort_sched_chanrecv(struct gort_chan *c, void *ep, int block);

#endif /* GORT_SCHED_CHAN_H */
