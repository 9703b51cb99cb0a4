/*
 * pprof.c -- writing a profile as pprof's gzip'd protocol buffer (Go:
 * runtime/pprof's proto.go and protobuf.go).
 *
 * The format (github.com/google/pprof, proto/profile.proto) is a Profile
 * message with repeated Samples, each a list of Location ids and values;
 * Locations are addresses in a Mapping (a loaded file) with Lines naming
 * Functions; every string is an index into one string table.  gort writes:
 *
 *   sample_type   [samples/count, cpu/nanoseconds], period_type
 *                 cpu/nanoseconds, period 1e9/hz, time, duration
 *   sample        one per distinct (stack, labels), with its labels
 *   location      one per distinct PC: the leaf's PC as sampled, each
 *                 caller's return address minus one (the call itself)
 *   function      one per name, from gort's own symbol table, so the file
 *                 reads without the binary (has_functions on each mapping)
 *   mapping       every loaded object with its path, offset and GNU build
 *                 ID, so `go tool pprof` can add file:line from the binary
 *   comment       the requested and achieved rates, and the ledger
 *
 * The encoder below writes protobuf's wire format by hand: a varint key
 * (field << 3 | wire type), then a varint or a length-delimited payload.
 * A nested message is built in a buffer of its own first, since its
 * length comes before it.  Then zlib gzips the whole.
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
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

/* --- the string table ---------------------------------------------------- */

struct strtab {
	const char **s;
	size_t n, cap;
};

static int64_t str(struct strtab *t, const char *s)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->s[i], s) == 0)
			return (int64_t)i;
	if (gort_runtime_grow(&t->s, &t->cap, t->n + 1, sizeof *t->s))
		return 0;
	t->s[t->n] = s;
	return (int64_t)t->n++;
}

/* --- mappings: the loaded objects ------------------------------------------ */

struct mapping {
	uintptr_t start, limit, offset;
	char file[512];
	char buildid[80];
};

struct maps {
	struct mapping *m;
	size_t n, cap;
};

static void buildid(const struct dl_phdr_info *info, char *out, size_t cap)
{
	out[0] = '\0';
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
		const unsigned char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const void *)p;
			const unsigned char *name = p + sizeof *nh;
			const unsigned char *desc = name + ((nh->n_namesz + 3) & ~3u);
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
				size_t k = 0;
				for (uint32_t j = 0; j < nh->n_descsz && k + 3 < cap; j++)
					k += (size_t)snprintf(out + k, cap - k, "%02x", desc[j]);
				return;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
}

static int addmaps(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct maps *ms = arg;
	char id[80];
	buildid(info, id, sizeof id);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (gort_runtime_grow(&ms->m, &ms->cap, ms->n + 1, sizeof *ms->m))
			return 1;
		struct mapping *m = &ms->m[ms->n++];
		m->start = info->dlpi_addr + ph->p_vaddr;
		m->limit = m->start + ph->p_memsz;
		m->offset = ph->p_offset;
		const char *name = info->dlpi_name;
		if (!name || !*name) {
			ssize_t k = ms->n == 1 ? readlink("/proc/self/exe", m->file, sizeof m->file - 1) : -1;
			if (k < 0)
				k = 0;
			m->file[k] = '\0';
			if (ms->n > 1)
				snprintf(m->file, sizeof m->file, "[vdso]");
		} else {
			snprintf(m->file, sizeof m->file, "%s", name);
		}
		memcpy(m->buildid, id, sizeof id);
	}
	return 0;
}

static size_t findmap(const struct maps *ms, uintptr_t pc)
{
	for (size_t i = 0; i < ms->n; i++)
		if (pc >= ms->m[i].start && pc < ms->m[i].limit)
			return i + 1;
	return 0;
}

/* --- locations and functions ----------------------------------------------- */

struct locs {
	uintptr_t *addr;       /* location i+1 is addr[i] */
	uint64_t *func;        /* its function id, 0 if unknown */
	size_t n, cap, capfunc;
	const char **fname;    /* function id j+1 is fname[j] */
	size_t nf, capf;
};

static uint64_t funcid(struct locs *l, const char *name)
{
	for (size_t j = 0; j < l->nf; j++)
		if (l->fname[j] == name || strcmp(l->fname[j], name) == 0)
			return j + 1;
	if (gort_runtime_grow(&l->fname, &l->capf, l->nf + 1, sizeof *l->fname))
		return 0;
	l->fname[l->nf++] = name;
	return l->nf;
}

