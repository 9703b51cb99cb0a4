/*
 * stacktab.c -- stacks counted by stack: the table under the block, mutex,
 * goroutine and heap profiles (Go: mprof.go's buckets and their hash).
 *
 * Each profile records events by the stack they happened at, plus one
 * word that tells apart events a profile keeps apart at the same stack
 * (the block or mutex profile an event is for; a goroutine's labels; a
 * heap sample's size).  An entry holds that key, the stack, and two
 * counts whose meaning is the profile's.  The table is a chained hash,
 * doubled when it holds as many entries as chains, so a lookup is a few
 * compares however many stacks there are.
 *
 * No locking of its own: each profile holds its lock around every call.
 * No freeing but all at once (a profile that starts over): a stack, once
 * seen, stays, as in Go.  The memory comes from the table's own allocator
 * -- malloc's, or, for the heap profile, glibc's underneath libgort's
 * malloc, which must never call back into itself.
 */
#include <string.h>

#include "prof/prof.h"

static uint64_t hash(uintptr_t key, const uintptr_t *stk, int n)
{
	uint64_t h = 14695981039346656037ull ^ (uint64_t)key;   /* FNV-1a, a word at a time */
	for (int i = 0; i < n; i++) {
		h ^= stk[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int grow(struct gort_stacktab *t)
{
	size_t nt = t->ntab ? 2 * t->ntab : 256;
	struct gort_stackent **v = t->alloc(nt * sizeof *v);
	if (!v)
		return 0;
	memset(v, 0, nt * sizeof *v);
	for (size_t i = 0; i < t->ntab; i++)
		for (struct gort_stackent *e = t->tab[i], *nx; e; e = nx) {
			nx = e->next;
			size_t k = hash(e->key, e->stk, e->nstk) & (nt - 1);
			e->next = v[k];
			v[k] = e;
		}
	if (t->tab)
		t->dealloc(t->tab);
	t->tab = v;
	t->ntab = nt;
	return 1;
}

struct gort_stackent *gort_prof_stacktab_get(struct gort_stacktab *t, uintptr_t key, const uintptr_t *stk,
	int n)
{
	if (t->n >= t->ntab && !grow(t) && !t->ntab)
		return NULL;   /* out of memory: a longer chain will do, but not no table */
	size_t k = hash(key, stk, n) & (t->ntab - 1);
	for (struct gort_stackent *e = t->tab[k]; e; e = e->next)
		if (e->key == key && e->nstk == n && memcmp(e->stk, stk, (size_t)n * sizeof *stk) == 0)
			return e;
	struct gort_stackent *e = t->alloc(sizeof *e + (size_t)n * sizeof *stk);
	if (!e)
		return NULL;
	memset(e, 0, sizeof *e);
	e->key = key;
	e->nstk = n;
	memcpy(e->stk, stk, (size_t)n * sizeof *stk);
	e->next = t->tab[k];
	t->tab[k] = e;
	t->n++;
	return e;
}

struct gort_stackent *gort_prof_stacktab_next(const struct gort_stacktab *t, struct gort_stackcur *c)
{
	while (!c->e) {
		if (c->i >= t->ntab)
			return NULL;
		c->e = t->tab[c->i++];
	}
	struct gort_stackent *e = c->e;
	c->e = e->next;
	return e;
}

void gort_prof_stacktab_clear(struct gort_stacktab *t)
{
	for (size_t i = 0; i < t->ntab; i++)
		for (struct gort_stackent *e = t->tab[i], *nx; e; e = nx) {
			nx = e->next;
			t->dealloc(e);
		}
	if (t->tab)
		t->dealloc(t->tab);
	t->tab = NULL;
	t->ntab = t->n = 0;
}

int gort_prof_stack_holds(const uintptr_t *stk, int n, uintptr_t lo, uintptr_t hi)
{
	if (lo == 0)
		return 1;
	for (int k = 0; k < n; k++)
		if (stk[k] - 1 >= lo && stk[k] - 1 < hi)   /* return addresses: the call is before */
			return 1;
	return 0;
}
