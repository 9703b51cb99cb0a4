/*
 * semaphore.c -- a weighted semaphore for programs (Go:
 * golang.org/x/sync/semaphore's Weighted).  Not sema.c: that is the
 * runtime's own count of wake-ups, on which gort_mutex sleeps; this is a
 * public object with a size, weights, a context per wait and a queue
 * that is strictly FIFO.
 *
 * State, all under s->lock (a spinlock: every section is a few
 * instructions, or a channel close):
 *
 *   size          the units there are (constant)
 *   cur           the units held
 *   head, tail    the waiters, oldest first, each a struct waiter on its
 *                 goroutine's stack (stacks never move)
 *   nover         waiters for more than size, which only their contexts
 *                 can end: not queued, but counted
 *
 * Fairness is x/sync's: an acquire is served at once only if nobody is
 * waiting and the units are there; otherwise it queues, and a release
 * serves waiters from the front for as long as the front one fits --
 * never one behind a waiter that does not, so a large request is not
 * starved by a stream of small ones.  The price is head-of-line blocking,
 * which is why a waiter that gives up from the front serves those behind
 * it on its way out.
 *
 * A waiter waits in gort_select on two channels: its own `ready`, which
 * the releaser closes when it grants the units (a close never blocks, so
 * it can be done under the lock), and the context's done.  When the
 * context wins, the waiter takes the lock and looks at `granted`: if a
 * release granted it meanwhile, the units are its own and it returns 0,
 * as x/sync does ("pretend we didn't notice the cancelation"); otherwise
 * it leaves the queue and returns the context's reason with nothing
 * held.  Either way the waiter takes the lock once more before it frees
 * its channel, so the close that granted it has returned by then.
 *
 * Rejected: parking on the waiter's G directly (a sudog, as sema.c does)
 * would save the channel, but then the context's done could not be
 * waited on in the same breath; a channel per wait costs a pool object,
 * and only a wait that blocks pays it.
 */
#include <stddef.h>

#include "sched/sched.h"

struct waiter {
	int64_t n;
	gort_chan *ready;              /* closed by the releaser that grants it */
	struct waiter *next, *prev;    /* s->head..tail; under s->lock */
	int granted;                   /* under s->lock */
};

struct gort_semaphore {
	struct spinlock lock;          /* protects everything below but magic and size */
	volatile uint32_t magic;       /* POOL_SEM, POOL_FREED once freed (pool.c) */
	int64_t size;                  /* constant */
	int64_t cur;
	struct waiter *head, *tail;
	int nover;                     /* waiting for more than size: only for their contexts */
};

static struct pool sempool = {
	.local = POOL_LOCAL_SEM,
	.size = sizeof(struct gort_semaphore),
	.magic_off = offsetof(struct gort_semaphore, magic),
	.link_off = offsetof(struct gort_semaphore, head),
};

#define SEM_CHECK(s, what) POOL_CHECK((s), POOL_SEM, (what), "semaphore")

gort_semaphore *gort_semaphore_new(int64_t size)
{
	if (size < 0)
		gort_runtime_panic("semaphore: negative size");
	struct gort_semaphore *s = gort_sched_pool_get(&sempool);
	if (!s)
		return NULL;
	s->size = size;
	atomic_store32(&s->magic, POOL_SEM);
	return s;
}

static void unqueue(struct gort_semaphore *s, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		s->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		s->tail = w->prev;
	w->next = w->prev = NULL;
}

/* s->lock held: grant waiters from the front while the front one fits. */
static void notify(struct gort_semaphore *s)
{
	struct waiter *w;
	while ((w = s->head) != NULL && s->size - s->cur >= w->n) {
		s->cur += w->n;
		unqueue(s, w);
		w->granted = 1;
		gort_chan_close(w->ready);
	}
}

static void checkn(int64_t n, const char *what)
{
	if (n < 0)
		gort_runtime_panicf("semaphore: %s of a negative weight", what);
}