static uint64_t locid(struct locs *l, uintptr_t addr)
{
	for (size_t i = l->n; i > 0; i--)   /* recent ones first: stacks share suffixes */
		if (l->addr[i - 1] == addr)
			return i;
	if (gort_runtime_grow(&l->addr, &l->cap, l->n + 1, sizeof *l->addr) ||
	    gort_runtime_grow(&l->func, &l->capfunc, l->n + 1, sizeof *l->func))
		return 0;
	const struct gort_func *f = gort_runtime_findfunc(addr);
	l->addr[l->n] = addr;
	l->func[l->n] = f ? funcid(l, f->name) : 0;
	return ++l->n;
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

int gort_prof_write_pprof(const struct profile *p, int fd)
{
	struct pb out = { 0 }, sub = { 0 }, sub2 = { 0 }, packed = { 0 };
	struct strtab st = { 0 };
	struct maps ms = { 0 };
	struct locs l = { 0 };
	str(&st, "");
	dl_iterate_phdr(addmaps, &ms);

	/* sample_type, twice, then period_type */
	const char *types[2][2] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
	for (int i = 0; i < 2; i++) {
		pb_uint(&sub, 1, (uint64_t)str(&st, types[i][0]));
		pb_uint(&sub, 2, (uint64_t)str(&st, types[i][1]));
		pb_msg(&out, 1, &sub);
	}

	/* samples */
	for (size_t b = 0; b < p->nbuckets; b++) {
		for (const struct profentry *e = p->buckets[b]; e; e = e->next) {
			for (int i = 0; i < e->nstk; i++) {
				uintptr_t a = i == 0 ? e->stk[i] : e->stk[i] - 1;
				pb_varint(&packed, locid(&l, a));
			}
			pb_len(&sub, 1, packed.b, packed.len);
			packed.len = 0;
			pb_varint(&packed, e->count);
			pb_varint(&packed, e->cpu_ns);
			pb_len(&sub, 2, packed.b, packed.len);
			packed.len = 0;
			const struct gort_labels *lb = e->tag;
			for (int k = 0; lb && k < lb->n; k++) {
				pb_uint(&sub2, 1, (uint64_t)str(&st, lb->kv[k].key));
				pb_uint(&sub2, 2, (uint64_t)str(&st, lb->kv[k].value));
				pb_msg(&sub, 3, &sub2);
			}
			pb_msg(&out, 2, &sub);
		}
	}

	/* mappings */
	for (size_t i = 0; i < ms.n; i++) {
		pb_uint(&sub, 1, i + 1);
		pb_uint(&sub, 2, ms.m[i].start);
		pb_uint(&sub, 3, ms.m[i].limit);
		pb_uint_opt(&sub, 4, ms.m[i].offset);
		pb_uint(&sub, 5, (uint64_t)str(&st, ms.m[i].file));
		pb_uint_opt(&sub, 6, (uint64_t)str(&st, ms.m[i].buildid));
		pb_uint(&sub, 7, 1);   /* has_functions */
		pb_msg(&out, 3, &sub);
	}

	/* locations */
	for (size_t i = 0; i < l.n; i++) {
		pb_uint(&sub, 1, i + 1);
		pb_uint_opt(&sub, 2, findmap(&ms, l.addr[i]));
		pb_uint(&sub, 3, l.addr[i]);
		if (l.func[i]) {
			pb_uint(&sub2, 1, l.func[i]);
			pb_msg(&sub, 4, &sub2);
		}
		pb_msg(&out, 4, &sub);
	}

	/* functions */
	for (size_t j = 0; j < l.nf; j++) {
		pb_uint(&sub, 1, j + 1);
		int64_t name = str(&st, l.fname[j]);
		pb_uint(&sub, 2, (uint64_t)name);
		pb_uint(&sub, 3, (uint64_t)name);
		pb_msg(&out, 5, &sub);
	}

	/* comments */
	char c1[200], c2[200];
	const struct gort_prof_stats *s = &p->stats;
	snprintf(c1, sizeof c1, "gort: requested %d Hz, achieved %.1f Hz per CPU-second (%s)", p->hz,
		s->achieved_hz, s->per_thread_timers ? "timer_create per thread" : "setitimer");
	snprintf(c2, sizeof c2, "gort ledger: %llu signals = %llu samples + %llu lost in atomic64 + "
		"%llu lost to a full buffer; %llu on other threads",
		(unsigned long long)s->signals, (unsigned long long)s->samples,
		(unsigned long long)s->lost_atomic64, (unsigned long long)s->lost_full,
		(unsigned long long)s->external);
	int64_t cm1 = str(&st, c1), cm2 = str(&st, c2);

	pb_uint(&out, 9, (uint64_t)p->start_wall_ns);
	pb_uint(&out, 10, (uint64_t)p->duration_ns);
	pb_uint(&sub, 1, (uint64_t)str(&st, "cpu"));
	pb_uint(&sub, 2, (uint64_t)str(&st, "nanoseconds"));
	pb_msg(&out, 11, &sub);
	pb_uint(&out, 12, (uint64_t)(p->hz ? 1000000000 / p->hz : 0));
	pb_uint(&out, 13, (uint64_t)cm1);
	pb_uint(&out, 13, (uint64_t)cm2);

	/* the string table, last: everything above has added to it */
	for (size_t i = 0; i < st.n; i++)
		pb_len(&out, 6, st.s[i], strlen(st.s[i]));

	int err = out.oom || sub.oom || packed.oom ? -ENOMEM : gzip_to(fd, &out);
	free(out.b), free(sub.b), free(sub2.b), free(packed.b);
	free(st.s), free(ms.m), free(l.addr), free(l.func), free(l.fname);
	return err;
}

/* --- gort_prof_write: the general writer ------------------------------------
 * PLACEHOLDER, to be replaced at merge by the lines branch's writer (file
 * and line, inline frames, the function table done properly): this one is
 * the least that lets the goroutine, block, mutex and heap profiles be
 * written and tested meanwhile -- plain locations named by
 * gort_runtime_findfunc, no lines -- with the encoder above. */
int gort_prof_write(const struct pprof_spec *spec, int (*next)(void *arg, struct pprof_sample *s),
	void *arg, int fd)
{
	struct pb out = { 0 }, sub = { 0 }, sub2 = { 0 }, packed = { 0 };
	struct strtab st = { 0 };
	struct maps ms = { 0 };
	struct locs l = { 0 };
	str(&st, "");
	dl_iterate_phdr(addmaps, &ms);

	for (int i = 0; i < spec->ntypes; i++) {
		pb_uint(&sub, 1, (uint64_t)str(&st, spec->types[i].type));
		pb_uint(&sub, 2, (uint64_t)str(&st, spec->types[i].unit));
		pb_msg(&out, 1, &sub);
	}
	struct pprof_sample s;
	for (;;) {
		memset(&s, 0, sizeof s);
		if (!next(arg, &s))
			break;
		for (int i = 0; i < s.nstk; i++) {
			uintptr_t a = i == 0 && spec->leaf_exact ? s.stk[i] : s.stk[i] - 1;
			pb_varint(&packed, locid(&l, a));
		}
		pb_len(&sub, 1, packed.b, packed.len);
		packed.len = 0;
		for (int i = 0; i < spec->ntypes; i++)
			pb_varint(&packed, (uint64_t)s.values[i]);
		pb_len(&sub, 2, packed.b, packed.len);
		packed.len = 0;
		for (int k = 0; s.labels && k < s.labels->n; k++) {
			pb_uint(&sub2, 1, (uint64_t)str(&st, s.labels->kv[k].key));
			pb_uint(&sub2, 2, (uint64_t)str(&st, s.labels->kv[k].value));
			pb_msg(&sub, 3, &sub2);
		}
		if (s.numkey) {
			pb_uint(&sub2, 1, (uint64_t)str(&st, s.numkey));
			pb_uint(&sub2, 3, (uint64_t)s.num);
			if (s.numunit)
				pb_uint(&sub2, 4, (uint64_t)str(&st, s.numunit));
			pb_msg(&sub, 3, &sub2);
		}
		pb_msg(&out, 2, &sub);
	}
	for (size_t i = 0; i < ms.n; i++) {
		pb_uint(&sub, 1, i + 1);
		pb_uint(&sub, 2, ms.m[i].start);
		pb_uint(&sub, 3, ms.m[i].limit);
		pb_uint_opt(&sub, 4, ms.m[i].offset);
		pb_uint(&sub, 5, (uint64_t)str(&st, ms.m[i].file));
		pb_uint_opt(&sub, 6, (uint64_t)str(&st, ms.m[i].buildid));
		pb_uint(&sub, 7, 1);
		pb_msg(&out, 3, &sub);
	}
	for (size_t i = 0; i < l.n; i++) {
		pb_uint(&sub, 1, i + 1);
		pb_uint_opt(&sub, 2, findmap(&ms, l.addr[i]));
		pb_uint(&sub, 3, l.addr[i]);
		if (l.func[i]) {
			pb_uint(&sub2, 1, l.func[i]);
			pb_msg(&sub, 4, &sub2);
		}
		pb_msg(&out, 4, &sub);
	}
	for (size_t j = 0; j < l.nf; j++) {
		pb_uint(&sub, 1, j + 1);
		int64_t name = str(&st, l.fname[j]);
		pb_uint(&sub, 2, (uint64_t)name);
		pb_uint(&sub, 3, (uint64_t)name);
		pb_msg(&out, 5, &sub);
	}
	if (spec->time_ns)
		pb_uint(&out, 9, (uint64_t)spec->time_ns);
	if (spec->duration_ns)
		pb_uint(&out, 10, (uint64_t)spec->duration_ns);
	if (spec->period_type.type) {
		pb_uint(&sub, 1, (uint64_t)str(&st, spec->period_type.type));
		pb_uint(&sub, 2, (uint64_t)str(&st, spec->period_type.unit));
		pb_msg(&out, 11, &sub);
	}
	pb_uint_opt(&out, 12, (uint64_t)spec->period);
	for (int i = 0; i < spec->ncomments; i++)
		pb_uint(&out, 13, (uint64_t)str(&st, spec->comments[i]));
	if (spec->default_type)
		pb_uint(&out, 14, (uint64_t)str(&st, spec->default_type));
	for (size_t i = 0; i < st.n; i++)
		pb_len(&out, 6, st.s[i], strlen(st.s[i]));

	int err = out.oom || sub.oom || sub2.oom || packed.oom ? -ENOMEM : gzip_to(fd, &out);
	free(out.b), free(sub.b), free(sub2.b), free(packed.b);
	free(st.s), free(ms.m), free(l.addr), free(l.func), free(l.fname);
	return err;
}
