/*
 * symbolize.c -- naming an address when a profile is written: function,
 * file, line and the functions inlined there (Go: the pclntab lookups
 * behind runtime.CallersFrames, which runtime/pprof's proto.go expands
 * each PC with).
 *
 * Go's linker writes, for every PC, the function, file and line, and an
 * inline tree: which inlined calls the PC lies in, each with the line of
 * the call.  runtime/pprof reads that table when it writes a profile, and
 * writes each PC as one Location whose Lines are the inlined functions,
 * innermost first, then the function the code physically lies in.  gort
 * cannot change the linker, but the compiler has written the same facts
 * already, as DWARF:
 *
 *   .debug_line    address -> file and line: the innermost frame's line
 *   .debug_info    the tree of DW_TAG_subprogram and, under them,
 *                  DW_TAG_inlined_subroutine, each with the address ranges
 *                  it covers, its function (DW_AT_abstract_origin) and the
 *                  file and line it was called from (DW_AT_call_file,
 *                  DW_AT_call_line): every outer frame's line
 *   .debug_aranges address -> compilation unit, to start the search
 *
 * So an address's frames are the scopes that contain it, innermost
 * first, keeping only inlined subroutines and the subprogram around them;
 * the innermost takes its line from the line table, each outer one the
 * call line of the inlined frame inside it.  Each CU's scopes are read
 * into an array in one walk of its DIE tree, the first time an address
 * falls in it (struct cuindex): a walk per address cost 0.15 ms each.
 *
 * **When.** Only at write time, never in the SIGPROF handler: reading
 * DWARF allocates, opens files and walks trees, none of which a handler
 * may do (docs/HACKING.md, "Signal handlers").  The handler stores raw
 * PCs; the writer asks once per distinct PC (pprof.c keeps each location
 * once), so the cost is per location, not per sample.
 *
 * **With what: elfutils' libdw.**  Its dwfl layer maps a process's
 * objects to their ELF and DWARF (dwfl_report_elf per loaded object,
 * with its load bias), finds separate debug info (the build-id tree under
 * /usr/lib/debug/.build-id/, .gnu_debuglink), decompresses compressed
 * debug sections, and reads DWARF 2 to 5 (GCC 12 writes DWARF 5 forms:
 * strx, line_strp, rnglists), including split DWARF.  The alternatives,
 * weighed:
 *   - libbacktrace (GCC's) reads lines and inline frames too, but Debian
 *     packages it as no library to link against (it is meant to be copied
 *     into a project's tree, as GCC and Go's cgo tools do), and a state it
 *     creates can never be freed: it is built for one process-wide state
 *     that lives for ever, where a profile's symbolizer is opened and
 *     closed with each write;
 *   - reading .debug_line by hand gives lines but no inline frames (those
 *     live in .debug_info, a tree of abbreviations and forms), and every
 *     DWARF 5 form, compression and split-DWARF case would be ours to
 *     get right -- a second DWARF reader in a runtime that is meant to be
 *     read for its scheduler.
 * libdw is optional (meson option libdw; GORT_HAVE_LIBDW): without it an
 * address gets its function's name from gort's own symbol table
 * (gort_runtime_findfunc, built at start-up from .symtab), and no file
 * or line.  Every mapping says which it got (has_* in pprof.c).
 *
 * **Names.**  pprof's Function has a name and a system_name; gort writes
 * the symbol as the object spells it as the system name, and a clean
 * name beside it: GCC names the copies it makes of a function after it
 * (burn.constprop.0 specialised for a constant argument, .isra.0 with its
 * arguments rewritten, .part.0 for an outlined part, .cold for the
 * unlikely blocks), and all of them are the programmer's one function.
 * DWARF names a clone by its origin anyway; gort_prof_cleanlen does the
 * same for names from a symbol table.
 *
 * Two kinds of code have no symbol of their own, and are named here:
 *   - PLT stubs, the few instructions through which a call to another
 *     object jumps (jmp *GOT(%rip)).  No symbol covers them, so a symbol
 *     table stretches whatever sizeless symbol lies before them (_init)
 *     over them.  The relocation that fills the stub's GOT slot names its
 *     target: the stub is "target@plt", as objdump names it.  Decoded for
 *     x86-64 (.plt, .plt.sec, .plt.got), aarch64 (.plt) and MIPS
 *     (.MIPS.stubs, whose stubs say the function's .dynsym index).
 *   - the vDSO, code the kernel maps into every process (clock_gettime),
 *     with no file on disk.  glibc lists it as "linux-vdso.so.1", a name
 *     no file has, so it is known here by its address (AT_SYSINFO_EHDR)
 *     and its functions are read from its .dynsym in memory.  The mapping
 *     is named "[vdso]", as /proc/self/maps and Go name it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prof/prof.h"

#if GORT_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

/* --- clean names -------------------------------------------------------- */

