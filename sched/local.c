/*
 * local.c -- goroutine-local values: keys, as pthread_key_create makes
 * them, whose values belong to a goroutine instead of a thread (Go has
 * no counterpart: it passes a context.Context, and keeps only profiler
 * labels per goroutine).
 *
 * Why they exist.  A goroutine may resume on another thread after any
 * gort call that blocks, so a __thread variable or a pthread key read
 * after one is another thread's.  A goroutine-local value follows the
 * goroutine instead: it lives in the goroutine's G, which is what moves.
 *
 * Keys.  A key is an index into a table of GORT_LOCAL_MAX entries and a
 * generation: key = gen << LOCAL_SHIFT | index, with gen >= 1, so every
 * key is positive and no zero-initialised variable is one.  Creating a
 * key takes a free index and the next generation of that index; deleting
 * it frees the index.  keys[i].key holds the live key at index i (0
 * while free), and every get and set compares the key it is given with
 * it: a deleted key -- even one whose index has been taken again -- no
 * longer matches, and is reported as deleted, not silently read as the
 * new key's value.  (Generations wrap after 2^24 reuses of one index,
 * and only then could a key that old pass for a new one.)
 *
 * Values.  Each G has a pointer, g->locals, to an array of slots indexed
 * by key index, allocated at its first set and grown (doubling, up to
 * GORT_LOCAL_MAX slots) when a key beyond it is set.  A slot holds the
 * value and the key it was set under.  A get is: the G (one TLS load and
 * one field), the array, a bounds check, the slot's key against the one
 * asked for, the table's key against it too, and the value -- O(1), no
 * lock, no atomic read-modify-write.  A slot whose key differs from the
 * one asked for holds a value of a deleted key that used this index
 * before: to the new key it is NULL.
 *
 * Who touches a G's array: only the G itself (get, set, and at its exit
 * the destructors), and the gort_go that starts it, which fills in the
 * inherited values before the child first runs (the run queue then
 * publishes them).  So the array needs no lock.  The table is written
 * under keyslock (create, delete) and read without it; a reader that
 * needs an entry's functions takes them as a seqlock reader does: the
 * key, then the functions, then the key again, and uses them only if the
 * key was the same both times and is the slot's -- create writes the
 * functions before the key, delete clears the key first, so functions
 * read between two equal keys are that key's.
 *
 * Reuse.  A dead G is kept for the next gort_go (proc.c's gfput), and so
 * is its array: a G pays the malloc once, not each life.  goexit empties
 * every slot (running destructors for live keys' values), so a G's next
 * goroutine starts with nothing -- and since nset counts the non-NULL
 * slots, a goroutine that set nothing costs goexit one branch.  Every
 * array is also on one list, under arrayslock, touched only when one is
 * made or grown: Gs live where LeakSanitizer does not look, and it would
 * take the arrays for leaks.
 *
 * Rejected: values inline in the G, for the first few keys.  The G is
 * 256 bytes, exactly the slot at the top of its stack it lives in
 * (stack.c), and each inline slot would cost every goroutine 16 bytes
 * whether it used locals or not; a pointer costs 8, and the array it
 * points to is allocated once per G, only by Gs that use locals.  Also
 * rejected: clearing a deleted key's slot in every G at delete (musl's
 * way for pthread keys), which would need a lock on every G's array
 * against its own growth; the generation in each slot makes the stale
 * value invisible instead, and goexit drops it.
 *
 * Outside a goroutine (a thread gort did not start, or before gort_main)
 * there is no G to hold a value: gort_local_get returns NULL, and
 * gort_local_set returns -ESRCH.  A key that is not live is a panic
 * there too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"

#define LOCAL_SHIFT 7
_Static_assert(GORT_LOCAL_MAX == 1 << LOCAL_SHIFT, "a key's index takes LOCAL_SHIFT bits");
#define GEN_MAX ((1u << 24) - 1)
#define DESTRUCTOR_ROUNDS 4   /* as PTHREAD_DESTRUCTOR_ITERATIONS */
#define FIRST_CAP 4

