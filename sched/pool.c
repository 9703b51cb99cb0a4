/*
 * pool.c -- type-stable pools for the objects a program frees by hand:
 * channels and timers (Go has no counterpart: its collector makes a use
 * after free impossible).
 *
 * C has no garbage collector, so a gort program can stop a freed timer,
 * select on a freed channel, or free one twice.  With plain malloc and
 * free those are silent corruption: the memory may already be someone
 * else's, and a stop on it edits a stranger's heap.  gort turns them into
 * "fatal error: gort_timer_stop of a freed timer" instead, at the cost of
 * one load and compare per call, with three pieces:
 *
 *   - A magic word at a fixed place in every object: a live value per
 *     type (POOL_CHAN, POOL_TIMER), POOL_FREED once freed.  Every public
 *     call checks it before touching anything else.
 *
 *   - Type stability: an object's memory is never returned to malloc.  A
 *     freed channel stays a channel-shaped piece of memory marked freed,
 *     so reading its magic is always defined -- after free(3) it would be
 *     a read of memory the allocator may have handed to anybody.
 *
 *   - A quarantine: freed objects wait in a FIFO, and one is reused only
 *     once QUARANTINE others have been freed after it.  A stale pointer
 *     used soon after its free -- the common bug -- always finds
 *     POOL_FREED.  One used after its memory was reused finds a live
 *     object of the same type: that cannot be told apart from a correct
 *     call without a generation in every handle, which gort's pointer
 *     handles do not carry (the documented limit, in docs/api.md).
 *
 * Rejected: a generation counter in the handle (an index instead of a
 * pointer) would catch every use after free, but would change gort.h's
 * pointer types and cost a table lookup per call; a hash set of live
 * objects would catch every bad pointer but costs a lookup per call.
 *
 * Each P keeps the objects freed on it in a FIFO of its own, with its own
 * quarantine, so that making and freeing channels on several Ps at once
 * (a channel per request, say) takes no shared lock and moves no cache
 * line between them; a thread without a P, or a P that frees more than
 * it makes, goes through the shared FIFO under pl->lock.  An object is
 * still reused only after QUARANTINE others were freed after it, on its
 * P or anywhere.  The memory a pool holds is bounded by the most objects
 * live at once plus twice QUARANTINE per P.
 *
 * New objects are carved from chunks of POOL_CHUNK bytes mapped for the
 * purpose (pl->chunk_next, chunk_end), not malloc'd one by one: glibc
 * grows a thread's arena a page at a time, with an mprotect each, and a
 * program making a channel per goroutine would pay a system call every
 * few channels.  Under ASan, objects are allocated one by one
 * with aligned_alloc instead, so that LeakSanitizer still reports a
 * channel a program forgot to free.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sched/sched.h"

#define QUARANTINE 256
#define POOL_CHUNK (256u << 10)

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ONE_BY_ONE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ONE_BY_ONE 1
#endif
#endif

/* A fresh object: from the chunk, or one by one under ASan.  pl->lock
 * held. */
static void *carve(struct pool *pl)
{
	size_t size = (pl->size + 63) & ~(size_t)63;
#ifdef POOL_ONE_BY_ONE
	return aligned_alloc(64, size);
#else
	if (pl->chunk_end - pl->chunk_next < size) {
		size_t bytes = size > POOL_CHUNK ? size : POOL_CHUNK;
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		pl->chunk_next = (uintptr_t)p;
		pl->chunk_end = pl->chunk_next + bytes;
	}
	void *o = (void *)pl->chunk_next;
	pl->chunk_next += size;
	return o;
#endif
}

/* The free list is threaded through a pointer-sized field the object
 * does not need while freed (pl->link_off); the magic stays readable. */
#define MAGIC(pl, o) ((volatile uint32_t *)((char *)(o) + (pl)->magic_off))
#define LINK(pl, o) (*(void **)((char *)(o) + (pl)->link_off))

/* This P's cache of pl's freed objects, or NULL outside a P (a thread
 * gort did not start, an M in a system call).  No scheduling point lies
 * between here and the cache's use, and gort's own code is never
 * preempted, so the P stays ours meanwhile. */
static struct poolcache *mycache(struct pool *pl)
{
	struct m *m = gort_sched_m;
	struct p *pp = m ? m->p : NULL;
	return pp ? &pp->pools[pl->local] : NULL;
}

static void *fifo_pop(struct pool *pl, void **head, void **tail)
{
	void *o = *head;
	*head = LINK(pl, o);
	if (!*head)
		*tail = NULL;
	return o;
}

static void fifo_push(struct pool *pl, void **head, void **tail, void *o)
{
	LINK(pl, o) = NULL;
	if (*tail)
		LINK(pl, *tail) = o;
	else
		*head = o;
	*tail = o;
}

void *gort_sched_pool_get(struct pool *pl)
{
	void *o = NULL;
	struct poolcache *pc = mycache(pl);
	if (pc && pc->n > QUARANTINE) {
		o = fifo_pop(pl, &pc->head, &pc->tail);
		pc->n--;
	} else {
		spinlock_lock(&pl->lock);
		if (pl->nfree > QUARANTINE) {
			o = fifo_pop(pl, &pl->head, &pl->tail);
			pl->nfree--;
		} else {
			o = carve(pl);
		}
		spinlock_unlock(&pl->lock);
	}
	if (o)
		memset(o, 0, pl->size);
	return o;
}

void gort_sched_pool_put(struct pool *pl, void *o)
{
	atomic_store32(MAGIC(pl, o), POOL_FREED);
	struct poolcache *pc = mycache(pl);
	if (!pc) {
		spinlock_lock(&pl->lock);
		fifo_push(pl, &pl->head, &pl->tail, o);
		pl->nfree++;
		spinlock_unlock(&pl->lock);
		return;
	}
	fifo_push(pl, &pc->head, &pc->tail, o);
	if (++pc->n < 2 * QUARANTINE)
		return;
	/* A P that frees what others make would hoard: its oldest half,
	 * each with QUARANTINE frees after it already, goes to the shared
	 * FIFO for the makers. */
	spinlock_lock(&pl->lock);
	while (pc->n > QUARANTINE) {
		fifo_push(pl, &pl->head, &pl->tail, fifo_pop(pl, &pc->head, &pc->tail));
		pc->n--;
		pl->nfree++;
	}
	spinlock_unlock(&pl->lock);
}

void gort_sched_pool_bad(uint32_t magic, const char *what, const char *type)
{
	if (magic == POOL_FREED)
		gort_runtime_throwf("%s of a freed %s", what, type);
	gort_runtime_throwf("%s of something that is not a %s (a bad pointer, or memory overwritten)",
		what, type);
}