static const char *const clone_words[] = {
	"constprop", "isra", "part", "cold", "lto_priv", "llvm", "localalias",
};

size_t gort_prof_cleanlen(const char *raw)
{
	/* a symbol version (memcpy@@GLIBC_2.14) is no part of the name */
	const char *at = strchr(raw, '@');
	size_t n = at && at > raw ? (size_t)(at - raw) : strlen(raw);
	for (;;) {
		/* peel ".word" or ".word.N" off the end, if word is a clone's */
		size_t base = n;
		while (base > 0 && raw[base - 1] >= '0' && raw[base - 1] <= '9')
			base--;
		if (base < n) {           /* digits: they must follow a dot */
			if (base == 0 || raw[base - 1] != '.')
				return n;
			base--;
		}
		size_t cut = 0;
		for (size_t i = 0; i < sizeof clone_words / sizeof clone_words[0]; i++) {
			size_t w = strlen(clone_words[i]);
			/* something must stay in front: ".cold" alone is a name */
			if (base > w + 1 && raw[base - w - 1] == '.' &&
			    memcmp(raw + base - w, clone_words[i], w) == 0) {
				cut = base - w - 1;
				break;
			}
		}
		if (!cut)
			return n;
		n = cut;
	}
}

/* --- the state of one write --------------------------------------------- */

struct stub {                      /* a PLT stub, or a vDSO function */
	uintptr_t lo, hi;
	const char *name;
	unsigned char bind;        /* vDSO aliases: prefer the global one */
};

struct object {                    /* one loaded ELF object */
	uintptr_t bias;            /* its load bias (dlpi_addr) */
	const char *path;          /* as loaded; "[vdso]" */
	const char *open;          /* where to read it: /proc/self/exe for the executable */
	uintptr_t image;           /* the vDSO: its ELF header in memory */
	size_t imagelen;
	int vdso;
	int stubs_read;
	struct stub *stubs;        /* sorted by lo */
	size_t nstubs, capstubs;
#if GORT_HAVE_LIBDW
	Dwfl_Module *mod;
	struct curange *cus;       /* its CUs by address, built when first needed */
	size_t ncus, capcus;
	int cus_read;
	struct cuindex *ix;        /* the CUs indexed so far */
	size_t nix, capix;
#endif
};

#if GORT_HAVE_LIBDW
/* The function scopes of one CU, read in one walk of its DIE tree: every
 * DW_TAG_subprogram and DW_TAG_inlined_subroutine, one entry per address
 * range, each knowing the function scope it lies in.  Asking libdw for
 * the scopes around an address (dwarf_getscopes, dwarf_getscopes_die)
 * walks the CU's tree from its start every time: 0.15 ms a location in
 * gort's larger files, 150 ms for a profile of 1000 locations.  With the
 * walk done once per CU, a location costs a scan of one array. */
struct scope {
	Dwarf_Addr lo, hi;        /* CU-relative addresses, [lo, hi) */
	Dwarf_Die die;
	int parent;               /* the enclosing function scope's entry, or -1 */
	int depth;
};

struct cuindex {
	Dwarf_Off off;            /* the CU's DIE offset: its identity */
	struct scope *sc;
	size_t n, cap;
};

struct curange {                   /* a CU's address range: clang writes no .debug_aranges */
	Dwarf_Addr lo, hi, bias;
	Dwarf_Die cu;
};
#endif

/* Strings handed out live in chunks freed at close. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	char b[];
};

/* One write's view of the process.  Owned by the one thread that opened
 * it (pprof.c's symbolizing thread) and never shared: two profiles
 * written at once each have their own, libdw's Dwfl included. */
struct symbolizer {
	struct object *obj;
	size_t nobj, capobj;
	struct symmap *maps;
	size_t *mapobj;            /* maps[i] lies in obj[mapobj[i]] */
	size_t nmaps, capmaps, capmapobj;
	struct chunk *chunks;
	int oom;
#if GORT_HAVE_LIBDW
	Dwfl *dwfl;
#endif
};

static char *keep(struct symbolizer *s, const char *p, size_t n)
{
	struct chunk *c = s->chunks;
	if (!c || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > 16384 ? n + 1 : 16384;
		c = malloc(sizeof *c + cap);
		if (!c) {
			s->oom = 1;
			return NULL;
		}
		c->next = s->chunks;
		c->used = 0;
		c->cap = cap;
		s->chunks = c;
	}
	char *d = c->b + c->used;
	memcpy(d, p, n);
	d[n] = '\0';
	c->used += n + 1;
	return d;
}

/* A path as pprof and editors want it, into buf: absolute (DWARF may give
 * one relative to the compilation directory dir) and without "." and
 * ".." components (meson compiles ../tests/x.c from the build folder).
 * Truncated to cap - 1 bytes. */