struct lkey {
	volatile uint32_t key;            /* the live key at this index, 0 while free; atomic */
	uint32_t gen;                     /* the last generation given out here; keyslock */
	void (*volatile dtor)(void *);    /* written under keyslock while key is 0 */
	void *(*volatile copy)(void *);   /* the same */
	volatile uint32_t inherit;        /* the same */
};

static struct rtlock keyslock;   /* protects the writes to keys[] */
static struct lkey keys[GORT_LOCAL_MAX];

static inline uint32_t kidx(int key)
{
	return (uint32_t)key & (GORT_LOCAL_MAX - 1);
}

static int create(void (*dtor)(void *), void *(*copy)(void *), uint32_t inherit)
{
	int key = -EAGAIN;
	gort_sched_lock(&keyslock);
	for (uint32_t i = 0; i < GORT_LOCAL_MAX; i++) {
		struct lkey *k = &keys[i];
		if (k->key)
			continue;
		k->gen = k->gen >= GEN_MAX ? 1 : k->gen + 1;
		atomic_storep((void *volatile *)&k->dtor, (void *)dtor);
		atomic_storep((void *volatile *)&k->copy, (void *)copy);
		atomic_store32(&k->inherit, inherit);
		key = (int)(k->gen << LOCAL_SHIFT | i);
		atomic_store32(&k->key, (uint32_t)key);
		break;
	}
	gort_sched_unlock(&keyslock);
	return key;
}

int gort_local_create(void (*destructor)(void *))
{
	return create(destructor, NULL, 0);
}

int gort_local_create_inherited(void (*destructor)(void *), void *(*copy)(void *))
{
	return create(destructor, copy, 1);
}

/* key is not live: say whether it was, once, and die. */
static __attribute__((noreturn, cold, noinline)) void badkey(const char *what, int key)
{
	uint32_t gen = (uint32_t)key >> LOCAL_SHIFT;
	if (key > 0 && gen >= 1 && gen <= keys[kidx(key)].gen)
		gort_runtime_panicf("%s: key %d was deleted", what, key);
	gort_runtime_panicf("%s: key %d was never created (not a key from gort_local_create)", what, key);
}

static inline void checkkey(const char *what, int key)
{
	if (__builtin_expect(key <= 0 || atomic_loadacq32(&keys[kidx(key)].key) != (uint32_t)key, 0))
		badkey(what, key);
}

void gort_local_delete(int key)
{
	gort_sched_lock(&keyslock);
	int live = key > 0 && keys[kidx(key)].key == (uint32_t)key;
	if (live)
		atomic_store32(&keys[kidx(key)].key, 0);
	gort_sched_unlock(&keyslock);
	if (!live)
		badkey("gort_local_delete", key);
}

void *gort_local_get(int key)
{
	checkkey("gort_local_get", key);
	struct g *gp = getg();
	struct glocals *l = gp ? gp->locals : NULL;
	uint32_t i = kidx(key);
	if (l && i < l->cap && l->s[i].key == (uint32_t)key)
		return l->s[i].v;
	return NULL;
}

static struct rtlock arrayslock;   /* protects the list of arrays */
static struct glocals arrays = { &arrays, &arrays, 0, 0, 0 };

