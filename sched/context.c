/*
 * context.c -- package context: cancellation, deadlines, and the tree
 * that carries them (Go: context/context.go's cancelCtx and timerCtx).
 * Not to be confused with ctx_<arch>.S, the goroutine context *switch*.
 *
 * A context is a node in a tree.  The root is the background context, a
 * static object that nothing can cancel.  Every other node has a lock, a
 * reason (err: 0 while live, then -ECANCELED or -ETIMEDOUT, set once), a
 * done channel closed at the moment err is set, a deadline fixed at
 * creation, and, while it is live and its parent is not the background,
 * a place in its parent's list of children.  A node whose own deadline
 * comes before its parent's has a timer (the runtime's struct timer,
 * embedded), whose firing cancels it with -ETIMEDOUT.
 *
 * The invariant everything rests on:
 *
 *   a node is in its parent's children list  <=>  its err is 0 and its
 *   parent pointer is set  -- both changed only with the parent's lock
 *   AND the node's own held.
 *
 * So a cancelled node is always detached, and a cancelled parent has no
 * children: there is nothing left to tidy when either is freed.
 *
 * Cancelling a subtree (cancel_tree) holds the locks along one path from
 * the node cancelled down to the node being visited -- parent before
 * child, the lock order -- and walks it depth first without recursion:
 * each child is unlinked from its parent, given the reason, and entered
 * with its parent's lock still held, its way back up kept in the child
 * itself (walkup); its done channel is closed as the walk leaves it, so
 * a node's channel closes after every descendant's.  A concurrent free
 * or cancel of any node in the subtree waits on that node's lock, and
 * finds it cancelled and detached when it gets in.  Without recursion, a chain of any depth
 * fits on a goroutine's fixed stack.
 *
 * Detaching goes the other way: a node cancelled by itself (a cancel
 * call, its timer, its free) must leave its parent's list while holding
 * its own lock -- to know that its parent pointer is current -- and so
 * would take the parent's lock after the child's, against the order.  It
 * only tries the parent's lock, as time.c's runtimers only tries a
 * timer's: on failure it lets go of its own and starts again.  The
 * holder of the parent's lock is cancelling the parent (and will detach
 * this child itself), creating or detaching another child; either way
 * it finishes without waiting for us.  While the child holds its own
 * lock with its parent pointer set, the parent cannot finish being
 * cancelled (cancel_tree would need the child's lock), so the parent's
 * memory is still the parent's: no use after free.
 *
 * Timers.  The firing path holds the timer's mu and then takes context
 * locks; gort_sched_deltimer, which waits for a firing in progress, is
 * therefore never called with a context lock held.  A node's timer is
 * stopped by gort_ctx_cancel and by gort_ctx_free, both outside every
 * lock.  A descendant cancelled by an ancestor keeps its timer armed
 * until it fires -- and finds the node already cancelled: nothing to do
 * -- or until the node is freed, whose deltimer then waits out any
 * firing in progress, so nothing ever fires on a freed context.
 *
 * Rejected: one global lock for the whole forest, which would make the
 * detach trivial but serialise every program's contexts; a reference
 * count per node so that children could outlive parents with no
 * pointers to fix, which adds an atomic per call and a second lifetime
 * rule for users to learn; lazily made done channels (Go's), which need
 * a lock on every gort_ctx_done, where one channel per context costs a
 * pool object and no more.
 *
 * Like channels and timers, contexts come from a type-stable pool
 * (pool.c), so a call on a freed one is diagnosed, not undefined.
 */
#include <sched.h>
#include <stddef.h>

#include "sched/sched.h"

struct gort_ctx {
	struct spinlock lock;          /* protects err's writes, parent, the lists */
	volatile uint32_t magic;       /* POOL_CTX, POOL_FREED once freed (pool.c) */
	volatile int32_t err;          /* 0 live, then the reason; written under lock, read atomically */
	uint8_t hastimer;              /* constant after creation */
	int64_t deadline;              /* constant after creation: the earlier of its and the parent's */
	gort_chan *done;               /* constant after creation (NULL: background) */
	struct gort_ctx *parent;       /* NULL once detached; under this lock and the parent's */
	struct gort_ctx *children;     /* live attached children; under this lock */
	struct gort_ctx *next, *prev;  /* in the parent's children; under the parent's lock */
	struct gort_ctx *walkup;       /* cancel_tree's way back; under this lock, while it runs */
	struct timer t;                /* the deadline's, if hastimer */
};