void gort_prof_cleanpath(char *buf, size_t cap, const char *dir, const char *file)
{
	if (file[0] != '/' && dir)
		snprintf(buf, cap, "%s/%s", dir, file);
	else
		snprintf(buf, cap, "%s", file);
	/* components in place: out grows as in is read */
	int abs = buf[0] == '/';
	char *start = buf + abs, *out = start, *in = start;
	while (*in) {
		char *end = strchr(in, '/');
		size_t n = end ? (size_t)(end - in) : strlen(in);
		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* nothing */
		} else if (n == 2 && in[0] == '.' && in[1] == '.' && out > start) {
			out--;                  /* back over the last component */
			while (out > start && out[-1] != '/')
				out--;
		} else {
			memmove(out, in, n);
			out += n;
			/* only between components: after the last one, out may be
			 * where in's terminating NUL is, still to be read */
			if (end)
				*out++ = '/';
		}
		in += n + (end ? 1 : 0);
	}
	if (out > start && out[-1] == '/')
		out--;                          /* a trailing slash */
	*out = '\0';
}

static const char *keepstr(struct symbolizer *s, const char *p)
{
	return p ? keep(s, p, strlen(p)) : NULL;
}

/* --- the objects, as dl_iterate_phdr lists them -------------------------- */

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

static int addobject(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct symbolizer *s = arg;
	if (gort_runtime_grow(&s->obj, &s->capobj, s->nobj + 1, sizeof *s->obj)) {
		s->oom = 1;
		return 1;
	}
	struct object *o = &s->obj[s->nobj];
	memset(o, 0, sizeof *o);
	o->bias = info->dlpi_addr;

	/* The vDSO is known by where it is, not by what glibc calls it. */
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	for (int i = 0; vdso && i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && ph->p_offset == 0 && info->dlpi_addr + ph->p_vaddr == vdso) {
			o->vdso = 1;
			o->image = vdso;
			/* The section headers follow the loaded bytes, in the
			 * same page: the kernel maps the whole image, whole
			 * pages of it (elf_open checks every offset). */
			size_t pg = (size_t)sysconf(_SC_PAGESIZE);
			o->imagelen = (ph->p_filesz + pg - 1) / pg * pg;
		}
	}
	char exe[512];
	if (o->vdso) {
		o->path = o->open = "[vdso]";
	} else if (info->dlpi_name && info->dlpi_name[0]) {
		o->path = o->open = keepstr(s, info->dlpi_name);
	} else if (s->nobj == 0) {             /* the executable comes first, nameless */
		ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[k > 0 ? k : 0] = '\0';
		o->path = keepstr(s, exe);
		o->open = "/proc/self/exe";    /* works even once the file is moved */
	} else {
		return 0;                      /* nameless and unknown: skip */
	}
	char id[80];
	buildid(info, id, sizeof id);
	const char *bid = keepstr(s, id);
	if (!o->path || !bid) {
		s->oom = 1;
		return 1;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (gort_runtime_grow(&s->maps, &s->capmaps, s->nmaps + 1, sizeof *s->maps) ||
		    gort_runtime_grow(&s->mapobj, &s->capmapobj, s->nmaps + 1, sizeof *s->mapobj)) {
			s->oom = 1;
			return 1;
		}
		struct symmap *m = &s->maps[s->nmaps];
		m->start = info->dlpi_addr + ph->p_vaddr;
		m->limit = m->start + ph->p_memsz;
		m->offset = ph->p_offset;
		m->file = o->path;
		m->buildid = bid;
		s->mapobj[s->nmaps++] = s->nobj;
	}
	s->nobj++;
	return 0;
}

size_t gort_prof_sym_nmaps(const struct symbolizer *s)
{
	return s->nmaps;
}

const struct symmap *gort_prof_sym_map(const struct symbolizer *s, size_t i)
{
	return &s->maps[i];
}

static size_t findmap(const struct symbolizer *s, uintptr_t pc)
{
	for (size_t i = 0; i < s->nmaps; i++)   /* a handful of objects */
		if (pc >= s->maps[i].start && pc < s->maps[i].limit)
			return i + 1;
	return 0;
}

/* --- stubs: PLT entries and the vDSO's functions, from section headers ---- */

struct elfimg {
	const unsigned char *b;
	size_t len;
	const ElfW(Ehdr) *eh;
	const ElfW(Shdr) *sh;
	const char *shstr;
	size_t shstrlen;
};

