/*
 * symtab.c -- the runtime's own symbol table: Go's findfunc and funcname.
 *
 * Go's linker writes a table of every function (pclntab) into the binary,
 * and the runtime binary-searches it to name a PC.  gort cannot change the
 * linker, so it builds the equivalent once, at start-up, from what the
 * ELF files already carry:
 *
 *   1. dl_iterate_phdr lists the executable and every shared object loaded
 *      now, each with its load bias (the PIE/ASLR offset to add to every
 *      address in the file).
 *   2. Each file is mapped read-only and its .symtab is read (or .dynsym
 *      when the file was stripped); every defined STT_FUNC symbol becomes
 *      {entry, end, name}.  The vDSO has no file: it is read in memory.
 *   3. Each object's entries are sorted by entry, with aliases (several
 *      names at one address) folded into one entry; its unwind table is
 *      compiled from its .eh_frame (cfi.c).
 *   4. The objects go into one array sorted by address: the snapshot.
 *
 * A lookup is two binary searches over immutable arrays -- the object,
 * then the function or unwind row in it: no lock, no allocation, no
 * system call.  That is what lets the SIGPROF handler ask "is this PC in
 * package atomic?" and "where is this frame's caller?" while the thread
 * it interrupted holds any lock at all, including the dynamic loader's --
 * which is why the table is built ahead of time, never on first use, and
 * why lookups never call dladdr or dl_iterate_phdr.
 *
 * Objects loaded later with dlopen join the table at the next refresh
 * (below): the profiler's reader thread asks for one as it drains, and
 * gort_symtab_refresh asks for one at once.
 *
 * A function's package is read from its name, as Go does with
 * hasPrefix(funcname(f), "runtime/internal/atomic"): gort_<pkg>_... is in
 * package <pkg> for the packages below, any other gort_ name is the public
 * API ("gort"), anything else is "".  The atomic package is also known by
 * address: its locking functions live in the linker section
 * gort_atomic_text, whose bounds the linker hands us as
 * __start_/__stop_gort_atomic_text (see atomic.h).  That works in a stripped executable,
 * where there are no names to read.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "runtime/runtime.h"

/* ELF32_ST_TYPE and ELF64_ST_TYPE agree; ElfW picks the struct. */
#define ST_TYPE(i) ELF64_ST_TYPE(i)
#define ST_BIND(i) ELF64_ST_BIND(i)

/* A loaded object as the table knows it: see "objects and the table". */
struct gort_obj {
	uintptr_t lo, hi;            /* its code: the span of its executable segments */
	const struct gort_func *funcs;   /* sorted by entry */
	size_t nfuncs;
	const struct gort_cfirow *rows;  /* sorted by pc, offsets from lo */
	size_t nrows;
	/* A search index over the rows, one entry per 128 bytes of code:
	 * block[b] is the number of rows that start at or before b * 128.
	 * The row for an offset in block b is among rows[block[b] - 1 ..
	 * block[b + 1]], a handful: a walk's lookup touches two cache lines
	 * of the index and one of rows, not the fifteen a binary search over
	 * libc's 25,000 rows would. */
	uint32_t *block;
	char *names;
	/* who it is in the loader's list: the same load address and program
	 * headers are the same object */
	uintptr_t addr;
	const void *phdr;
	struct gort_obj *retired;    /* next on the retired list; build_mu */
};

/* --- collecting ----------------------------------------------------------- */

struct rawsym {
	uintptr_t entry, size;
	uintptr_t limit;         /* end of the executable segment holding entry */
	size_t name;             /* offset into the names being collected */
	unsigned char bind;
};

struct collect {
	/* the executable segments of the object being read */
	const struct dl_phdr_info *obj;
	struct rawsym *syms;
	size_t nsyms, capsyms;
	char *names;
	size_t nnames, capnames;
	int failed;
};

/* The end of the executable segment of the current object that holds pc,
 * or 0 if none does: then pc is not code, whatever the symbol says. */
static uintptr_t text_limit(const struct collect *c, uintptr_t pc)
{
	const struct dl_phdr_info *o = c->obj;
	for (int i = 0; i < o->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &o->dlpi_phdr[i];
		uintptr_t lo = o->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && pc >= lo && pc - lo < ph->p_memsz)
			return lo + ph->p_memsz;
	}
	return 0;
}