static struct gort_ctx background = {
	.magic = POOL_CTX,
	.deadline = GORT_FOREVER,
};

static struct pool ctxpool = {
	.local = POOL_LOCAL_CTX,
	.size = sizeof(struct gort_ctx),
	.magic_off = offsetof(struct gort_ctx, magic),
	.link_off = offsetof(struct gort_ctx, walkup),
};

#define CTX_CHECK(c, what) do { \
	if (__builtin_expect(!(c), 0)) \
		gort_runtime_panic(what " of a NULL context"); \
	POOL_CHECK((c), POOL_CTX, (what), "context"); \
} while (0)

/* Both locks held: take c out of its parent's list. */
static void unlink_child(struct gort_ctx *parent, struct gort_ctx *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		parent->children = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	c->parent = NULL;
}

/* top->lock held, top->err just set: cancel every descendant with err,
 * detaching each (see the essay), and close top's done channel last.
 * Each node's channel is closed as the walk leaves it, after all of its
 * descendants': whoever sees a done channel closed finds the whole
 * subtree under it cancelled already (a timer cancels on another
 * thread: a receiver woken by the root's close must not find a child
 * still live). */
static void cancel_tree(struct gort_ctx *top, int32_t err)
{
	struct gort_ctx *x = top;
	for (;;) {
		struct gort_ctx *c = x->children;
		if (c) {
			spinlock_lock(&c->lock);
			unlink_child(x, c);
			/* attached, so live (the invariant) */
			atomic_store32((volatile uint32_t *)&c->err, (uint32_t)err);
			c->walkup = x;
			x = c;
			continue;
		}
		gort_chan_close(x->done);
		if (x == top)
			return;
		struct gort_ctx *up = x->walkup;
		spinlock_unlock(&x->lock);
		x = up;
	}
}

/* Cancel c with err if it is live, and detach it from its parent: the
 * path of a cancel call, a timer and a free.  Takes no timer's mu. */
static void cancel(struct gort_ctx *c, int32_t err)
{
	spinlock_lock(&c->lock);
	for (;;) {
		if (c->err) {
			/* cancelled already, and so detached */
			spinlock_unlock(&c->lock);
			return;
		}
		struct gort_ctx *p = c->parent;
		if (!p || atomic_cas32(&p->lock.key, 0, 1)) {
			if (p) {
				unlink_child(p, c);
				spinlock_unlock(&p->lock);
			}
			break;
		}
		/* The parent's holder never waits for us, but may wait for our
		 * lock (cancelling the parent, it would detach us itself):
		 * step aside until the parent's lock is free.  p may be freed
		 * meanwhile -- it can finish once we let go -- but its memory
		 * stays a context's (the pool is type-stable), so the loads
		 * are defined; once we hold our lock again we look afresh. */
		spinlock_unlock(&c->lock);
		for (int i = 0; atomic_load32(&p->lock.key) != 0; i++) {
			if (i < 64)
				cpu_relax();
			else
				sched_yield();
		}
		spinlock_lock(&c->lock);
	}
	atomic_store32((volatile uint32_t *)&c->err, (uint32_t)err);
	cancel_tree(c, err);   /* closes c->done too, last */
	spinlock_unlock(&c->lock);
}

/* The deadline's timer: runs with c->t.mu held, in the scheduler. */
static void deadline_fire(struct timer *t, void *arg)
{
	(void)t;
	struct gort_ctx *c = arg;
	/* A free stops the timer before it marks the context: a firing
	 * that finds the mark is gort's bug, never the program's. */
	if (atomic_load32(&c->magic) != POOL_CTX)
		gort_runtime_throw("a context's deadline fired after it was freed");
	cancel(c, -ETIMEDOUT);
}

gort_ctx *gort_ctx_background(void)
{
	return &background;
}

