/*
 * profbuf.c -- the profile buffer: one writer, one reader, no lock
 * (Go: profbuf.go).
 *
 * Each M has its own buffer, written only by that M's SIGPROF handler and
 * read only by the profiler's reader thread.  (Go has one buffer for the
 * whole process and serialises the handlers of all threads through a
 * spinning "signalLock"; a buffer per M needs no lock between handlers at
 * all, and lets each M's samples stay in its own cache lines.  The cost is
 * one buffer per M, allocated when the M starts or profiling does.)
 *
 * The buffer is two rings: data, of 64-bit words, and tags, of label
 * pointers, one tag per record.  A record is
 *
 *     [ length | count | cpu_ns | pc0 | pc1 | ... ]       length = 3 + npc
 *
 * and may wrap around the end of the ring, word by word.
 *
 * Positions.  w and r each pack two counters that only grow (and wrap at
 * 2^32): the low 32 bits count data words, the high 32 bits count tags.
 *
 *     63                32 31                 0
 *     [   tags written    |   words written    ]      w: the writer's
 *     [   tags read       |   words read       ]      r: the reader's
 *
 * The words and tags between r and w are records ready to read; the rest
 * of each ring is free.  The writer loads r to see how much room there is,
 * writes a record into the free space, and publishes it by storing the new
 * w; the reader loads w, reads the records, and frees them by storing the
 * new r.  Each side writes only its own position, so a plain store is
 * enough -- but it must be an atomic 64-bit store, or a reader on a 32-bit
 * CPU could see half of a new w.
 *
 * That is where golang/go#20146 lives.  On 32-bit MIPS an atomic 64-bit
 * store is emulated with a spinlock, so publishing a sample takes the
 * atomic package's lock -- from inside a signal handler.  If the signal
 * interrupted code that holds that same lock, the handler spins forever.
 * sigprof.c avoids it (the fix); GORTDEBUG=lostatomic64=0 switches the fix
 * off to show the hang.
 *
 * The other way out (-Dprofbuf_positions=native32) never meets the lock
 * at all: each side publishes its counters as separate 32-bit words with
 * native 32-bit atomics, which are lock-free on every target.  The writer
 * publishes only its data count (a release store, after the record and its
 * tag); the reader, which consumes one tag per record, keeps its own tag
 * count and publishes both of its counters, in two stores -- a writer that
 * sees one new and one old sees less room than there is, never more.  The
 * profiler then needs no fix for #20146, and the handler's cost is the
 * benchmark's business (bench/prof.c).
 *
 * A full buffer refuses the record: the writer counts it as lost, and the
 * profile reports the count as a sample of its own.
 */
#include <stdlib.h>

#include "atomic/atomic.h"
#include "prof/prof.h"

struct profbuf *gort_prof_buf_new(uint32_t ndata, uint32_t ntags)
{
	struct profbuf *b = aligned_alloc(64, sizeof *b);
	if (!b)
		return NULL;
	b->w = b->r = 0;
	b->wdata = b->rdata = b->rtags = 0;
	b->ndata = ndata;
	b->ntags = ntags;
	b->data = calloc(ndata, sizeof *b->data);
	b->tags = calloc(ntags, sizeof *b->tags);
	if (!b->data || !b->tags) {
		gort_prof_buf_free(b);
		return NULL;
	}
	return b;
}

void gort_prof_buf_free(struct profbuf *b)
{
	if (!b)
		return;
	free(b->data);
	free(b->tags);
	free(b);
}

/* Async-signal-safe: no allocation, no lock but the atomic package's. */
int gort_prof_buf_write(struct profbuf *b, const void *tag, uint64_t count, uint64_t cpu_ns,
	const uintptr_t *stk, int nstk)
{
#if GORT_PROFBUF_NATIVE32
	uint32_t wd = b->wdata, wt = (uint32_t)b->w;   /* the writer's own: tags in w's low word */
	uint32_t rd = atomic_loadacq32(&b->rdata), rt = atomic_loadacq32(&b->rtags);
#else
	uint64_t w = atomic_load64(&b->w);
	uint64_t r = atomic_load64(&b->r);
	uint32_t wd = (uint32_t)w, wt = (uint32_t)(w >> 32);
	uint32_t rd = (uint32_t)r, rt = (uint32_t)(r >> 32);
#endif
	uint32_t need = 3 + (uint32_t)nstk;
	if (b->ndata - (wd - rd) < need || b->ntags - (wt - rt) < 1)
		return 0;
	uint32_t m = b->ndata - 1;
	b->data[wd & m] = need;
	b->data[(wd + 1) & m] = count;
	b->data[(wd + 2) & m] = cpu_ns;
	for (int i = 0; i < nstk; i++)
		b->data[(wd + 3 + (uint32_t)i) & m] = stk[i];
	b->tags[wt & (b->ntags - 1)] = tag;
#if GORT_PROFBUF_NATIVE32
	b->w = wt + 1;                              /* private: the tag count */
	atomic_storerel32(&b->wdata, wd + need);    /* publishes record and tag */
#else
	/* Publish: the record's words and tag are written before w says so
	 * (the store is sequentially consistent). */
	atomic_store64(&b->w, (uint64_t)(wt + 1) << 32 | (wd + need));
#endif
	return 1;
}

int gort_prof_buf_read(struct profbuf *b, void (*fn)(const struct profrec *, void *), void *arg)
{
#if GORT_PROFBUF_NATIVE32
	uint32_t wd = atomic_loadacq32(&b->wdata), rd = b->rdata, rt = b->rtags;
#else
	uint64_t w = atomic_load64(&b->w);
	uint64_t r = atomic_load64(&b->r);
	uint32_t wd = (uint32_t)w, rd = (uint32_t)r, rt = (uint32_t)(r >> 32);
#endif
	uint32_t m = b->ndata - 1;
	int n = 0;
	struct profrec rec;
	while (rd != wd) {
		uint32_t len = (uint32_t)b->data[rd & m];
		if (len < 3 || len > 3 + PROF_MAXSTACK)
			gort_runtime_throwf("profbuf: corrupt record of length %u", len);
		rec.count = b->data[(rd + 1) & m];
		rec.cpu_ns = b->data[(rd + 2) & m];
		rec.nstk = (int)len - 3;
		for (int i = 0; i < rec.nstk; i++)
			rec.stk[i] = (uintptr_t)b->data[(rd + 3 + (uint32_t)i) & m];
		rec.tag = b->tags[rt & (b->ntags - 1)];
		fn(&rec, arg);
		rd += len;
		rt++;
		n++;
	}
#if GORT_PROFBUF_NATIVE32
	atomic_storerel32(&b->rtags, rt);
	atomic_storerel32(&b->rdata, rd);
#else
	atomic_store64(&b->r, (uint64_t)rt << 32 | rd);
#endif
	return n;
}