static void addsym(struct collect *c, uintptr_t entry, uintptr_t size,
	const char *name, unsigned char bind, uintptr_t section_end)
{
	uintptr_t limit = text_limit(c, entry);
	if (!limit)
		return;
	/* A symbol with no size stops at the end of its own section: _init,
	 * sizeless in .init, would otherwise run on over .plt and name every
	 * PLT stub. */
	if (section_end > entry && section_end < limit)
		limit = section_end;
	if (size > limit - entry)
		size = limit - entry;
	size_t len = strlen(name) + 1;
	if (gort_runtime_grow(&c->syms, &c->capsyms, c->nsyms + 1, sizeof *c->syms) ||
	    gort_runtime_grow(&c->names, &c->capnames, c->nnames + len, 1)) {
		c->failed = 1;
		return;
	}
	memcpy(c->names + c->nnames, name, len);
	c->syms[c->nsyms++] = (struct rawsym){ entry, size, limit, c->nnames, bind };
	c->nnames += len;
}

/* Read the function symbols of one ELF image that lies in [img, img+len).
 * Every offset is checked against len: the image may be any file. */
static void read_image(struct collect *c, const unsigned char *img, size_t len, uintptr_t bias)
{
	const ElfW(Ehdr) *eh = (const void *)img;
	if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return;
	if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(ElfW(Shdr)) ||
	    eh->e_shoff > len || (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len - eh->e_shoff)
		return;
	const ElfW(Shdr) *sh = (const void *)(img + eh->e_shoff);

	/* Prefer the full table; a stripped file still has .dynsym. */
	const ElfW(Shdr) *symsec = NULL;
	for (int want = SHT_SYMTAB; !symsec && want; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0)
		for (size_t i = 0; i < eh->e_shnum; i++)
			if (sh[i].sh_type == (ElfW(Word))want) {
				symsec = &sh[i];
				break;
			}
	if (!symsec || symsec->sh_link >= eh->e_shnum)
		return;
	const ElfW(Shdr) *strsec = &sh[symsec->sh_link];
	if (symsec->sh_offset > len || symsec->sh_size > len - symsec->sh_offset ||
	    strsec->sh_offset > len || strsec->sh_size > len - strsec->sh_offset ||
	    strsec->sh_size == 0)
		return;

	const ElfW(Sym) *sym = (const void *)(img + symsec->sh_offset);
	size_t n = symsec->sh_size / sizeof *sym;
	const char *str = (const char *)img + strsec->sh_offset;
	for (size_t i = 0; i < n; i++) {
		int type = ST_TYPE(sym[i].st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym[i].st_shndx == SHN_UNDEF ||
		    sym[i].st_value == 0 || sym[i].st_name >= strsec->sh_size)
			continue;
		const char *name = str + sym[i].st_name;
		if (!memchr(name, '\0', strsec->sh_size - sym[i].st_name) || !*name)
			continue;
		uintptr_t send = 0;
		if (sym[i].st_shndx < eh->e_shnum && sh[sym[i].st_shndx].sh_addr != 0)
			send = bias + sh[sym[i].st_shndx].sh_addr + sh[sym[i].st_shndx].sh_size;
		addsym(c, bias + sym[i].st_value, sym[i].st_size, name, ST_BIND(sym[i].st_info), send);
	}
}

static void read_file(struct collect *c, const char *path, uintptr_t bias)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		void *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (img != MAP_FAILED) {
			read_image(c, img, (size_t)st.st_size, bias);
			munmap(img, (size_t)st.st_size);
		}
	}
	close(fd);
}

/* Read the symbols of the loaded object o, whose index in the loader's
 * list is idx: 0 is the executable. */
static void read_symbols(struct collect *c, const struct dl_phdr_info *o, int idx)
{
	c->obj = o;
	const char *name = o->dlpi_name;
	if (name && name[0]) {
		read_file(c, name, o->dlpi_addr);
		return;
	}
	/* The first object, nameless, is the executable. */
	if (idx == 0) {
		read_file(c, "/proc/self/exe", o->dlpi_addr);
		return;
	}
}

/* The vDSO has no file (glibc names it linux-vdso.so.1, a name no file
 * has): it is read where the kernel mapped it, the ELF image at
 * AT_SYSINFO_EHDR, section headers and all -- which lie past the end of
 * its PT_LOAD's file size, but inside the pages mapped for it. */
