/*
 * pprof.c -- writing a profile as pprof's gzip'd protocol buffer (Go:
 * runtime/pprof's proto.go and protobuf.go): one writer for every kind of
 * profile, gort_prof_write, and the CPU profile as its first user.
 *
 * The format (github.com/google/pprof, proto/profile.proto) is a Profile
 * message with repeated Samples, each a list of Location ids and values;
 * Locations are addresses in a Mapping (a loaded file) with Lines naming
 * Functions; every string is an index into one string table.  The writer
 * is given a spec (the value types, the period, comments, whether a
 * stack's leaf is an exact PC) and pulls the samples; it writes
 *
 *   sample_type   the spec's, and default_sample_type if it names one
 *   sample        as pulled: location ids, values, string labels, one
 *                 numeric label
 *   location      one per distinct address: an exact leaf PC as it is,
 *                 every return address minus one (the call itself, whose
 *                 line is the call's); its Lines the functions at that
 *                 address, innermost inlined one first (symbolize.c)
 *   function      one per (name, system name, file, first line)
 *   mapping       every loaded object with its path, offset and GNU build
 *                 ID, and has_functions, has_filenames, has_line_numbers,
 *                 has_inline_frames only if each held for every location
 *                 in it -- pprof symbolizes again only a mapping that
 *                 claims none, so a false claim would hide what the
 *                 binary could still tell
 *   comment       the spec's
 *
 * Two passes: the samples are encoded as they come, each frame becoming a
 * location id (a hash lookup; the location's address only); then every
 * location is symbolized once, on a thread with a stack big enough for
 * libdw, and the locations, functions and mappings follow.
 *
 * The encoder below writes protobuf's wire format by hand: a varint key
 * (field << 3 | wire type), then a varint or a length-delimited payload.
 * A nested message is built in a buffer of its own first, since its
 * length comes before it.  Then zlib gzips the whole.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "prof/prof.h"

#if GORT_HAVE_ZLIB
#include <zlib.h>
#endif

/* --- protobuf ----------------------------------------------------------- */

struct pb {
	unsigned char *b;
	size_t len, cap;
	int oom;
};

static void pb_bytes(struct pb *p, const void *d, size_t n)
{
	if (p->len + n > p->cap) {
		size_t cap = p->cap ? p->cap : 256;
		while (cap < p->len + n)
			cap *= 2;
		unsigned char *b = realloc(p->b, cap);
		if (!b) {
			p->oom = 1;
			return;
		}
		p->b = b;
		p->cap = cap;
	}
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void pb_varint(struct pb *p, uint64_t v)
{
	unsigned char buf[10];
	int n = 0;
	do {
		buf[n] = v & 0x7f;
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	pb_bytes(p, buf, (size_t)n);
}

static void pb_uint(struct pb *p, int field, uint64_t v)
{
	pb_varint(p, (uint64_t)field << 3);
	pb_varint(p, v);
}

static void pb_uint_opt(struct pb *p, int field, uint64_t v)
{
	if (v)
		pb_uint(p, field, v);
}

/* A length-delimited field: a nested message, a string, packed numbers. */
static void pb_len(struct pb *p, int field, const void *d, size_t n)
{
	pb_varint(p, (uint64_t)field << 3 | 2);
	pb_varint(p, n);
	pb_bytes(p, d, n);
}

static void pb_msg(struct pb *p, int field, struct pb *sub)
{
	pb_len(p, field, sub->b, sub->len);
	p->oom |= sub->oom;
	sub->len = 0;
}

/* --- hash tables of ids ------------------------------------------------------
 *
 * The string table, the locations and the functions are each an array,
 * id i+1 its element i, and a hash table over it from key to id: open
 * addressing, linear probing, at most half full, each slot keeping its
 * key's hash beside the id so that growing never rehashes a key.  A
 * profile of 100,000 goroutines has as many samples, and each of their
 * frames is looked up once per sample: a linear scan per lookup (this
 * file's first version) made writing it quadratic. */

struct slot {
	uint64_t hash;
	uint32_t id;              /* 0: empty */
};

struct idtab {
	struct slot *slot;
	size_t cap, n;            /* cap a power of two, or 0 */
};

/* The slot for a key of this hash: the one holding it (eq says so) or the
 * empty one where it would go.  NULL when out of memory. */
static struct slot *idtab_find(struct idtab *t, uint64_t hash,
	int (*eq)(const void *ctx, uint32_t id, const void *key), const void *ctx, const void *key)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct slot *ns = calloc(cap, sizeof *ns);
		if (!ns)
			return NULL;
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->slot[i].id)
				continue;
			size_t j = t->slot[i].hash & (cap - 1);
			while (ns[j].id)
				j = (j + 1) & (cap - 1);
			ns[j] = t->slot[i];
		}
		free(t->slot);
		t->slot = ns;
		t->cap = cap;
	}
	size_t j = hash & (t->cap - 1);
	while (t->slot[j].id && !(t->slot[j].hash == hash && eq(ctx, t->slot[j].id, key)))
		j = (j + 1) & (t->cap - 1);
	return &t->slot[j];
}