static int elf_open(struct elfimg *e, const void *b, size_t len)
{
	e->b = b;
	e->len = len;
	e->eh = b;
	const ElfW(Ehdr) *eh = e->eh;
	if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
	    eh->e_shoff == 0 || eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff > len ||
	    (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len - eh->e_shoff || eh->e_shstrndx >= eh->e_shnum)
		return 0;
	e->sh = (const void *)(e->b + eh->e_shoff);
	const ElfW(Shdr) *ss = &e->sh[eh->e_shstrndx];
	if (ss->sh_offset > len || ss->sh_size > len - ss->sh_offset || ss->sh_size == 0)
		return 0;
	e->shstr = (const char *)e->b + ss->sh_offset;
	e->shstrlen = ss->sh_size;
	return 1;
}

/* A section's bytes, if they lie in the image (SHT_NOBITS never do). */
static const void *elf_data(const struct elfimg *e, const ElfW(Shdr) *sh)
{
	if (sh->sh_type == SHT_NOBITS || sh->sh_offset > e->len || sh->sh_size > e->len - sh->sh_offset)
		return NULL;
	return e->b + sh->sh_offset;
}

static const ElfW(Shdr) *elf_section(const struct elfimg *e, const char *name)
{
	for (size_t i = 0; i < e->eh->e_shnum; i++) {
		size_t k = e->sh[i].sh_name;
		if (k < e->shstrlen && strncmp(e->shstr + k, name, e->shstrlen - k) == 0 &&
		    elf_data(e, &e->sh[i]))
			return &e->sh[i];
	}
	return NULL;
}

/* The dynamic symbol table and its strings, checked. */
struct dynsyms {
	const ElfW(Sym) *sym;
	size_t n;
	const char *str;
	size_t strlen;
};

static int elf_dynsyms(const struct elfimg *e, struct dynsyms *d)
{
	const ElfW(Shdr) *ds = elf_section(e, ".dynsym");
	if (!ds || ds->sh_link >= e->eh->e_shnum || !elf_data(e, &e->sh[ds->sh_link]))
		return 0;
	d->sym = elf_data(e, ds);
	d->n = ds->sh_size / sizeof *d->sym;
	d->str = elf_data(e, &e->sh[ds->sh_link]);
	d->strlen = e->sh[ds->sh_link].sh_size;
	return d->strlen > 0;
}

static const char *dynname(const struct dynsyms *d, size_t i)
{
	if (i >= d->n || d->sym[i].st_name >= d->strlen)
		return NULL;
	const char *p = d->str + d->sym[i].st_name;
	return memchr(p, '\0', d->strlen - d->sym[i].st_name) && *p ? p : NULL;
}

static void addstub(struct symbolizer *s, struct object *o, uintptr_t lo, uintptr_t hi,
	const char *name, size_t n, const char *suffix, unsigned char bind)
{
	char buf[256];
	if (n + strlen(suffix) >= sizeof buf)
		return;
	memcpy(buf, name, n);
	strcpy(buf + n, suffix);
	const char *k = keepstr(s, buf);
	if (!k || gort_runtime_grow(&o->stubs, &o->capstubs, o->nstubs + 1, sizeof *o->stubs)) {
		s->oom = 1;
		return;
	}
	o->stubs[o->nstubs++] = (struct stub){ lo, hi, k, bind };
}

#if defined(__x86_64__) || defined(__aarch64__)
/* The symbol whose GOT slot is at got, from the relocations that fill it:
 * .rela.plt's JUMP_SLOTs for lazily bound calls, .rela.dyn's GLOB_DATs for
 * .plt.got's eagerly bound ones. */
static const char *got_owner(const struct elfimg *e, const struct dynsyms *d, uintptr_t got)
{
	static const char *const secs[] = { ".rela.plt", ".rela.dyn" };
	for (size_t k = 0; k < 2; k++) {
		const ElfW(Shdr) *rs = elf_section(e, secs[k]);
		if (!rs || rs->sh_type != SHT_RELA)
			continue;
		const ElfW(Rela) *r = elf_data(e, rs);
		for (size_t i = 0; i < rs->sh_size / sizeof *r; i++)
			if (r[i].r_offset == got)
				return dynname(d, ELF64_R_SYM(r[i].r_info));
	}
	return NULL;
}

#endif