static int read_vdso(struct collect *c, const struct dl_phdr_info *o)
{
	uintptr_t ehdr = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	for (int i = 0; ehdr && i < o->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &o->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || ph->p_offset != 0 || o->dlpi_addr + ph->p_vaddr != ehdr)
			continue;
		long page = sysconf(_SC_PAGESIZE);
		size_t mapped = ((size_t)ph->p_memsz + (size_t)page - 1) & ~((size_t)page - 1);
		const ElfW(Ehdr) *eh = (const void *)ehdr;
		size_t len = (size_t)eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr));
		c->obj = o;
		read_image(c, (const void *)ehdr, len <= mapped ? len : ph->p_filesz, o->dlpi_addr);
		return 1;
	}
	return 0;
}

static const char *collect_names;

static int bind_rank(unsigned char b)
{
	return b == STB_GLOBAL ? 0 : b == STB_WEAK ? 1 : 2;
}

/* Sort by entry; among aliases put the preferred name first: global over
 * weak over local, then the shorter name (gort_atomic_add64 rather than
 * gort_atomic_spin_add64), then by spelling, so the choice is stable. */
static int cmp_sym(const void *a, const void *b)
{
	const struct rawsym *x = a, *y = b;
	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	if (bind_rank(x->bind) != bind_rank(y->bind))
		return bind_rank(x->bind) - bind_rank(y->bind);
	const char *nx = collect_names + x->name, *ny = collect_names + y->name;
	size_t lx = strlen(nx), ly = strlen(ny);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(nx, ny);
}

/* Turn the collected symbols into o's sorted function table.  Called with
 * build_mu held (collect_names is the sort's context). */
static int make_funcs(struct collect *c, struct gort_obj *o)
{
	if (c->nsyms == 0)
		return 0;
	collect_names = c->names;
	qsort(c->syms, c->nsyms, sizeof *c->syms, cmp_sym);
	struct gort_func *out = malloc(c->nsyms * sizeof *out);
	uintptr_t *limit = malloc(c->nsyms * sizeof *limit);
	if (!out || !limit) {
		free(out);
		free(limit);
		return -1;
	}
	size_t n = 0;
	for (size_t i = 0; i < c->nsyms; i++) {
		struct rawsym *s = &c->syms[i];
		if (n > 0 && out[n - 1].entry == s->entry) {
			/* An alias: keep the preferred name, the larger extent. */
			if (s->entry + s->size > out[n - 1].end)
				out[n - 1].end = s->entry + s->size;
			continue;
		}
		limit[n] = s->limit;
		out[n++] = (struct gort_func){
			.entry = s->entry,
			.end = s->entry + s->size,
			.name = c->names + s->name,
			.flags = gort_runtime_pc_in_atomic(s->entry) ? FUNC_ATOMIC : 0,
		};
	}
	/* A symbol with no size (hand-written assembly without .size, _init)
	 * is taken to run up to the next function, but never past the end
	 * of its own code segment. */
	for (size_t i = 0; i < n; i++)
		if (out[i].end == out[i].entry)
			out[i].end = i + 1 < n && out[i + 1].entry < limit[i] ? out[i + 1].entry : limit[i];
	free(limit);
	o->funcs = out;
	o->nfuncs = n;
	o->names = c->names;
	c->names = NULL;
	return 0;
}

/* --- objects and the table ------------------------------------------------
 *
 * The table is a snapshot: an immutable, sorted array of the objects
 * loaded when it was made, each with its functions and its unwind rows
 * (cfi.c), all immutable too.  A reader -- a signal handler, an unwinder,
 * the profile writer -- loads the current snapshot's pointer once and
 * searches it without a lock.
 *
 * When the loader's list changes (dlopen, dlclose), gort_runtime_symtab_refresh
 * makes a new snapshot outside any handler: objects still loaded are
 * shared with the old one, new ones are read and compiled, and only then
 * is the new snapshot published, with one pointer store.  A signal sees
 * the old snapshot or the new one, whole; never one being built.
 *
 * What the new snapshot dropped (the old array, the objects that were
 * unloaded) cannot be freed at once: a handler on another thread may be
 * in the middle of a walk over it.  Every reader holds a pin while it
 * reads (gort_runtime_symtab_pin: one counter, incremented before the
 * snapshot's pointer is loaded, decremented after the last read).  A
 * refresh frees what it retired only once it has seen the count at zero
 * after the store -- then every reader that could have loaded the old
 * pointer has finished, and any later one loads the new pointer.  A count
 * that is never seen at zero only delays the freeing to a later refresh.
 * (GORTDEBUG=symtabgrace=0 frees at once: the deadlock suite's
 * loader.index scenario shows what that does to a walk in progress.)
 */