static void idtab_set(struct idtab *t, struct slot *sl, uint64_t hash, uint32_t id)
{
	sl->hash = hash;
	sl->id = id;
	t->n++;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t strhash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* --- the string table ---------------------------------------------------- */

struct strtab {
	const char **s;           /* string i; each lives until the write ends */
	size_t n, cap;
	struct idtab ix;
};

static int streq(const void *ctx, uint32_t id, const void *key)
{
	const struct strtab *t = ctx;
	return strcmp(t->s[id - 1], key) == 0;
}

/* The index of s in the table, adding it; -1 when out of memory. */
static int64_t str(struct strtab *t, const char *s)
{
	if (!s)
		s = "";
	uint64_t h = strhash(s);
	struct slot *sl = idtab_find(&t->ix, h, streq, t, s);
	if (!sl)
		return -1;
	if (sl->id)
		return (int64_t)sl->id - 1;
	if (gort_runtime_grow(&t->s, &t->cap, t->n + 1, sizeof *t->s))
		return -1;
	t->s[t->n++] = s;
	idtab_set(&t->ix, sl, h, (uint32_t)t->n);
	return (int64_t)t->n - 1;
}

/* --- locations and functions ----------------------------------------------- */

struct func {                     /* the key is all four: string indices */
	int64_t name, sysname, file, start_line;
};

struct line {
	uint64_t func;            /* function id */
	int64_t line;
};

struct loc {
	uintptr_t addr;
	size_t map;               /* mapping id, 0 if none */
	size_t line0, nlines;     /* its lines: lines[line0 ...] */
};

/* Per mapping: how many locations lie in it, and the SYM_* flags that
 * held for every one (has_functions and the rest). */
struct mapinfo {
	size_t nlocs;
	unsigned all;
};

/* Everything one write builds.  Owned by the writing thread; while the
 * symbolizer's thread runs (symbolize_on_thread) it is that thread's
 * alone, and pthread_join hands it back. */
struct tables {
	struct strtab st;
	struct loc *loc;
	size_t nloc, caploc;
	struct idtab locix;
	struct func *fn;
	size_t nfn, capfn;
	struct idtab fnix;
	struct line *line;
	size_t nline, capline;
	struct symbolizer *sym;
	struct mapinfo *mi;       /* one per mapping of sym */
	int oom;
};

static int loceq(const void *ctx, uint32_t id, const void *key)
{
	const struct tables *t = ctx;
	return t->loc[id - 1].addr == *(const uintptr_t *)key;
}

static int fneq(const void *ctx, uint32_t id, const void *key)
{
	const struct tables *t = ctx;
	return memcmp(&t->fn[id - 1], key, sizeof(struct func)) == 0;
}

static uint64_t funcid(struct tables *t, const struct symframe *f)
{
	struct func k = {
		str(&t->st, f->name), str(&t->st, f->sysname), str(&t->st, f->decl_file), f->start_line,
	};
	if (k.name < 0 || k.sysname < 0 || k.file < 0) {
		t->oom = 1;
		return 0;
	}
	uint64_t h = mix64((uint64_t)k.name ^ mix64((uint64_t)k.sysname ^ mix64((uint64_t)k.file ^
		mix64((uint64_t)k.start_line))));
	struct slot *sl = idtab_find(&t->fnix, h, fneq, t, &k);
	if (!sl || (!sl->id && gort_runtime_grow(&t->fn, &t->capfn, t->nfn + 1, sizeof *t->fn))) {
		t->oom = 1;
		return 0;
	}
	if (sl->id)
		return sl->id;
	t->fn[t->nfn++] = k;
	idtab_set(&t->fnix, sl, h, (uint32_t)t->nfn);
	return t->nfn;
}

/* The id of the location at addr.  Only the address, for now: every
 * location is symbolized once, after the last sample (symbolize_all). */
static uint64_t locid(struct tables *t, uintptr_t addr)
{
	uint64_t h = mix64(addr);
	struct slot *sl = idtab_find(&t->locix, h, loceq, t, &addr);
	if (!sl || (!sl->id && gort_runtime_grow(&t->loc, &t->caploc, t->nloc + 1, sizeof *t->loc))) {
		t->oom = 1;
		return 0;
	}
	if (sl->id)
		return sl->id;
	t->loc[t->nloc++] = (struct loc){ addr, 0, 0, 0 };
	idtab_set(&t->locix, sl, h, (uint32_t)t->nloc);
	return t->nloc;
}

static void symbolize(struct tables *t, struct loc *l)
{
	struct symframe fr[PROF_MAXSTACK];
	unsigned flags = 0;
	int n = gort_prof_sym_lookup(t->sym, l->addr, fr, PROF_MAXSTACK, &l->map, &flags);
	l->line0 = t->nline;
	if (gort_runtime_grow(&t->line, &t->capline, t->nline + (size_t)n, sizeof *t->line)) {
		t->oom = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		uint64_t fid = fr[i].name ? funcid(t, &fr[i]) : 0;
		if (fid)
			t->line[t->nline + l->nlines++] = (struct line){ fid, fr[i].line };
	}
	t->nline += l->nlines;
	if (l->map) {
		struct mapinfo *m = &t->mi[l->map - 1];
		m->all = m->nlocs++ ? m->all & flags : flags;
	}
}

/* Every location's frames, on a thread of its own.  libdw reads a line
 * table with well over 100 KiB of stack (seen: 150 KiB in
 * dwarf_getsrclines), and the writer may be called on a goroutine's
 * stack, which is smaller than that and ends in a guard.  So the
 * symbolizer runs on a thread with a stack of a thread's usual size,
 * while the caller waits in pthread_join; the caller's next() never
 * leaves the caller's thread.  The tables are the helper's alone until
 * the join, which publishes them back. */
static void *symbolize_all(void *arg)
{
	struct tables *t = arg;
	t->sym = gort_prof_sym_open();
	if (!t->sym || !(t->mi = calloc(gort_prof_sym_nmaps(t->sym) + 1, sizeof *t->mi))) {
		t->oom = 1;
		return NULL;
	}
	for (size_t i = 0; i < t->nloc && !t->oom; i++)
		symbolize(t, &t->loc[i]);
	return NULL;
}

static int symbolize_on_thread(struct tables *t)
{
	pthread_attr_t a;
	pthread_t th;
	if (pthread_attr_init(&a) != 0)
		return -ENOMEM;
	int err = pthread_attr_setstacksize(&a, 8 << 20);
	if (!err)
		err = pthread_create(&th, &a, symbolize_all, t);
	pthread_attr_destroy(&a);
	if (err)
		return -err;
	pthread_join(th, NULL);
	return t->oom ? -ENOMEM : 0;
}

/* --- the Profile ------------------------------------------------------------ */

static int write_all(int fd, const unsigned char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int gzip_to(int fd, const struct pb *p)
{
#if !GORT_HAVE_ZLIB
	return write_all(fd, p->b, p->len);   /* plain protobuf: pprof reads it too */
#else
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	unsigned char out[16384];
	z.next_in = p->b;
	z.avail_in = (uInt)p->len;
	int err = 0, zr;
	do {
		z.next_out = out;
		z.avail_out = sizeof out;
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			err = -EIO;
			break;
		}
		err = write_all(fd, out, sizeof out - z.avail_out);
	} while (!err && zr != Z_STREAM_END);
	deflateEnd(&z);
	return err;
#endif
}

/* One value type: its strings' indices. */
static void valtype(struct pb *out, int field, struct pb *sub, struct strtab *st,
	const struct pprof_valtype *v, int *oom)
{
	int64_t ty = str(st, v->type), un = str(st, v->unit);
	if (ty < 0 || un < 0)
		*oom = 1;
	pb_uint(sub, 1, (uint64_t)ty);
	pb_uint(sub, 2, (uint64_t)un);
	pb_msg(out, field, sub);
}

int gort_prof_write(const struct pprof_spec *spec, int (*next)(void *arg, struct pprof_sample *s),
	void *arg, int fd)
{
	struct pb out = { 0 }, sub = { 0 }, sub2 = { 0 }, packed = { 0 };
	struct tables t = { 0 };
	int oom = 0;
	str(&t.st, "");                 /* string 0 is always "" */

	for (int i = 0; i < spec->ntypes; i++)
		valtype(&out, 1, &sub, &t.st, &spec->types[i], &oom);

	/* samples: each frame becomes a location the first time it is seen.
	 * A return address is written as the call before it (-1 lands in the
	 * call instruction, whose line is the call's), as pprof expects of
	 * every caller; an exact leaf PC as it is. */
	struct pprof_sample s;
	/* next fills what it has: the rest (labels, a numeric label) is none */
	while (!oom && !t.oom && (memset(&s, 0, sizeof s), next(arg, &s))) {
		for (int i = 0; i < s.nstk; i++) {
			uintptr_t a = i == 0 && spec->leaf_exact ? s.stk[0] : s.stk[i] - 1;
			pb_varint(&packed, locid(&t, a));
		}
		pb_len(&sub, 1, packed.b, packed.len);
		packed.len = 0;
		for (int i = 0; i < spec->ntypes; i++)
			pb_varint(&packed, (uint64_t)s.values[i]);
		pb_len(&sub, 2, packed.b, packed.len);
		packed.len = 0;
		const struct gort_labels *lb = s.labels;
		for (int k = 0; lb && k < lb->n; k++) {
			int64_t key = str(&t.st, lb->kv[k].key), val = str(&t.st, lb->kv[k].value);
			oom |= key < 0 || val < 0;
			pb_uint(&sub2, 1, (uint64_t)key);
			pb_uint(&sub2, 2, (uint64_t)val);
			pb_msg(&sub, 3, &sub2);
		}
		if (s.numkey) {             /* Label{key, num, num_unit} */
			int64_t key = str(&t.st, s.numkey), unit = s.numunit ? str(&t.st, s.numunit) : 0;
			oom |= key < 0 || unit < 0;
			pb_uint(&sub2, 1, (uint64_t)key);
			pb_uint(&sub2, 3, (uint64_t)s.num);
			pb_uint_opt(&sub2, 4, (uint64_t)unit);
			pb_msg(&sub, 3, &sub2);
		}
		pb_msg(&out, 2, &sub);
	}

	int err = oom || t.oom ? -ENOMEM : symbolize_on_thread(&t);

	/* mappings: has_* only where every location in it had that much */
	for (size_t i = 0; !err && i < gort_prof_sym_nmaps(t.sym); i++) {
		const struct symmap *m = gort_prof_sym_map(t.sym, i);
		unsigned all = t.mi[i].nlocs ? t.mi[i].all : 0;
		int64_t file = str(&t.st, m->file), id = str(&t.st, m->buildid);
		oom |= file < 0 || id < 0;
		pb_uint(&sub, 1, i + 1);
		pb_uint(&sub, 2, m->start);
		pb_uint(&sub, 3, m->limit);
		pb_uint_opt(&sub, 4, m->offset);
		pb_uint(&sub, 5, (uint64_t)file);
		pb_uint_opt(&sub, 6, (uint64_t)id);
		pb_uint_opt(&sub, 7, !!(all & SYM_FUNCTION));
		pb_uint_opt(&sub, 8, !!(all & SYM_FILE));
		pb_uint_opt(&sub, 9, !!(all & SYM_LINE));
		pb_uint_opt(&sub, 10, !!(all & SYM_INLINE));
		pb_msg(&out, 3, &sub);
	}

	/* locations: Lines innermost inlined function first, the physical
	 * function last, as runtime/pprof writes them */
	for (size_t i = 0; i < t.nloc; i++) {
		const struct loc *l = &t.loc[i];
		pb_uint(&sub, 1, i + 1);
		pb_uint_opt(&sub, 2, l->map);
		pb_uint(&sub, 3, l->addr);
		for (size_t k = 0; k < l->nlines; k++) {
			pb_uint(&sub2, 1, t.line[l->line0 + k].func);
			pb_uint_opt(&sub2, 2, (uint64_t)t.line[l->line0 + k].line);
			pb_msg(&sub, 4, &sub2);
		}
		pb_msg(&out, 4, &sub);
	}

	/* functions */
	for (size_t j = 0; j < t.nfn; j++) {
		pb_uint(&sub, 1, j + 1);
		pb_uint_opt(&sub, 2, (uint64_t)t.fn[j].name);
		pb_uint_opt(&sub, 3, (uint64_t)t.fn[j].sysname);
		pb_uint_opt(&sub, 4, (uint64_t)t.fn[j].file);
		pb_uint_opt(&sub, 5, (uint64_t)t.fn[j].start_line);
		pb_msg(&out, 5, &sub);
	}

	pb_uint_opt(&out, 9, (uint64_t)spec->time_ns);
	pb_uint_opt(&out, 10, (uint64_t)spec->duration_ns);
	if (spec->period_type.type)
		valtype(&out, 11, &sub, &t.st, &spec->period_type, &oom);
	pb_uint_opt(&out, 12, (uint64_t)spec->period);
	for (int i = 0; i < spec->ncomments; i++) {
		int64_t c = str(&t.st, spec->comments[i]);
		oom |= c < 0;
		pb_uint(&out, 13, (uint64_t)c);
	}
	if (spec->default_type) {
		int64_t d = str(&t.st, spec->default_type);
		oom |= d < 0;
		pb_uint(&out, 14, (uint64_t)d);
	}

	/* the string table, last: everything above has added to it */
	for (size_t i = 0; i < t.st.n; i++)
		pb_len(&out, 6, t.st.s[i], strlen(t.st.s[i]));

	if (!err)
		err = oom || t.oom || out.oom || sub.oom || sub2.oom || packed.oom ? -ENOMEM : gzip_to(fd, &out);
	free(out.b), free(sub.b), free(sub2.b), free(packed.b);
	free(t.st.s), free(t.st.ix.slot), free(t.loc), free(t.locix.slot), free(t.fn), free(t.fnix.slot);
	free(t.line), free(t.mi);
	gort_prof_sym_close(t.sym);
	return err;
}

/* --- the CPU profile: a user of the general writer --------------------------- */

struct cpuiter {
	const struct profile *p;
	size_t b;
	const struct profentry *e;
	int64_t v[2];
};

static int cpu_next(void *arg, struct pprof_sample *s)
{
	struct cpuiter *it = arg;
	while (!it->e && it->b < it->p->nbuckets)
		it->e = it->p->buckets[it->b++];
	if (!it->e)
		return 0;
	const struct profentry *e = it->e;
	it->e = e->next;
	it->v[0] = (int64_t)e->count;
	it->v[1] = (int64_t)e->cpu_ns;
	*s = (struct pprof_sample){ .stk = e->stk, .nstk = e->nstk, .values = it->v, .labels = e->tag };
	return 1;
}

int gort_prof_write_pprof(const struct profile *p, int fd)
{
	static const struct pprof_valtype types[2] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	char c1[200], c2[200];
	const struct gort_prof_stats *s = &p->stats;
	snprintf(c1, sizeof c1, "gort: requested %d Hz, achieved %.1f Hz per CPU-second (%s)", p->hz,
		s->achieved_hz, s->per_thread_timers ? "timer_create per thread" : "setitimer");
	snprintf(c2, sizeof c2, "gort ledger: %llu signals = %llu samples + %llu lost in atomic64 + "
		"%llu lost to a full buffer; %llu on other threads",
		(unsigned long long)s->signals, (unsigned long long)s->samples,
		(unsigned long long)s->lost_atomic64, (unsigned long long)s->lost_full,
		(unsigned long long)s->external);
	const char *comments[2] = { c1, c2 };
	struct pprof_spec spec = {
		.types = types,
		.ntypes = 2,
		.period_type = { "cpu", "nanoseconds" },
		.period = p->hz ? 1000000000 / p->hz : 0,
		.time_ns = p->start_wall_ns,
		.duration_ns = p->duration_ns,
		.comments = comments,
		.ncomments = 2,
		.leaf_exact = 1,             /* a signal's PC, then return addresses */
	};
	struct cpuiter it = { .p = p };
	return gort_prof_write(&spec, cpu_next, &it, fd);
}
