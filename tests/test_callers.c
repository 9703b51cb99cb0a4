/*
 * test_callers.c -- suite prof: a sample taken inside libc keeps its
 * caller and its goroutine (issue 13).  Structure, not timing.
 *
 * A goroutine spends a known amount of its thread's CPU time -- until
 * CLOCK_THREAD_CPUTIME_ID has advanced by BURN_MS, not a wall time, so a
 * loaded machine only makes it take longer -- in one kind of libc call,
 * under the profiler at a high rate:
 *
 *   qsort    caller_qsort: qsort with a comparator of ours that burns, so
 *            that most samples land in our code called *from* libc, and
 *            the rest in libc's sort itself
 *   malloc   caller_malloc: malloc and free of 16 B to 4 KiB
 *   memcpy   caller_memcpy: memcpy of 256 KiB buffers
 *   self     caller_self: a loop of our own, no libc -- the control,
 *            which passes today: the checks accept a stack that is right
 *
 * each called by the goroutine's start function root_<kind>.  Then, from
 * the profile's own table (gort_prof_last), every sample of that goroutine
 * (its label kind=<kind>) taken in the burn -- its leaf anywhere but in
 * gort's own code, in root_<kind> itself or in the driver between them
 * (burn, which sets the label just before and clears it just after the
 * call), i.e. in caller_<kind>, in
 * libc, in our comparator, in the vDSO of the clock checks -- must have
 * caller_<kind> AND root_<kind> under it.  Those whose leaf lies in libc
 * are counted apart and must be there (but in the control, and unless a
 * sanitizer intercepts the calls).
 *
 * Excused, up to 2% of those samples all told: a sample that misses either
 * function and whose leaf is
 *   - in a PLT (.plt, .plt.sec, .plt.got of the object holding it): the
 *     linker's stubs, whose unwind rule (where there is one) is a DWARF
 *     expression over the PC's low bits, that an unwinder need not
 *     evaluate; or
 *   - in a shared object (libc), at a PC no FDE covers (_Unwind_Find_FDE
 *     finds none): a function assembled without CFI, which no unwinder
 *     can step through without guessing.  Not in the test's own code,
 *     which is built with gort's flags, as a user's is: on MIPS gcc
 *     writes no CFI for C at all, and gort's unwinder reads prologues.
 * Any other sample without its caller and its root fails the test.
 *
 * Debian's libc is built without frame pointers: a walk by frame
 * pointers alone (GORTDEBUG=cfi=0) fails here, a sample in libc showing a
 * frame or two of libc and then stopping, or skipping the caller.  It
 * passes by the unwind tables runtime/cfi.c compiles.  The failure
 * message gives the counts and a few of the stacks.  Under qemu
 * (GORT_TEST_EMULATED) the burn is divided by SCALE.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "gort.h"
#include "prof/prof.h"
#include "testutil.h"

#if defined(__has_attribute)
#if __has_attribute(noipa)
#define NAMED __attribute__((noipa))   /* no clone, no inlining: one name */
#endif
#endif
#ifndef NAMED
#define NAMED __attribute__((noinline))
#endif

#define BURN_MS 400
#define EXCUSED_PCT 2

static volatile uint64_t sink;

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the burners: each checks the clock seldom, so that the clock's own
 * share (libc and the vDSO too, but not the call under test) stays small */

NAMED int cmp_burn(const void *a, const void *b)
{
	uint64_t x = (uint64_t)*(const int *)a;
	for (int i = 0; i < 6; i++)   /* about as long as libc's own part of a compare */
		x = x * 6364136223846793005ull + (uint64_t)i;
	sink = x;
	int p = *(const int *)a, q = *(const int *)b;
	return (p > q) - (p < q);
}

NAMED void caller_qsort(int64_t ns)
{
	static int v[512];   /* one goroutine sorts */
	uint32_t x = 1;
	int64_t t0 = thread_cpu_ns();
	do {
		for (int k = 0; k < 512; k++)
			v[k] = (int)(x = x * 1664525u + 1013904223u);
		qsort(v, 512, sizeof v[0], cmp_burn);
	} while (thread_cpu_ns() - t0 < ns);
}