#if defined(__x86_64__)
static void read_plt(struct symbolizer *s, struct object *o, const struct elfimg *e)
{
	struct dynsyms d;
	if (!elf_dynsyms(e, &d))
		return;
	static const char *const secs[] = { ".plt", ".plt.sec", ".plt.got" };
	for (size_t k = 0; k < 3; k++) {
		const ElfW(Shdr) *ps = elf_section(e, secs[k]);
		if (!ps)
			continue;
		const unsigned char *b = elf_data(e, ps);
		size_t ent = ps->sh_entsize ? ps->sh_entsize : 16;
		for (size_t off = 0; off + ent <= ps->sh_size; off += ent) {
			/* jmp *disp32(%rip) is ff 25, after an endbr64 and a bnd
			 * prefix in the IBT layout; an entry with none (the first,
			 * which calls the resolver; .plt's entries when .plt.sec
			 * holds the jumps) names nothing. */
			for (size_t i = 0; i + 6 <= ent; i++) {
				if (b[off + i] != 0xff || b[off + i + 1] != 0x25)
					continue;
				int32_t disp;
				memcpy(&disp, b + off + i + 2, 4);
				uintptr_t got = ps->sh_addr + off + i + 6 + (intptr_t)disp;
				const char *name = got_owner(e, &d, got);
				if (name)
					addstub(s, o, o->bias + ps->sh_addr + off, o->bias + ps->sh_addr + off + ent,
						name, strlen(name), "@plt", STB_GLOBAL);
				break;
			}
		}
	}
}
#elif defined(__aarch64__)
/* aarch64's stubs are four instructions, 16 bytes, after a 32-byte
 * header that calls the resolver:
 *     adrp x16, GOT slot's page;  ldr x17, [x16, #slot's offset]
 *     add  x16, x16, #offset;     br  x17
 * so the slot is the adrp's page plus the ldr's scaled offset. */
static void read_plt(struct symbolizer *s, struct object *o, const struct elfimg *e)
{
	struct dynsyms d;
	const ElfW(Shdr) *ps = elf_section(e, ".plt");
	if (!ps || !elf_dynsyms(e, &d))
		return;
	const unsigned char *b = elf_data(e, ps);
	for (size_t off = 32; off + 16 <= ps->sh_size; off += 16) {
		uint32_t adrp, ldr;
		memcpy(&adrp, b + off, 4);
		memcpy(&ldr, b + off + 4, 4);
		if ((adrp & 0x9f00001fu) != 0x90000010u ||      /* adrp x16 */
		    (ldr & 0xffc003ffu) != 0xf9400211u)         /* ldr x17, [x16, #imm] */
			continue;
		int64_t page = (int64_t)((((adrp >> 5) & 0x7ffff) << 2) | ((adrp >> 29) & 3));
		if (page & ((int64_t)1 << 20))
			page -= (int64_t)1 << 21;               /* 21 bits, signed */
		uintptr_t pc = ps->sh_addr + off;
		uintptr_t got = (pc & ~(uintptr_t)0xfff) + (uintptr_t)(page << 12) +
			((ldr >> 10) & 0xfff) * 8;
		const char *name = got_owner(e, &d, got);
		if (name)
			addstub(s, o, o->bias + pc, o->bias + pc + 16, name, strlen(name), "@plt", STB_GLOBAL);
	}
}
#elif defined(__mips__)
/* MIPS's lazy-binding stubs (.MIPS.stubs), 16 bytes each, call the
 * resolver with the function's .dynsym index in $t8:
 *     lw t9, GOT[0](gp);  move t7, ra;  jalr t9;  li t8, index
 * (ori t8, zero, index, or a lui before it, for large indexes).  Once a
 * function is bound its GOT entry points at it, so a stub runs once per
 * function: few samples land in one, but they are named. */
static void read_plt(struct symbolizer *s, struct object *o, const struct elfimg *e)
{
	struct dynsyms d;
	const ElfW(Shdr) *ps = elf_section(e, ".MIPS.stubs");
	if (!ps || !elf_dynsyms(e, &d))
		return;
	const unsigned char *b = elf_data(e, ps);
	for (size_t off = 0; off + 16 <= ps->sh_size; off += 16) {
		uint32_t jalr, li;
		memcpy(&jalr, b + off + 8, 4);
		memcpy(&li, b + off + 12, 4);
		if (jalr != 0x0320f809u)                        /* jalr t9 */
			continue;
		if ((li & 0xffff0000u) != 0x24180000u && (li & 0xffff0000u) != 0x34180000u)
			continue;                               /* li/ori t8, zero, index */
		const char *name = dynname(&d, li & 0xffff);
		if (name)
			addstub(s, o, o->bias + ps->sh_addr + off, o->bias + ps->sh_addr + off + 16,
				name, strlen(name), "@plt", STB_GLOBAL);
	}
}
#else
static void read_plt(struct symbolizer *s, struct object *o, const struct elfimg *e)
{
	(void)s, (void)o, (void)e;   /* a target whose stubs are not decoded */
}
#endif

static void read_vdso(struct symbolizer *s, struct object *o, const struct elfimg *e)
{
	struct dynsyms d;
	if (!elf_dynsyms(e, &d))
		return;
	for (size_t i = 0; i < d.n; i++) {
		const ElfW(Sym) *y = &d.sym[i];
		const char *name = dynname(&d, i);
		if (name && ELF64_ST_TYPE(y->st_info) == STT_FUNC && y->st_shndx != SHN_UNDEF && y->st_value)
			addstub(s, o, o->bias + y->st_value, o->bias + y->st_value + (y->st_size ? y->st_size : 1),
				name, strlen(name), "", ELF64_ST_BIND(y->st_info));
	}
}