static void unlink_array(struct glocals *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

static void link_array(struct glocals *l)
{
	l->next = arrays.next;
	l->prev = &arrays;
	arrays.next->prev = l;
	arrays.next = l;
}

/* A G's array with room for index i, grown or made. */
static struct glocals *grow(struct glocals *l, uint32_t i)
{
	uint32_t cap = l ? l->cap : 0, ncap = cap ? cap : FIRST_CAP;
	while (ncap <= i)
		ncap *= 2;
	gort_sched_lock(&arrayslock);
	if (l)
		unlink_array(l);
	struct glocals *n = realloc(l, sizeof *n + ncap * sizeof n->s[0]);
	if (!n) {
		if (l)
			link_array(l);
		gort_sched_unlock(&arrayslock);
		return NULL;
	}
	link_array(n);
	gort_sched_unlock(&arrayslock);
	if (!l)
		n->nset = n->ninherit = 0;
	memset(&n->s[cap], 0, (ncap - cap) * sizeof n->s[0]);
	n->cap = ncap;
	return n;
}

/* Put v in slot i under key (whose inherit flag is inh): the counts
 * follow what the slot held before, whatever key that was under. */
static inline void put(struct glocals *l, uint32_t i, uint32_t key, uint32_t inh, void *v)
{
	struct lslot *s = &l->s[i];
	l->nset += (v != NULL) - (s->v != NULL);
	l->ninherit += (v != NULL && inh) - (s->v != NULL && s->inherit);
	s->v = v;
	s->key = v ? key : 0;
	s->inherit = v ? inh : 0;
}

int gort_local_set(int key, void *value)
{
	checkkey("gort_local_set", key);
	struct g *gp = getg();
	if (!gp)
		return -ESRCH;
	uint32_t i = kidx(key);
	struct glocals *l = gp->locals;
	if (__builtin_expect(!l || i >= l->cap, 0)) {
		if (!value)
			return 0;   /* nothing to hold, nothing to grow */
		if (!(l = grow(l, i)))
			return -ENOMEM;
		gp->locals = l;
	}
	put(l, i, (uint32_t)key, atomic_load32(&keys[i].inherit), value);
	return 0;
}

/* The functions of the key a slot was set under, if it is still live:
 * a seqlock read of the table (see the top of this file).  0 if it is
 * not. */
static int keyfns(uint32_t key, void (**dtor)(void *), void *(**copy)(void *))
{
	struct lkey *k = &keys[key & (GORT_LOCAL_MAX - 1)];
	if (atomic_load32(&k->key) != key)
		return 0;
	*dtor = (void (*)(void *))atomic_loadp((void *const volatile *)&k->dtor);
	*copy = (void *(*)(void *))atomic_loadp((void *const volatile *)&k->copy);
	return atomic_load32(&k->key) == key;
}

void gort_sched_locals_exit(struct g *gp)
{
	/* A destructor may set values again (or set others): as with
	 * pthread keys, look again, a few times, then drop what is left. */
	for (int round = 0; round < DESTRUCTOR_ROUNDS; round++) {
		struct glocals *l = gp->locals;
		if (!l->nset)
			return;
		for (uint32_t i = 0; i < l->cap; i++) {
			l = gp->locals;   /* a destructor's set may have grown it */
			struct lslot *s = &l->s[i];
			void *v = s->v;
			if (!v)
				continue;
			uint32_t key = s->key;
			put(l, i, 0, 0, NULL);   /* before the call: a destructor that exits finds it gone */
			void (*dtor)(void *);
			void *(*copy)(void *);
			if (keyfns(key, &dtor, &copy) && dtor)
				dtor(v);
		}
	}
	struct glocals *l = gp->locals;
	for (uint32_t i = 0; i < l->cap; i++)
		put(l, i, 0, 0, NULL);
}

void gort_sched_locals_inherit(struct g *parent, struct g *child)
{
	for (uint32_t i = 0; ; i++) {
		struct glocals *pl = parent->locals;   /* a copy function may set, and grow it */
		if (i >= pl->cap)
			break;
		struct lslot s = pl->s[i];
		if (!s.v || !s.inherit)
			continue;
		void (*dtor)(void *);
		void *(*copy)(void *);
		if (!keyfns(s.key, &dtor, &copy))
			continue;   /* a deleted key's */
		void *v = copy ? copy(s.v) : s.v;
		if (!v)
			continue;
		struct glocals *cl = child->locals;
		if (!cl || i >= cl->cap) {
			if (!(cl = grow(cl, i)))
				gort_runtime_throw("out of memory inheriting goroutine-local values");
			child->locals = cl;
		}
		put(cl, i, s.key, 1, v);
	}
}