NAMED void caller_malloc(int64_t ns)
{
	void *slot[64] = { 0 };
	uint32_t x = 2;
	int64_t t0 = thread_cpu_ns();
	do {
		for (int i = 0; i < 4096; i++) {
			x = x * 1664525u + 1013904223u;
			unsigned k = (x >> 8) % 64;
			free(slot[k]);
			slot[k] = malloc(16 + (x >> 20) % 4080);
			*(volatile char *)slot[k] = (char)i;
		}
	} while (thread_cpu_ns() - t0 < ns);
	for (int k = 0; k < 64; k++)
		free(slot[k]);
}

/* Called through a pointer: gcc for MIPS turns a memcpy of a known size
 * into a loop of its own. */
static void *(*volatile copy)(void *, const void *, size_t) = memcpy;

NAMED void caller_memcpy(int64_t ns)
{
	static char a[256 << 10], b[256 << 10];   /* one goroutine copies */
	int64_t t0 = thread_cpu_ns();
	long i = 0;
	do {
		for (int j = 0; j < 16; j++, i++) {
			a[i % sizeof a] = (char)i;
			copy(i % 2 ? a : b, i % 2 ? b : a, sizeof a);
		}
	} while (thread_cpu_ns() - t0 < ns);
	sink = (uint64_t)a[1] + (uint64_t)b[2];
}

/* Its clock checks are rarer still: a sample in the clock (the vDSO)
 * loses the caller today, and the control must pass. */
NAMED void caller_self(int64_t ns)
{
	uint64_t x = 3;
	int64_t t0 = thread_cpu_ns();
	do {
		for (int i = 0; i < 5000000; i++)
			x = x * 6364136223846793005ull + (uint64_t)i;
	} while (thread_cpu_ns() - t0 < ns);
	sink = x;
}

enum { KQSORT, KMALLOC, KMEMCPY, KSELF, NKINDS };

struct kind {
	const char *name;
	void (*caller)(int64_t);
	void (*root)(void *);
	int libc;   /* its burn is mostly in libc */
};

static gort_waitgroup wg;

/* The burn runs with preemption off, so that it stays on one thread
 * and that thread's clock is its own. */
static void burn(const struct kind *k)
{
	gort_labels_set(gort_labels_with(NULL, "kind", k->name));
	gort_preempt_disable();
	k->caller((int64_t)BURN_MS * 1000000 / SCALE);
	gort_preempt_enable();
	gort_labels_set(NULL);
	gort_waitgroup_done(&wg);
}

/* The barrier keeps the call from being a tail call, which would take
 * the root's frame off the stack. */
#define ROOT(kind) NAMED void root_##kind(void *arg) \
	{ \
		burn(arg); \
		__asm__ __volatile__("" ::: "memory"); \
	}
ROOT(qsort)
ROOT(malloc)
ROOT(memcpy)
ROOT(self)

static const struct kind kinds[NKINDS] = {
	{ "qsort", caller_qsort, root_qsort, 1 },
	{ "malloc", caller_malloc, root_malloc, 1 },
	{ "memcpy", caller_memcpy, root_memcpy, 1 },
	{ "self", caller_self, root_self, 0 },
};

/* --- what the excuses need: PLTs and FDEs ---------------------------------- */

/* _Unwind_Find_FDE, libgcc's, which every C++ throw uses: the FDE that
 * covers pc in any loaded object (through its PT_GNU_EH_FRAME), or NULL.
 * It is in no installed header. */
struct dwarf_eh_bases {
	void *tbase, *dbase, *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

static int has_fde(uintptr_t pc)
{
	struct dwarf_eh_bases b;
	return _Unwind_Find_FDE((void *)pc, &b) != NULL;
}

struct object {
	uintptr_t pc, bias;
	const char *name;   /* "" for the executable */
	int found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct object *o = arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && o->pc >= lo && o->pc - lo < ph->p_memsz) {
			o->bias = info->dlpi_addr;
			o->name = info->dlpi_name;
			o->found = 1;
			return 1;
		}
	}
	return 0;
}