static int cmp_stub(const void *a, const void *b)
{
	const struct stub *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	/* aliases: the global name first (__vdso_clock_gettime, not the weak
	 * clock_gettime), then by spelling, so the choice is stable */
	if ((x->bind == STB_GLOBAL) != (y->bind == STB_GLOBAL))
		return x->bind == STB_GLOBAL ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void read_stubs(struct symbolizer *s, struct object *o)
{
	o->stubs_read = 1;
	struct elfimg e;
	if (o->vdso) {
		if (elf_open(&e, (const void *)o->image, o->imagelen))
			read_vdso(s, o, &e);
	} else {
		int fd = open(o->open, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0)
			return;
		if (fstat(fd, &st) == 0 && st.st_size > 0) {
			void *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (img != MAP_FAILED) {
				if (elf_open(&e, img, (size_t)st.st_size))
					read_plt(s, o, &e);
				munmap(img, (size_t)st.st_size);
			}
		}
		close(fd);
	}
	qsort(o->stubs, o->nstubs, sizeof *o->stubs, cmp_stub);
}

static const struct stub *findstub(const struct object *o, uintptr_t pc)
{
	size_t lo = 0, hi = o->nstubs;
	while (lo < hi) {                /* the first stub starting after pc */
		size_t mid = lo + (hi - lo) / 2;
		if (o->stubs[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* step back over aliases to the preferred one */
	size_t i = lo - 1;
	while (i > 0 && o->stubs[i - 1].lo == o->stubs[i].lo)
		i--;
	return pc < o->stubs[i].hi ? &o->stubs[i] : NULL;
}

/* --- DWARF, through libdw ------------------------------------------------- */

#if GORT_HAVE_LIBDW
/* Separate debug info, found without the network: debuginfod (which the
 * standard finder asks when DEBUGINFOD_URLS is set) has no place in a
 * program stopping its profiler.  First by build id, as Debian's -dbgsym
 * packages install it, then by .gnu_debuglink beside the object. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
	const char *file_name, const char *debuglink, GElf_Word crc, char **debuginfo_file_name)
{
	(void)userdata, (void)base, (void)file_name, (void)crc;
	char path[1024];
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	if (n > 1) {
		size_t k = (size_t)snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/", bits[0]);
		for (int i = 1; i < n && k + 3 < sizeof path; i++)
			k += (size_t)snprintf(path + k, sizeof path - k, "%02x", bits[i]);
		snprintf(path + k, sizeof path - k, ".debug");
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			*debuginfo_file_name = strdup(path);
			return fd;
		}
	}
	if (!debuglink || modname[0] != '/')
		return -1;
	const char *slash = strrchr(modname, '/');
	int dir = (int)(slash - modname);
	const char *const forms[] = { "%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, forms[i], dir, modname, debuglink);
		if (strcmp(path, modname) == 0)
			continue;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			*debuginfo_file_name = strdup(path);
			return fd;
		}
	}
	return -1;
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,    /* unused: every module is reported with its file */
	.find_debuginfo = find_debuginfo,
};

static void dwfl_open(struct symbolizer *s)
{
	s->dwfl = dwfl_begin(&callbacks);
	if (!s->dwfl)
		return;
	dwfl_report_begin(s->dwfl);
	for (size_t i = 0; i < s->nobj; i++) {
		struct object *o = &s->obj[i];
		if (o->vdso)
			continue;             /* no file; its stubs are its names */
		/* ET_DYN placed at its load bias; an ET_EXEC is where it says */
		o->mod = dwfl_report_elf(s->dwfl, o->path, o->open, -1, o->bias, false);
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
}

static const char *cleanpath(struct symbolizer *s, const char *dir, const char *file)
{
	if (!file)
		return NULL;
	char buf[1024];
	gort_prof_cleanpath(buf, sizeof buf, dir, file);
	return keep(s, buf, strlen(buf));
}

static const char *compdir(Dwarf_Die *cu)
{
	Dwarf_Attribute a;
	return dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a));
}

static int addscope(struct symbolizer *s, struct cuindex *ix, Dwarf_Die *d, int parent, int depth)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	int first = -1;
	while ((off = dwarf_ranges(d, off, &base, &lo, &hi)) > 0) {
		if (gort_runtime_grow(&ix->sc, &ix->cap, ix->n + 1, sizeof *ix->sc)) {
			s->oom = 1;
			return parent;
		}
		if (first < 0)
			first = (int)ix->n;
		ix->sc[ix->n++] = (struct scope){ lo, hi, *d, parent, depth };
	}
	/* no ranges: an abstract definition, the pattern of inlined copies */
	return first;
}

static void walk(struct symbolizer *s, struct cuindex *ix, Dwarf_Die *parentdie, int parent, int depth)
{
	Dwarf_Die d;
	if (dwarf_child(parentdie, &d) != 0)
		return;
	do {
		int tag = dwarf_tag(&d), p = parent;
		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
			p = addscope(s, ix, &d, parent, depth);
			if (p < 0)
				p = parent;
			/* fall through */
		case DW_TAG_lexical_block:
		case DW_TAG_namespace:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_module:
			if (dwarf_haschildren(&d))
				walk(s, ix, &d, p, depth + 1);
			break;
		default:
			break;               /* types, variables: no code inside */
		}
	} while (!s->oom && dwarf_siblingof(&d, &d) == 0);
}

