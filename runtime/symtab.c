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
 *   3. The entries of all objects go into one array, sorted by entry, with
 *      aliases (several names at one address) folded into one entry.
 *
 * After that the table never changes.  A lookup is a binary search over an
 * immutable array: no lock, no allocation, no system call.  That is what
 * lets the SIGPROF handler ask "is this PC in package atomic?" while the
 * thread it interrupted holds any lock at all, including the dynamic
 * loader's -- which is why the table is not built lazily on first use and
 * why lookups never call dladdr.
 *
 * Objects loaded later with dlopen are not in the table; their PCs simply
 * name no function.  (Rebuilding and publishing a new table with one
 * pointer swap would lift that; nothing needs it yet.)
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
#include <fcntl.h>
#include <link.h>
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

/* The table.  Written once by gort_runtime_symtab_init before any other
 * thread of gort exists and before any profiling signal can arrive;
 * read-only afterwards, so readers need no synchronisation. */
static struct gort_func *funcs;
static size_t nfuncs;
static char *names;          /* all names, NUL-separated, owned here */

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
	const char *name, unsigned char bind)
{
	uintptr_t limit = text_limit(c, entry);
	if (!limit)
		return;
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
		addsym(c, bias + sym[i].st_value, sym[i].st_size, name, ST_BIND(sym[i].st_info));
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

static int read_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct collect *c = arg;
	(void)size;
	c->obj = info;
	const char *name = info->dlpi_name;
	if (name && name[0]) {
		read_file(c, name, info->dlpi_addr);
		return 0;
	}
	/* The first object with no name is the executable; a nameless one
	 * that is not, is the vDSO, read where the kernel mapped it. */
	static int seen_exe;
	if (!seen_exe) {
		seen_exe = 1;
		read_file(c, "/proc/self/exe", info->dlpi_addr);
		return 0;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && ph->p_offset == 0) {
			read_image(c, (const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_filesz,
				info->dlpi_addr);
			break;
		}
	}
	return 0;
}

/* --- building --------------------------------------------------------- */

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

__attribute__((constructor(101)))
void gort_runtime_symtab_init(void)
{
	if (funcs)
		return;
	struct collect c = { 0 };
	dl_iterate_phdr(read_object, &c);
	if (c.failed || c.nsyms == 0) {
		free(c.syms);
		free(c.names);
		return;
	}
	collect_names = c.names;
	qsort(c.syms, c.nsyms, sizeof *c.syms, cmp_sym);

	struct gort_func *out = malloc(c.nsyms * sizeof *out);
	if (!out) {
		free(c.syms);
		free(c.names);
		return;
	}
	size_t n = 0;
	uintptr_t *limit = malloc(c.nsyms * sizeof *limit);
	if (!limit) {
		free(out);
		free(c.syms);
		free(c.names);
		return;
	}
	for (size_t i = 0; i < c.nsyms; i++) {
		struct rawsym *s = &c.syms[i];
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
			.name = c.names + s->name,
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
	free(c.syms);
	names = c.names;
	nfuncs = n;
	funcs = out;
}

/* --- looking up: async-signal-safe --------------------------------------- */

const struct gort_func *gort_runtime_findfunc(uintptr_t pc)
{
	size_t lo = 0, hi = nfuncs;
	while (lo < hi) {                /* first entry > pc */
		size_t mid = lo + (hi - lo) / 2;
		if (funcs[mid].entry <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct gort_func *f = &funcs[lo - 1];
	return pc < f->end ? f : NULL;
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
	return nfuncs;
}

/* The lowest and highest address of the functions whose names start with
 * one of prefixes (NULL-terminated): 1 if there was any.  For start-up
 * code that wants the extent of a runtime linked into the executable,
 * such as a sanitizer's (sched/preempt.c). */
int gort_runtime_funcrange(const char *const *prefixes, uintptr_t *lo, uintptr_t *hi)
{
	int any = 0;
	for (size_t i = 0; i < nfuncs; i++)
		for (const char *const *p = prefixes; *p; p++)
			if (strncmp(funcs[i].name, *p, strlen(*p)) == 0) {
				if (!any || funcs[i].entry < *lo)
					*lo = funcs[i].entry;
				if (!any || funcs[i].end > *hi)
					*hi = funcs[i].end;
				any = 1;
				break;
			}
	return any;
}