static int in_program(uintptr_t pc)
{
	struct object o = { .pc = pc };
	dl_iterate_phdr(find_object, &o);
	return o.found && (!o.name || !*o.name);
}

/* Does pc lie in a PLT section of the object that holds it?  Read from
 * the object's file: the PLTs are sections, which no program header
 * names. */
static int in_plt(uintptr_t pc)
{
	struct object o = { .pc = pc };
	dl_iterate_phdr(find_object, &o);
	if (!o.found)
		return 0;
	const char *path = o.name && *o.name ? o.name : "/proc/self/exe";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;   /* the vDSO has no file, and no PLT */
	struct stat st;
	int hit = 0;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(ElfW(Ehdr))) {
		const unsigned char *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (img != MAP_FAILED) {
			const ElfW(Ehdr) *eh = (const void *)img;
			size_t len = (size_t)st.st_size;
			if (eh->e_shoff && eh->e_shentsize == sizeof(ElfW(Shdr)) && eh->e_shstrndx < eh->e_shnum &&
			    eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) <= len) {
				const ElfW(Shdr) *sh = (const void *)(img + eh->e_shoff);
				const ElfW(Shdr) *strs = &sh[eh->e_shstrndx];
				for (int i = 0; i < eh->e_shnum && strs->sh_offset < len; i++) {
					if (sh[i].sh_name >= strs->sh_size || strs->sh_offset + sh[i].sh_name >= len)
						continue;
					const char *name = (const char *)img + strs->sh_offset + sh[i].sh_name;
					uintptr_t off = pc - o.bias;
					if (strncmp(name, ".plt", 4) == 0 && off >= sh[i].sh_addr &&
					    off - sh[i].sh_addr < sh[i].sh_size)
						hit = 1;
				}
			}
			munmap((void *)img, len);
		}
	}
	close(fd);
	return hit;
}

/* --- reading the profile ---------------------------------------------------- */

static int in_fn(uintptr_t pc, void (*fn)(void))
{
	struct gort_funcinfo f;
	return gort_funcinfo_for_pc(pc, &f) && f.entry == (uintptr_t)fn;
}

/* The leaf is in gort itself (the goroutine's labels, its start and
 * end): not the burn. */
static int in_gort(uintptr_t pc)
{
	struct gort_funcinfo f;
	return gort_funcinfo_for_pc(pc, &f) && *f.package;
}

static int in_libc(uintptr_t pc)
{
	Dl_info di;
	return dladdr((void *)pc, &di) && di.dli_fname && strstr(di.dli_fname, "/libc.so");
}

/* Append one frame, "name+0xoff" or "object+0xoff", to buf. */
static void describe(char *buf, size_t cap, uintptr_t pc)
{
	struct gort_funcinfo f;
	Dl_info di;
	size_t n = strlen(buf);
	if (n + 1 >= cap)
		return;
	if (gort_funcinfo_for_pc(pc, &f))
		snprintf(buf + n, cap - n, " %s+%#lx", f.name, (unsigned long)(pc - f.entry));
	else if (dladdr((void *)pc, &di) && di.dli_fname)
		snprintf(buf + n, cap - n, " %s+%#lx", strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 :
			di.dli_fname, (unsigned long)(pc - (uintptr_t)di.dli_fbase));
	else
		snprintf(buf + n, cap - n, " %#lx", (unsigned long)pc);
}

struct tally {
	uint64_t burn, libc, nocaller, noroot, excused, failed;
	char examples[2048];
	int nexamples;
};