static struct gort_ctx *newctx(struct gort_ctx *parent, int64_t deadline, const char *what)
{
	if (!parent)
		gort_runtime_panicf("%s: cannot create context from NULL parent", what);
	POOL_CHECK(parent, POOL_CTX, what, "context");
	struct gort_ctx *c = gort_sched_pool_get(&ctxpool);
	if (!c)
		return NULL;
	c->done = gort_chan_make(0, 0);
	if (!c->done) {
		gort_sched_pool_put(&ctxpool, c);
		return NULL;
	}
	/* The earlier deadline wins; GORT_FOREVER (negative) is the latest. */
	int64_t pd = parent->deadline;
	int own = deadline >= 0 && (pd < 0 || deadline < pd);
	c->deadline = own ? deadline : pd;
	atomic_store32(&c->magic, POOL_CTX);
	int32_t perr = 0;
	if (parent != &background) {
		spinlock_lock(&parent->lock);
		perr = parent->err;
		if (!perr) {
			c->parent = parent;
			c->next = parent->children;
			if (c->next)
				c->next->prev = c;
			parent->children = c;
		}
		spinlock_unlock(&parent->lock);
	}
	if (perr) {
		/* Nobody else knows c yet: no lock needed. */
		c->err = perr;
		gort_chan_close(c->done);
		return c;
	}
	if (own) {
		if (deadline <= gort_sched_nanotime()) {
			cancel(c, -ETIMEDOUT);
			return c;
		}
		c->hastimer = 1;
		c->t.when = deadline;
		c->t.f = deadline_fire;
		c->t.arg = c;
		gort_sched_addtimer(&c->t);
	}
	return c;
}

gort_ctx *gort_ctx_with_cancel(gort_ctx *parent)
{
	return newctx(parent, GORT_FOREVER, "gort_ctx_with_cancel");
}

gort_ctx *gort_ctx_with_deadline(gort_ctx *parent, int64_t deadline)
{
	/* GORT_FOREVER is no deadline, as for the I/O calls; any other
	 * negative one has passed (clamped, or it would read as none). */
	if (deadline < 0 && deadline != GORT_FOREVER)
		deadline = 0;
	return newctx(parent, deadline, "gort_ctx_with_deadline");
}

gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t ns)
{
	int64_t now = gort_sched_nanotime();
	int64_t d = ns <= 0 ? now : ns > INT64_MAX - now ? INT64_MAX : now + ns;
	return newctx(parent, d, "gort_ctx_with_timeout");
}

void gort_ctx_cancel(gort_ctx *c)
{
	CTX_CHECK(c, "gort_ctx_cancel");
	if (c == &background)
		gort_runtime_panic("gort_ctx_cancel of the background context, which has no cancel");
	cancel(c, -ECANCELED);
	/* Outside every lock: deltimer waits for a firing in progress. */
	if (c->hastimer)
		gort_sched_deltimer(&c->t);
}

gort_chan *gort_ctx_done(gort_ctx *c)
{
	CTX_CHECK(c, "gort_ctx_done");
	return c->done;
}

int gort_ctx_err(gort_ctx *c)
{
	CTX_CHECK(c, "gort_ctx_err");
	return (int32_t)atomic_load32((volatile uint32_t *)&c->err);
}

int64_t gort_ctx_deadline(gort_ctx *c)
{
	CTX_CHECK(c, "gort_ctx_deadline");
	return c->deadline;
}

void gort_ctx_free(gort_ctx *c)
{
	if (!c || c == &background)
		return;
	POOL_CHECK(c, POOL_CTX, "gort_ctx_free", "context");
	/* The timer first, holding nothing: once deltimer returns, no firing
	 * is in progress and none is to come. */
	if (c->hastimer)
		gort_sched_deltimer(&c->t);
	cancel(c, -ECANCELED);
	/* Under the lock: of two frees racing, one finds the other's mark. */
	spinlock_lock(&c->lock);
	uint32_t magic = c->magic;
	if (magic != POOL_CTX) {
		spinlock_unlock(&c->lock);
		gort_sched_pool_bad(magic, "gort_ctx_free", "context");
		return;
	}
	atomic_store32(&c->magic, POOL_FREED);
	spinlock_unlock(&c->lock);
	gort_chan_free(c->done);
	gort_sched_pool_put(&ctxpool, c);
}