struct world {
	size_t n;
	unsigned long long adds, subs;   /* the loader's counters when made */
	struct world *retired;           /* next on the retired list; build_mu */
	uint32_t magic;                  /* WORLD_LIVE until freed (past the words
	                                    free(3) writes into a freed block) */
	struct gort_obj *objs[];         /* sorted by lo */
};
enum { WORLD_LIVE = 0x5e1ec7ed, WORLD_DEAD = 0xdeadf00d };

/* The current snapshot: written (one release store) by a refresh with
 * build_mu held; read with acquire loads by anyone. */
static struct world *volatile world;
/* Readers inside a snapshot now (seq-cst atomics).  On a line of its
 * own: every handler writes it, and world, beside it, is read by every
 * lookup. */
static volatile uint32_t readers __attribute__((aligned(64)));
/* Serialises refreshes, and guards the retired lists. */
static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;
static struct world *retired_worlds;
static struct gort_obj *retired_objs;

void gort_runtime_symtab_pin(void)
{
	atomic_add32(&readers, 1);
}

void gort_runtime_symtab_unpin(void)
{
	atomic_add32(&readers, -1);
}

static struct world *current(void)
{
	return atomic_loadp((void *const volatile *)&world);
}

static void free_obj(struct gort_obj *o)
{
	free((void *)o->funcs);
	free((void *)o->rows);
	free(o->block);
	free(o->names);
	free(o);
}

#define BLOCK_SHIFT 7

static int index_rows(struct gort_obj *o)
{
	size_t nblocks = ((o->hi - o->lo) >> BLOCK_SHIFT) + 2;
	if (o->nrows == 0)
		return 0;
	if (o->nrows > UINT32_MAX || !(o->block = malloc(nblocks * sizeof *o->block)))
		return -1;
	size_t r = 0;
	for (size_t b = 0; b < nblocks; b++) {
		uintptr_t at = (uintptr_t)b << BLOCK_SHIFT;
		while (r < o->nrows && o->rows[r].pc <= at)
			r++;
		o->block[b] = (uint32_t)r;
	}
	return 0;
}

/* Read one loaded object: its symbols and its unwind rows. */
static struct gort_obj *build_obj(const struct dl_phdr_info *info, int idx)
{
	struct gort_obj *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->addr = info->dlpi_addr;
	o->phdr = info->dlpi_phdr;
	o->lo = UINTPTR_MAX;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (lo < o->lo)
			o->lo = lo;
		if (lo + ph->p_memsz > o->hi)
			o->hi = lo + ph->p_memsz;
	}
	if (o->lo >= o->hi) {
		free(o);
		return NULL;                 /* no code: nothing to name or unwind */
	}
	struct collect c = { 0 };
	if (!read_vdso(&c, info))
		read_symbols(&c, info, idx);
	int err = c.failed || make_funcs(&c, o);
	free(c.syms);
	free(c.names);
	struct gort_cfirow *rows;
	if (!err && gort_runtime_debug("cfi", 1) &&
	    gort_runtime_cfi_compile(info, o->lo, o->lo, o->hi, &rows, &o->nrows) == 0) {
		o->rows = rows;
		if (index_rows(o) != 0) {   /* no memory for the index: no rows */
			free(rows);
			o->rows = NULL;
			o->nrows = 0;
		}
	}
	if (err) {
		free_obj(o);
		return NULL;
	}
	return o;
}

struct scan {
	struct world *old;
	struct gort_obj **objs;
	size_t n, cap;
	unsigned long long adds, subs;
	int idx, failed;
};

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	int idx = s->idx++;
	if (idx == 0 && size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
		s->adds = info->dlpi_adds;
		s->subs = info->dlpi_subs;
	}
	struct gort_obj *o = NULL;
	for (size_t i = 0; s->old && i < s->old->n; i++)
		if (s->old->objs[i]->addr == info->dlpi_addr && s->old->objs[i]->phdr == info->dlpi_phdr)
			o = s->old->objs[i];
	if (!o)
		o = build_obj(info, idx);
	if (!o)
		return 0;
	if (gort_runtime_grow(&s->objs, &s->cap, s->n + 1, sizeof *s->objs)) {
		s->failed = 1;
		return 1;
	}
	s->objs[s->n++] = o;
	return 0;
}

static int cmp_obj(const void *a, const void *b)
{
	const struct gort_obj *x = *(struct gort_obj *const *)a, *y = *(struct gort_obj *const *)b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int in(const struct world *w, const struct gort_obj *o)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->objs[i] == o)
			return 1;
	return 0;
}