static struct cuindex *cuindex(struct symbolizer *s, struct object *o, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	for (size_t i = 0; i < o->nix; i++)     /* the CUs a profile touches: tens */
		if (o->ix[i].off == off)
			return &o->ix[i];
	if (gort_runtime_grow(&o->ix, &o->capix, o->nix + 1, sizeof *o->ix)) {
		s->oom = 1;
		return NULL;
	}
	struct cuindex *ix = &o->ix[o->nix++];
	*ix = (struct cuindex){ .off = off };
	walk(s, ix, cu, -1, 0);
	return ix;
}

static int cmp_curange(const void *a, const void *b)
{
	const struct curange *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The CU holding addr, where .debug_aranges does not say: from the CUs'
 * own ranges, read once per object and sorted. */
static Dwarf_Die *findcu(struct symbolizer *s, struct object *o, uintptr_t addr, Dwarf_Addr *bias)
{
	if (!o->cus_read) {
		o->cus_read = 1;
		Dwarf_Addr b;
		for (Dwarf_Die *c = NULL; (c = dwfl_module_nextcu(o->mod, c, &b));) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;
			while ((off = dwarf_ranges(c, off, &base, &lo, &hi)) > 0) {
				if (gort_runtime_grow(&o->cus, &o->capcus, o->ncus + 1, sizeof *o->cus)) {
					s->oom = 1;
					return NULL;
				}
				o->cus[o->ncus++] = (struct curange){ lo + b, hi + b, b, *c };
			}
		}
		qsort(o->cus, o->ncus, sizeof *o->cus, cmp_curange);
	}
	size_t lo = 0, hi = o->ncus;
	while (lo < hi) {                /* the first range starting after addr */
		size_t mid = lo + (hi - lo) / 2;
		if (o->cus[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= o->cus[lo - 1].hi)
		return NULL;
	*bias = o->cus[lo - 1].bias;
	return &o->cus[lo - 1].cu;
}

/* The frames of addr from DWARF, innermost first; 0 if no CU covers it. */
static int dwarf_frames(struct symbolizer *s, struct object *o, uintptr_t addr, const char *sym,
	struct symframe *out, int max)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(o->mod, addr, &bias);
	/* That asks .debug_aranges, which clang does not write (and libdw
	 * before 0.189 does not make up from the CUs). */
	if (!cu)
		cu = findcu(s, o, addr, &bias);
	if (!cu)
		return 0;
	const char *dir = compdir(cu);
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;

	const char *file = NULL;
	int line = 0;
	Dwarf_Addr pc = addr - bias;
	Dwarf_Line *l = dwarf_getsrc_die(cu, pc);
	if (l) {
		file = dwarf_linesrc(l, NULL, NULL);
		dwarf_lineno(l, &line);
	}
	file = cleanpath(s, dir, file);

	/* The innermost function scope around pc, then outwards through the
	 * scopes each lies in: an inlined subroutine's parent is where it was
	 * inlined (libdw's dwarf_getscopes would go on from an inlined
	 * subroutine into its abstract origin's scopes instead). */
	struct cuindex *ix = cuindex(s, o, cu);
	int cur = -1;
	for (size_t i = 0; ix && i < ix->n; i++)
		if (pc >= ix->sc[i].lo && pc < ix->sc[i].hi && (cur < 0 || ix->sc[i].depth > ix->sc[cur].depth))
			cur = (int)i;
	int n = 0;
	while (cur >= 0 && n < max) {
		Dwarf_Die *d = &ix->sc[cur].die;
		int tag = dwarf_tag(d);
		/* out of room: keep the physical function last, whatever is lost */
		if (tag != DW_TAG_inlined_subroutine || n < max - 1) {
			struct symframe *f = &out[n++];
			int decl = 0;
			dwarf_decl_line(d, &decl);
			f->name = keepstr(s, dwarf_diename(d));
			f->sysname = f->name;
			f->file = file;
			f->line = line;
			/* pprof gives a Line no file of its own, only its
			 * function's: where DWARF has no declaration
			 * (assembly), the code's file */
			f->decl_file = cleanpath(s, dir, dwarf_decl_file(d));
			if (!f->decl_file)
				f->decl_file = file;
			f->start_line = decl;
			if (tag != DW_TAG_inlined_subroutine) {
				/* the physical function: its symbol is the
				 * system's name, and names it when DWARF does not */
				if (sym)
					f->sysname = keepstr(s, sym);
				if (!f->name && sym)
					f->name = keep(s, sym, gort_prof_cleanlen(sym));
				break;
			}
		}
		/* the next frame out is where this one was inlined */
		Dwarf_Attribute a;
		Dwarf_Word cf = 0, cl = 0;
		dwarf_formudata(dwarf_attr(d, DW_AT_call_file, &a), &cf);
		dwarf_formudata(dwarf_attr(d, DW_AT_call_line, &a), &cl);
		file = files && cf < nfiles ? cleanpath(s, dir, dwarf_filesrc(files, cf, NULL, NULL)) : NULL;
		line = (int)cl;
		cur = ix->sc[cur].parent;
	}
	/* A CU with lines but no function around pc: clang's assembler
	 * writes DW_TAG_label, not DW_TAG_subprogram, for a .S file's
	 * functions.  The symbol names it, the line table places it. */
	if (n == 0 && sym && file && line > 0) {
		out[0] = (struct symframe){ .name = keep(s, sym, gort_prof_cleanlen(sym)),
			.sysname = keepstr(s, sym), .file = file, .line = line, .decl_file = file };
		n = 1;
	}
	return n;
}
#endif /* GORT_HAVE_LIBDW */

/* --- the interface ---------------------------------------------------------- */

struct symbolizer *gort_prof_sym_open(void)
{
	struct symbolizer *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	dl_iterate_phdr(addobject, s);
#if GORT_HAVE_LIBDW
	if (!s->oom)
		dwfl_open(s);
#endif
	if (s->oom) {
		gort_prof_sym_close(s);
		return NULL;
	}
	return s;
}

void gort_prof_sym_close(struct symbolizer *s)
{
	if (!s)
		return;
#if GORT_HAVE_LIBDW
	if (s->dwfl)
		dwfl_end(s->dwfl);
#endif
	for (size_t i = 0; i < s->nobj; i++) {
		free(s->obj[i].stubs);
#if GORT_HAVE_LIBDW
		for (size_t k = 0; k < s->obj[i].nix; k++)
			free(s->obj[i].ix[k].sc);
		free(s->obj[i].ix);
		free(s->obj[i].cus);
#endif
	}
	free(s->obj);
	free(s->maps);
	free(s->mapobj);
	for (struct chunk *c = s->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(s);
}

int gort_prof_sym_lookup(struct symbolizer *s, uintptr_t addr, struct symframe *out, int max,
	size_t *map, unsigned *flags)
{
	*flags = 0;
	*map = findmap(s, addr);
	if (max < 1)
		return 0;
	memset(out, 0, sizeof *out);
	struct object *o = *map ? &s->obj[s->mapobj[*map - 1]] : NULL;
	if (o && !o->stubs_read)
		read_stubs(s, o);
	const struct stub *st = o ? findstub(o, addr) : NULL;
	if (st) {                         /* no source behind a stub */
		out[0].name = out[0].sysname = st->name;
		*flags = SYM_FUNCTION;
		return 1;
	}
	const char *sym = NULL;
#if GORT_HAVE_LIBDW
	if (o && o->mod) {
		GElf_Off off;
		GElf_Sym es;
		sym = dwfl_module_addrinfo(o->mod, addr, &off, &es, NULL, NULL, NULL);
		Dwarf_Addr bias;
		int n = dwfl_module_getdwarf(o->mod, &bias) ? dwarf_frames(s, o, addr, sym, out, max) : 0;
		if (n > 0 && !s->oom) {
			unsigned f = SYM_FUNCTION | SYM_FILE | SYM_LINE | SYM_INLINE;
			for (int i = 0; i < n; i++) {
				if (!out[i].name)
					f &= ~(unsigned)SYM_FUNCTION;
				if (!out[i].file)
					f &= ~(unsigned)SYM_FILE;
				if (out[i].line <= 0)
					f &= ~(unsigned)SYM_LINE;
			}
			*flags = f;
			return n;
		}
	}
#endif
	if (!sym) {
		const struct gort_func *f = gort_runtime_findfunc(addr);
		sym = f ? f->name : NULL;
	}
	if (!sym)
		return 0;
	out[0].sysname = keepstr(s, sym);
	out[0].name = keep(s, sym, gort_prof_cleanlen(sym));
	if (s->oom)
		return 0;
	*flags = SYM_FUNCTION;
	return 1;
}
