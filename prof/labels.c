/*
 * labels.c -- profiler labels (Go: runtime/pprof's label.go, and
 * runtime.SetGoroutineLabels).
 *
 * A label set is an immutable, sorted list of key/value pairs, interned: two
 * equal sets are one pointer.  A goroutine points at its set (g->labels),
 * gort_go copies the pointer to the new goroutine, and the SIGPROF handler
 * copies it into each sample as the sample's tag -- a single pointer read,
 * safe in a signal handler because a set never changes and is never freed.
 * That is Go's design too (g.labels is an unsafe.Pointer to an immutable
 * map); where Go relies on its collector to keep a set alive while a
 * sample points at it, gort simply never frees one.  Programs make few
 * distinct sets, so the table stays small.
 */
#include <stdlib.h>
#include <string.h>

#include "prof/prof.h"
#include "sched/sched.h"

static struct rtlock lock;          /* protects the table */
static struct gort_labels **table;
static size_t ntable, captable;

static int same(const struct gort_labels *a, const struct gort_labels *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].key, b->kv[i].key) || strcmp(a->kv[i].value, b->kv[i].value))
			return 0;
	return 1;
}

/* Intern a candidate set whose strings are not yet owned by the table. */
static const struct gort_labels *intern(const struct gort_labels *cand)
{
	gort_sched_lock(&lock);
	for (size_t i = 0; i < ntable; i++)
		if (same(table[i], cand)) {
			gort_sched_unlock(&lock);
			return table[i];
		}
	struct gort_labels *l = malloc(sizeof *l + (size_t)cand->n * sizeof l->kv[0]);
	if (l && ntable == captable) {
		size_t cap = captable ? 2 * captable : 16;
		struct gort_labels **nt = realloc(table, cap * sizeof *nt);
		if (nt) {
			table = nt;
			captable = cap;
		}
	}
	if (!l || ntable == captable) {
		gort_sched_unlock(&lock);
		gort_runtime_throw("out of memory interning profiler labels");
	}
	l->n = cand->n;
	for (int i = 0; i < cand->n; i++) {
		l->kv[i].key = strdup(cand->kv[i].key);
		l->kv[i].value = strdup(cand->kv[i].value);
		if (!l->kv[i].key || !l->kv[i].value)
			gort_runtime_throw("out of memory interning profiler labels");
	}
	table[ntable++] = l;
	gort_sched_unlock(&lock);
	return l;
}

const gort_labels *gort_labels_with(const gort_labels *base, const char *key, const char *value)
{
	if (!key || !value)
		gort_runtime_panic("gort_labels_with: nil key or value");
	int n = base ? base->n : 0;
	struct gort_labels *c = malloc(sizeof *c + (size_t)(n + 1) * sizeof c->kv[0]);
	if (!c)
		gort_runtime_throw("out of memory building profiler labels");
	/* Merge, keeping keys sorted; a key already there takes the new value. */
	int k = 0, placed = 0;
	for (int i = 0; i < n; i++) {
		int cmp = strcmp(base->kv[i].key, key);
		if (!placed && cmp >= 0) {
			c->kv[k].key = key;
			c->kv[k++].value = value;
			placed = 1;
			if (cmp == 0)
				continue;
		}
		c->kv[k++] = base->kv[i];
	}
	if (!placed) {
		c->kv[k].key = key;
		c->kv[k++].value = value;
	}
	c->n = k;
	const struct gort_labels *l = intern(c);
	free(c);
	return l;
}

const char *gort_labels_value(const gort_labels *l, const char *key)
{
	for (int i = 0; l && i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			return l->kv[i].value;
	return NULL;
}

void gort_labels_set(const gort_labels *l)
{
	struct g *gp = gort_sched_mustgetg("gort_labels_set");
	gp->labels = l;
}

const gort_labels *gort_labels_current(void)
{
	struct g *gp = getg();
	return gp ? gp->labels : NULL;
}

void gort_prof_do(const gort_labels *l, void (*fn)(void *), void *arg)
{
	struct g *gp = gort_sched_mustgetg("gort_prof_do");
	const struct gort_labels *saved = gp->labels;
	gp->labels = l;
	fn(arg);
	/* fn may have blocked and come back on another thread; gp is still us */
	gp->labels = saved;
}