/* Free what was retired, if no reader can still be in it.  build_mu held. */
static void reclaim(void)
{
	if (!retired_worlds && !retired_objs)
		return;
	if (gort_runtime_debug("symtabgrace", 1) && atomic_load32(&readers) != 0)
		return;
	while (retired_worlds) {
		struct world *w = retired_worlds;
		retired_worlds = w->retired;
		/* volatile: a store to memory about to be freed is dead to
		 * the compiler, which would drop it */
		*(volatile uint32_t *)&w->magic = WORLD_DEAD;
		free(w);
	}
	while (retired_objs) {
		struct gort_obj *o = retired_objs;
		retired_objs = o->retired;
		free_obj(o);
	}
}

/* Test hook (debug runtime): called by every lookup, between loading the
 * snapshot's pointer and reading the snapshot (the deadlock suite's
 * loader.index holds a handler there while another thread refreshes). */
void (*gort_runtime_symtab_hook)(void);

static int refresh(int force)
{
	pthread_mutex_lock(&build_mu);
	struct world *old = current();
	struct scan s = { .old = old };
	dl_iterate_phdr(scan_object, &s);
	if (s.failed || (!force && old && s.adds == old->adds && s.subs == old->subs && s.n == old->n)) {
		int changed = s.failed ? -ENOMEM : 0;
		for (size_t i = 0; i < s.n; i++)
			if (!old || !in(old, s.objs[i]))
				free_obj(s.objs[i]);
		free(s.objs);
		reclaim();
		pthread_mutex_unlock(&build_mu);
		return changed;
	}
	qsort(s.objs, s.n, sizeof *s.objs, cmp_obj);
	struct world *w = malloc(sizeof *w + s.n * sizeof *w->objs);
	if (!w) {
		for (size_t i = 0; i < s.n; i++)
			if (!old || !in(old, s.objs[i]))
				free_obj(s.objs[i]);
		free(s.objs);
		pthread_mutex_unlock(&build_mu);
		return -ENOMEM;
	}
	w->n = s.n;
	w->magic = WORLD_LIVE;
	w->adds = s.adds;
	w->subs = s.subs;
	w->retired = NULL;
	memcpy(w->objs, s.objs, s.n * sizeof *s.objs);
	free(s.objs);
	atomic_storep((void *volatile *)&world, w);   /* publish: sequentially consistent */
	if (old) {
		for (size_t i = 0; i < old->n; i++)
			if (!in(w, old->objs[i])) {
				old->objs[i]->retired = retired_objs;
				retired_objs = old->objs[i];
			}
		old->retired = retired_worlds;
		retired_worlds = old;
	}
	reclaim();
	pthread_mutex_unlock(&build_mu);
	return 1;
}

/* After debug.c's constructor (103), whose knobs it reads. */
__attribute__((constructor(104)))
void gort_runtime_symtab_init(void)
{
	if (!current())
		refresh(1);
}

int gort_runtime_symtab_refresh(void)
{
	return refresh(0);
}

int gort_symtab_refresh(void)
{
	int r = refresh(0);
	return r < 0 ? r : 0;
}

/* --- looking up: async-signal-safe --------------------------------------- */

/* The object whose code holds pc, in the current snapshot.  The caller
 * holds a pin, or reads only objects loaded for good (see above). */