static void check_entry(const struct kind *k, const struct profentry *e, struct tally *t)
{
	const char *v = gort_labels_value(e->tag, "kind");
	if (!v || strcmp(v, k->name) != 0 || e->nstk < 1)
		return;
	uintptr_t leaf = e->stk[0];
	/* the driver, burn, runs a moment before and after the caller with
	 * the label set: a sample there is not in the burn either */
	if (in_gort(leaf) || in_fn(leaf, (void (*)(void))k->root) || in_fn(leaf, (void (*)(void))burn))
		return;
	t->burn += e->count;
	if (in_libc(leaf))
		t->libc += e->count;
	int caller = in_fn(leaf, (void (*)(void))k->caller), root = 0;
	for (int i = 1; i < e->nstk; i++) {   /* above the leaf: return addresses */
		caller |= in_fn(e->stk[i] - 1, (void (*)(void))k->caller);
		root |= in_fn(e->stk[i] - 1, (void (*)(void))k->root);
	}
	if (caller && root)
		return;
	t->nocaller += caller ? 0 : e->count;
	t->noroot += root ? 0 : e->count;
	if (in_plt(leaf) || (!in_program(leaf) && !has_fde(leaf))) {
		t->excused += e->count;
		return;
	}
	t->failed += e->count;
	if (t->nexamples++ < 6) {
		char line[512];
		snprintf(line, sizeof line, "  %llu x", (unsigned long long)e->count);
		for (int i = 0; i < e->nstk && i < 8; i++)
			describe(line, sizeof line, i ? e->stk[i] - 1 : e->stk[i]);
		size_t n = strlen(t->examples);
		snprintf(t->examples + n, sizeof t->examples - n, "%s\n", line);
	}
}

static int kind_main(void *arg)
{
	const struct kind *k = arg;
	ck_assert_int_eq(gort_prof_start("/dev/null", 10000), 0);   /* the kernel's tick caps it */
	gort_waitgroup_add(&wg, 1);
	gort_go(k->root, (void *)k);
	gort_waitgroup_wait(&wg);
	ck_assert_int_eq(gort_prof_stop(), 0);

	struct tally t = { 0 };
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next)
			check_entry(k, e, &t);
	printf("callers %s: %llu samples in the burn, %llu with a leaf in libc; %llu without caller_%s, "
		"%llu without root_%s; %llu excused (PLT, no FDE), %llu failed\n%s",
		k->name, (unsigned long long)t.burn, (unsigned long long)t.libc, (unsigned long long)t.nocaller,
		k->name, (unsigned long long)t.noroot, k->name, (unsigned long long)t.excused,
		(unsigned long long)t.failed, t.examples);
	fflush(stdout);

	/* At 250 signals per CPU-second (the kernel's tick), the burn gives
	 * about 100 samples (40 on a kernel ticking at 100 Hz), a tenth of
	 * that under qemu -- where a third of qsort's ten may land in libc,
	 * or none: only natively must some. */
	uint64_t least = 20 / (uint64_t)SCALE > 2 ? 20 / (uint64_t)SCALE : 2;
	ck_assert_msg(t.burn >= least, "%s: only %llu samples in the burn (want %llu)", k->name,
		(unsigned long long)t.burn, (unsigned long long)least);
#ifndef GORT_TEST_SANITIZED   /* a sanitizer's malloc and memcpy are not libc's */
	ck_assert_msg(!k->libc || SCALE > 1 || t.libc >= 10, "%s: only %llu samples with a leaf in libc",
		k->name, (unsigned long long)t.libc);
#endif
	ck_assert_msg(t.failed == 0 && t.excused * 100 <= t.burn * EXCUSED_PCT,
		"%s: of %llu samples in the burn (%llu with a leaf in libc), %llu lack caller_%s and "
		"%llu root_%s: %llu excused (leaf in a PLT or under no FDE; at most %d%% may be), "
		"%llu not.  Some of them, leaf first:\n%s",
		k->name, (unsigned long long)t.burn, (unsigned long long)t.libc, (unsigned long long)t.nocaller,
		k->name, (unsigned long long)t.noroot, k->name, (unsigned long long)t.excused, EXCUSED_PCT,
		(unsigned long long)t.failed, t.examples);
	return 0;
}

START_TEST(caller_and_root_under_libc)
{
	RUN(2, kind_main, (void *)&kinds[_i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("callers");
	TCase *tc = tcase_create("libc");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, caller_and_root_under_libc, 0, NKINDS);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