int gort_semaphore_acquire(gort_semaphore *s, int64_t n, gort_ctx *ctx)
{
	SEM_CHECK(s, "gort_semaphore_acquire");
	checkn(n, "gort_semaphore_acquire");
	if (!ctx)
		ctx = gort_ctx_background();
	int err = gort_ctx_err(ctx);
	if (err)
		return err;   /* done already: fail even if the units are there */
	spinlock_lock(&s->lock);
	if (!s->head && s->size - s->cur >= n) {
		s->cur += n;
		spinlock_unlock(&s->lock);
		return 0;
	}
	if (n > s->size) {
		/* Can never be served, and must not block those that can; but
		 * it waits on the semaphore all the same, for the count and for
		 * gort_semaphore_free's check. */
		s->nover++;
		spinlock_unlock(&s->lock);
		gort_chan_recv(gort_ctx_done(ctx), NULL);
		spinlock_lock(&s->lock);
		s->nover--;
		spinlock_unlock(&s->lock);
		return gort_ctx_err(ctx);
	}
	spinlock_unlock(&s->lock);
	/* The channel is made outside the lock: it may take the pool's. */
	struct waiter w = { .n = n, .ready = gort_chan_make(0, 0) };
	if (!w.ready)
		gort_runtime_throw("out of memory in gort_semaphore_acquire");
	spinlock_lock(&s->lock);
	if (!s->head && s->size - s->cur >= n) {
		/* released while we made the channel */
		s->cur += n;
		spinlock_unlock(&s->lock);
		gort_chan_free(w.ready);
		return 0;
	}
	w.prev = s->tail;
	if (s->tail)
		s->tail->next = &w;
	else
		s->head = &w;
	s->tail = &w;
	spinlock_unlock(&s->lock);

	gort_select_case cases[2] = {
		{ .c = w.ready, .dir = GORT_RECV },
		{ .c = gort_ctx_done(ctx), .dir = GORT_RECV },
	};
	int which = gort_select(cases, 2, 1);
	err = 0;
	spinlock_lock(&s->lock);
	if (which == 1 && !w.granted) {
		err = gort_ctx_err(ctx);
		int front = s->head == &w;
		unqueue(s, &w);
		if (front && s->size > s->cur)
			notify(s);
	}
	spinlock_unlock(&s->lock);
	gort_chan_free(w.ready);
	return err;
}

int gort_semaphore_tryacquire(gort_semaphore *s, int64_t n)
{
	SEM_CHECK(s, "gort_semaphore_tryacquire");
	checkn(n, "gort_semaphore_tryacquire");
	spinlock_lock(&s->lock);
	int ok = !s->head && s->size - s->cur >= n;
	if (ok)
		s->cur += n;
	spinlock_unlock(&s->lock);
	return ok;
}

void gort_semaphore_release(gort_semaphore *s, int64_t n)
{
	SEM_CHECK(s, "gort_semaphore_release");
	checkn(n, "gort_semaphore_release");
	spinlock_lock(&s->lock);
	if (n > s->cur) {
		spinlock_unlock(&s->lock);
		gort_runtime_panic("semaphore: released more than held");
	}
	s->cur -= n;
	notify(s);
	spinlock_unlock(&s->lock);
}

int gort_semaphore_waiters(gort_semaphore *s)
{
	SEM_CHECK(s, "gort_semaphore_waiters");
	spinlock_lock(&s->lock);
	int n = s->nover;
	for (struct waiter *w = s->head; w; w = w->next)
		n++;
	spinlock_unlock(&s->lock);
	return n;
}

void gort_semaphore_free(gort_semaphore *s)
{
	if (!s)
		return;
	spinlock_lock(&s->lock);
	uint32_t magic = s->magic;
	if (magic != POOL_SEM) {
		spinlock_unlock(&s->lock);
		gort_sched_pool_bad(magic, "gort_semaphore_free", "semaphore");
		return;
	}
	int busy = s->head != NULL || s->nover > 0;
	if (!busy)
		atomic_store32(&s->magic, POOL_FREED);
	spinlock_unlock(&s->lock);
	if (busy)
		gort_runtime_panic("gort_semaphore_free of a semaphore with goroutines waiting on it");
	gort_sched_pool_put(&sempool, s);
}