const struct gort_obj *gort_runtime_findobj(uintptr_t pc)
{
	const struct world *w = current();
	if (!w)
		return NULL;
#if GORT_DEBUG_RUNTIME
	if (gort_runtime_symtab_hook)
		gort_runtime_symtab_hook();
#endif
	/* A snapshot freed under a reader (a pin missing, or a refresh that
	 * did not wait: GORTDEBUG=symtabgrace=0) is caught here, rather than
	 * followed into whatever the memory holds now. */
	if (w->magic != WORLD_LIVE) {
		/* Once: the throw's own traceback looks PCs up too, and must
		 * find no object rather than throw again. */
		static volatile uint32_t reported;
		if (atomic_cas32(&reported, 0, 1))
			gort_runtime_throw("symbol table: a snapshot was freed while a reader was in it");
		return NULL;
	}
	size_t lo = 0, hi = w->n;
	while (lo < hi) {                /* first object with lo > pc */
		size_t mid = lo + (hi - lo) / 2;
		if (w->objs[mid]->lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct gort_obj *o = w->objs[lo - 1];
	return pc < o->hi ? o : NULL;
}

const struct gort_func *gort_runtime_findfunc(uintptr_t pc)
{
	const struct gort_obj *o = gort_runtime_findobj(pc);
	if (!o)
		return NULL;
	size_t lo = 0, hi = o->nfuncs;
	while (lo < hi) {                /* first entry > pc */
		size_t mid = lo + (hi - lo) / 2;
		if (o->funcs[mid].entry <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct gort_func *f = &o->funcs[lo - 1];
	return pc < f->end ? f : NULL;
}

const struct gort_cfirow *gort_runtime_findrow(uintptr_t pc, uintptr_t *base, const struct gort_obj **cache)
{
	const struct gort_obj *o = cache ? *cache : NULL;
	if (!o || pc - o->lo >= o->hi - o->lo) {
		o = gort_runtime_findobj(pc);
		if (cache)
			*cache = o;
	}
	if (!o || o->nrows == 0)
		return NULL;
	uintptr_t off = pc - o->lo, b = off >> BLOCK_SHIFT;
	/* the first row starting after off lies in [block[b], block[b + 1]] */
	size_t lo = o->block[b], hi = o->block[b + 1];
	while (lo < hi) {                /* first row starting after off */
		size_t mid = lo + (hi - lo) / 2;
		if (o->rows[mid].pc <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || o->rows[lo - 1].cfa == CFI_NONE)
		return NULL;
	*base = o->lo;
	return &o->rows[lo - 1];
}

int gort_runtime_objcode(uintptr_t pc, uintptr_t *lo, uintptr_t *hi)
{
	const struct gort_obj *o = gort_runtime_findobj(pc);
	if (!o)
		return 0;
	*lo = o->lo;
	*hi = o->hi;
	return 1;
}

int gort_runtime_objrows(uintptr_t pc, const struct gort_cfirow **rows, size_t *n, uintptr_t *base)
{
	const struct gort_obj *o = gort_runtime_findobj(pc);
	if (!o)
		return 0;
	*rows = o->rows;
	*n = o->nrows;
	*base = o->lo;
	return 1;
}

int gort_runtime_pc_in_atomic(uintptr_t pc)
{
	return pc >= (uintptr_t)gort_atomic_text_lo && pc < (uintptr_t)gort_atomic_text_hi;
}

static const char *const packages[] = { "atomic", "runtime", "sched", "prof" };

const char *gort_runtime_funcpkg(const struct gort_func *f)
{
	if (f->flags & FUNC_ATOMIC)
		return "atomic";
	const char *s = f->name;
	if (strncmp(s, "gort_", 5) != 0)
		return "";
	s += 5;
	for (size_t i = 0; i < sizeof packages / sizeof packages[0]; i++) {
		size_t n = strlen(packages[i]);
		if (strncmp(s, packages[i], n) == 0 && s[n] == '_')
			return packages[i];
	}
	return "gort";
}

int gort_funcinfo_for_pc(uintptr_t pc, struct gort_funcinfo *out)
{
	const struct gort_func *f = gort_runtime_findfunc(pc);
	if (!f)
		return 0;
	*out = (struct gort_funcinfo){ f->entry, f->end, f->name, gort_runtime_funcpkg(f) };
	return 1;
}

int gort_pc_in_atomic(uintptr_t pc)
{
	return gort_runtime_pc_in_atomic(pc);
}

size_t gort_symtab_len(void)
{
	gort_runtime_symtab_pin();
	const struct world *w = current();
	size_t n = 0;
	for (size_t i = 0; w && i < w->n; i++)
		n += w->objs[i]->nfuncs;
	gort_runtime_symtab_unpin();
	return n;
}

/* The lowest and highest address of the functions whose names start with
 * one of prefixes (NULL-terminated): 1 if there was any.  For start-up
 * code that wants the extent of a runtime linked into the executable,
 * such as a sanitizer's (sched/preempt.c). */
int gort_runtime_funcrange(const char *const *prefixes, uintptr_t *lo, uintptr_t *hi)
{
	int any = 0;
	gort_runtime_symtab_pin();
	const struct world *w = current();
	for (size_t k = 0; w && k < w->n; k++) {
		const struct gort_obj *o = w->objs[k];
		for (size_t i = 0; i < o->nfuncs; i++)
			for (const char *const *p = prefixes; *p; p++)
				if (strncmp(o->funcs[i].name, *p, strlen(*p)) == 0) {
					if (!any || o->funcs[i].entry < *lo)
						*lo = o->funcs[i].entry;
					if (!any || o->funcs[i].end > *hi)
						*hi = o->funcs[i].end;
					any = 1;
					break;
				}
	}
	gort_runtime_symtab_unpin();
	return any;
}
