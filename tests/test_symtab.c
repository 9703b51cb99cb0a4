/*
 * test_symtab.c -- the runtime's symbol table against nm's view of this
 * very binary, package attribution, lookups from a signal handler, and the
 * atomic-package check in a stripped copy.
 *
 * Environment (set by tests/meson.build):
 *   GORT_NM_FILE         `nm -f sysv --defined-only` of this executable
 *   GORT_SYMTAB_STRIPPED set when this is the stripped copy
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "runtime/runtime.h"
#include "runtime/sigctxt.h"
#include "testutil.h"

/* Addresses in nm are file addresses; this function's gives the bias. */
__attribute__((noinline)) void symtab_anchor(void)
{
	__asm__ __volatile__("");
}

struct nmsym {
	uintptr_t value, size;
	char *name;
};

static struct nmsym *read_nm(size_t *n)
{
	const char *path = getenv("GORT_NM_FILE");
	ck_assert_msg(path != NULL, "GORT_NM_FILE not set");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t cap = 4096;
	struct nmsym *v = malloc(cap * sizeof *v);
	char line[4096], name[4096];
	unsigned long long value, size;
	*n = 0;
	/* name |value|class|type|size|line|section */
	while (fgets(line, sizeof line, f)) {
		struct nmsym s;
		char *field[7];
		int nf = 0;
		for (char *p = line, *q; nf < 7 && (q = strchr(p, '|')) != NULL; p = q + 1) {
			*q = '\0';
			field[nf++] = p;
		}
		if (nf < 5 || !strstr(field[3], "FUNC"))
			continue;
		if (sscanf(field[0], "%4095s", name) != 1 || sscanf(field[1], "%llx", &value) != 1)
			continue;
		if (sscanf(field[4], "%llx", &size) != 1)
			size = 0;   /* kept: it may be an alias of a sized one */
		s.name = strdup(name);
		s.value = (uintptr_t)value;
		s.size = (uintptr_t)size;
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof *v);
		v[(*n)++] = s;
	}
	fclose(f);
	ck_assert_uint_gt(*n, 100);
	return v;
}

static int by_value(const void *a, const void *b)
{
	const struct nmsym *x = a, *y = b;
	return x->value < y->value ? -1 : x->value > y->value;
}

START_TEST(agrees_with_nm)
{
	size_t n;
	struct nmsym *v = read_nm(&n);
	qsort(v, n, sizeof *v, by_value);

	uintptr_t bias = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, "symtab_anchor") == 0)
			bias = (uintptr_t)symtab_anchor - v[i].value;
	ck_assert_msg(bias != 0 || (uintptr_t)symtab_anchor < 0x1000000, "symtab_anchor not in nm");

	size_t checked = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].size == 0)
			continue;
		uintptr_t entry = bias + v[i].value;
		struct gort_funcinfo fi;
		ck_assert_msg(gort_funcinfo_for_pc(entry, &fi), "%s at %#lx: not found", v[i].name,
			(unsigned long)entry);
		ck_assert_msg(fi.entry == entry, "%s at %#lx: found %s at %#lx", v[i].name,
			(unsigned long)entry, fi.name, (unsigned long)fi.entry);
		/* the name must be one of the names nm gives this address */
		int named = 0;
		for (size_t j = i; j > 0 && v[j - 1].value == v[i].value; j--)
			named |= strcmp(v[j - 1].name, fi.name) == 0;
		for (size_t j = i; j < n && v[j].value == v[i].value; j++)
			named |= strcmp(v[j].name, fi.name) == 0;
		ck_assert_msg(named, "%s at %#lx: named %s", v[i].name, (unsigned long)entry, fi.name);
		/* the last byte belongs to the same function, unless nm itself
		 * shows another function starting inside this one */
		size_t k = i + 1;
		while (k < n && v[k].value == v[i].value)
			k++;
		if (k == n || v[k].value >= v[i].value + v[i].size) {
			ck_assert_msg(gort_funcinfo_for_pc(entry + v[i].size - 1, &fi) && fi.entry == entry,
				"%s: last byte not in it", v[i].name);
		}
		checked++;
	}
	ck_assert_uint_gt(checked, 100);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}
END_TEST

static int data_not_code = 1;

START_TEST(packages)
{
	struct gort_funcinfo fi;
	uintptr_t add = (uintptr_t)gort_atomic_spin_add64;

	ck_assert(gort_funcinfo_for_pc(add + 4, &fi));
	ck_assert_str_eq(fi.package, "atomic");
	ck_assert(gort_pc_in_atomic(add + 4));
	ck_assert(gort_runtime_pc_in_atomic(add));

	/* the public name is the same code as this build's backend */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_atomic_add64, &fi));
	ck_assert_str_eq(fi.package, "atomic");
	ck_assert_int_eq(gort_pc_in_atomic((uintptr_t)gort_atomic_add64), GORT_ATOMIC64_SPINLOCK);

	/* a 32-bit operation is in package atomic but holds no lock */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_atomic_load32, &fi));
	ck_assert_str_eq(fi.name, "gort_atomic_load32");
	ck_assert_str_eq(fi.package, "atomic");
	ck_assert(!gort_pc_in_atomic((uintptr_t)gort_atomic_load32));

	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_runtime_findfunc, &fi));
	ck_assert_str_eq(fi.package, "runtime");
	ck_assert(gort_funcinfo_for_pc((uintptr_t)gort_symtab_len, &fi));
	ck_assert_str_eq(fi.package, "gort");
	ck_assert(gort_funcinfo_for_pc((uintptr_t)symtab_anchor, &fi));
	ck_assert_str_eq(fi.name, "symtab_anchor");
	ck_assert_str_eq(fi.package, "");
	ck_assert(!gort_pc_in_atomic((uintptr_t)symtab_anchor));

	/* functions of shared objects are there too, with their load bias */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)pthread_create, &fi));
	ck_assert_ptr_nonnull(strstr(fi.name, "pthread_create"));

	/* a PC outside every function maps to nothing */
	ck_assert(!gort_funcinfo_for_pc((uintptr_t)&data_not_code, &fi));
	ck_assert(!gort_funcinfo_for_pc(0, &fi));
	ck_assert(!gort_funcinfo_for_pc(UINTPTR_MAX, &fi));
	ck_assert(!gort_pc_in_atomic(0));
}
END_TEST

/* --- from inside a signal handler ----------------------------------------- */

static volatile sig_atomic_t got_signal, spinning;
static const char *volatile handler_name;
static const char *volatile handler_pkg;
static volatile int handler_atomic = -1;

static __attribute__((noinline)) void spin_here(void)
{
	spinning = 1;
	while (!got_signal)
		__asm__ __volatile__("" ::: "memory");
}

static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)si;
	struct gort_funcinfo fi;
	uintptr_t pc = sigctxt_pc(ctx);
	if (gort_funcinfo_for_pc(pc, &fi)) {
		handler_name = fi.name;
		handler_pkg = fi.package;
	}
	handler_atomic = gort_pc_in_atomic(pc);
	got_signal = 1;
}

static void *poke(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	while (!spinning)
		usleep(1000);
	pthread_kill(target, SIGUSR1);
	return NULL;
}

START_TEST(from_signal_handler)
{
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	pthread_t self = pthread_self(), t;
	ck_assert_int_eq(pthread_create(&t, NULL, poke, &self), 0);
	spin_here();   /* the signal lands here, in a known function */
	pthread_join(t, NULL);
	ck_assert_ptr_nonnull(handler_name);
	ck_assert_str_eq(handler_name, "spin_here");
	ck_assert_str_eq(handler_pkg, "");
	ck_assert_int_eq(handler_atomic, 0);
}
END_TEST

/* --- walking through the preemption trampoline ---------------------------
 * The unwinder's rule for the trampoline (runtime/traceback.c) reads the
 * mark at the trampoline's entry sp and the copied ucontext it leads to.
 * On a stack built here by hand: a well-formed one is followed to the
 * interrupted frame, whose pc comes back + 1 (it is exact); every torn or
 * half-built one ends the walk there.  Then garbage, between guard pages:
 * whatever the words say, no read leaves the stack and nothing crashes. */

/* The scheduler's trampoline and its layout, which package sched gives
 * the runtime at start-up; no scheduler runs here, so the test does. */
void gort_sched_asyncpreempt(void);
extern const struct sigctxt_tramp_layout gort_sched_asyncpreempt_layout
	__attribute__((visibility("hidden")));

#define STK_WORDS 4096   /* 16 or 32 KiB */

struct fake {
	uintptr_t *stk;       /* STK_WORDS words, between two guard pages */
	uintptr_t lo, hi;
	uintptr_t tsp, ret;   /* the trampoline's entry sp, the copy's sigreturn sp */
	ucontext_t *uc;
};

static uintptr_t *guarded(size_t bytes, void **map, size_t *maplen)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = (bytes + (size_t)pg - 1) / (size_t)pg * (size_t)pg + 2 * (size_t)pg;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(mprotect(m, (size_t)pg, PROT_NONE), 0);
	ck_assert_int_eq(mprotect(m + len - (size_t)pg, (size_t)pg, PROT_NONE), 0);
	*map = m;
	*maplen = len;
	return (uintptr_t *)(m + len - (size_t)pg - bytes);   /* ends at the upper guard */
}

static void set_regs(ucontext_t *uc, uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t lr)
{
#if defined(__x86_64__)
	(void)lr;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
	uc->uc_mcontext.gregs[REG_RBP] = (greg_t)fp;
#elif defined(__aarch64__)
	uc->uc_mcontext.pc = pc;
	uc->uc_mcontext.sp = sp;
	uc->uc_mcontext.regs[29] = fp;
	uc->uc_mcontext.regs[30] = lr;
#elif defined(__mips__)
	uc->uc_mcontext.pc = pc;
	uc->uc_mcontext.gregs[29] = sp;
	uc->uc_mcontext.gregs[30] = fp;
	uc->uc_mcontext.gregs[31] = lr;
#endif
}

/* A stack as preempt.c leaves it: the copy high up, the trampoline's
 * entry sp 64 bytes below it with the mark, and the interrupted code's
 * sp above the copy.  The interrupted pc is inside symtab_anchor (a
 * function with a frame), its caller unknown (lr 0, fp 0): the walk
 * from there ends after it. */
static void fake_stack(struct fake *k, uintptr_t *stk)
{
	memset(stk, 0, STK_WORDS * sizeof *stk);
	k->stk = stk;
	k->lo = (uintptr_t)stk;
	k->hi = (uintptr_t)(stk + STK_WORDS);
	uintptr_t isp = (k->hi - 256) & ~(uintptr_t)15;                     /* interrupted sp */
	uintptr_t frame = (isp - 8192) & ~(uintptr_t)63;                    /* the copy */
	k->ret = sigctxt_sigreturn_sp(frame);
	k->uc = (ucontext_t *)sigctxt_sigreturn_uc(k->ret);
	k->tsp = (frame - 64) & ~(uintptr_t)15;
	sigctxt_mark(k->tsp, k->ret);
	set_regs(k->uc, (uintptr_t)symtab_anchor + 1, isp, 0, 0);
}

/* The walk from a live frame at trampoline offset off, as at that
 * instruction: n frames, into pcs. */
static int walk_at(const struct fake *k, uint32_t off, uintptr_t *pcs)
{
	const struct sigctxt_tramp_layout *L = &gort_sched_asyncpreempt_layout;
	uintptr_t entry = (uintptr_t)gort_sched_asyncpreempt;
	struct gort_frame f = { entry + off, 0, 0, 0, 1 };
	if (off < L->framed)
		f.sp = k->tsp - L->entry;
	else if (off < L->oncopy)
		f.sp = k->tsp - L->frame;
	else
		f.sp = k->ret;
	f.fp = off < L->framed ? 0 : k->tsp - L->frame;
	f.lr = (uintptr_t)symtab_anchor + 1;
	return gort_runtime_unwind(f, k->lo, k->hi, pcs, 8);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

START_TEST(through_the_trampoline)
{
	const struct sigctxt_tramp_layout *L = &gort_sched_asyncpreempt_layout;
	uintptr_t entry = (uintptr_t)gort_sched_asyncpreempt;
	ck_assert(!gort_runtime_in_asyncpreempt(entry));   /* not yet told */
	gort_runtime_set_asyncpreempt(entry, L);
	ck_assert(L->framed > 0 && L->framed < L->ret && L->ret < L->oncopy && L->oncopy < L->size);
	ck_assert(gort_runtime_in_asyncpreempt(entry) && gort_runtime_in_asyncpreempt(entry + L->size - 1));
	ck_assert(!gort_runtime_in_asyncpreempt(entry + L->size) && !gort_runtime_in_asyncpreempt(entry - 1));
	void *map;
	size_t maplen;
	uintptr_t *stk = guarded(STK_WORDS * sizeof(uintptr_t), &map, &maplen), pcs[8];
	struct fake k;
	uintptr_t want = (uintptr_t)symtab_anchor + 1;

	/* well-formed: at every instruction of the trampoline, the walk goes
	 * to the interrupted pc, stored + 1 */
	for (uint32_t off = 0; off < L->size; off += 1) {
		fake_stack(&k, stk);
		int n = walk_at(&k, off, pcs);
		ck_assert_msg(n >= 2 && pcs[1] == want + 1, "at trampoline+%u: %d frames, then %#lx", off, n,
			n >= 2 ? (unsigned long)pcs[1] : 0ul);
		ck_assert(gort_runtime_pc_exact(pcs, 1, 0));
	}
	/* and from its return address, as a walk from below reaches it */
	fake_stack(&k, stk);
	struct gort_frame r = { entry + L->ret, k.tsp - L->frame, k.tsp - L->frame, 0, 0 };
	ck_assert_int_ge(gort_runtime_unwind(r, k.lo, k.hi, pcs, 8), 2);
	ck_assert_uint_eq(pcs[1], want + 1);
	ck_assert(gort_runtime_pc_exact(pcs, 1, 1));
	/* ... but no other return address is in it */
	r.pc = entry + L->ret + 4;
	ck_assert_int_eq(gort_runtime_unwind(r, k.lo, k.hi, pcs, 8), 1);

	/* torn: each ends the walk at the trampoline */
	uint32_t mid = L->framed;
	fake_stack(&k, stk);
	((uintptr_t *)k.tsp)[1] ^= 1;                                        /* the check word */
	ck_assert_int_eq(walk_at(&k, mid, pcs), 1);
	fake_stack(&k, stk);
	memset((void *)k.tsp, 0, 2 * sizeof(uintptr_t));                     /* no mark yet */
	ck_assert_int_eq(walk_at(&k, mid, pcs), 1);
	fake_stack(&k, stk);
	sigctxt_mark(k.tsp, k.hi + 4096);                                    /* off the stack */
	ck_assert_int_eq(walk_at(&k, mid, pcs), 1);
	fake_stack(&k, stk);
	sigctxt_mark(k.tsp, k.tsp - 64);                                     /* below its own mark */
	ck_assert_int_eq(walk_at(&k, mid, pcs), 1);
	fake_stack(&k, stk);
	set_regs(k.uc, want, (uintptr_t)k.uc, 0, 0);                         /* sp not above the copy */
	ck_assert_int_eq(walk_at(&k, mid, pcs), 1);
	fake_stack(&k, stk);
	set_regs(k.uc, want, k.hi + 64, 0, 0);                               /* sp past the stack */
	ck_assert_int_eq(walk_at(&k, mid, pcs), 1);
	fake_stack(&k, stk);
	set_regs(k.uc, 0, k.hi - 64, 0, 0);                                  /* no pc */
	ck_assert_int_eq(walk_at(&k, mid, pcs), 1);
	fake_stack(&k, stk);                                                 /* sp on another copy */
	struct gort_frame c = { entry + L->oncopy, k.ret + 64, k.tsp - L->frame, 0, 1 };
	ck_assert_int_eq(gort_runtime_unwind(c, k.lo, k.hi, pcs, 8), 1);
	fake_stack(&k, stk);                                                 /* sp outside the bounds */
	struct gort_frame o = { entry, k.hi, 0, 0, 1 };
	ck_assert_int_eq(gort_runtime_unwind(o, k.lo, k.hi, pcs, 8), 1);

	/* garbage: words that look like pointers into the stack, marks,
	 * code addresses and noise; frames anywhere in and around it.  The
	 * guard pages catch any read outside [lo, hi). */
	uint64_t x = 88172645463325252ull;
#define RND() xorshift(&x)
	const uintptr_t codes[] = { entry, entry + L->ret, (uintptr_t)symtab_anchor,
		(uintptr_t)symtab_anchor + 1, (uintptr_t)spin_here + 4 };
	uintptr_t lo = (uintptr_t)stk, hi = (uintptr_t)(stk + STK_WORDS);
	for (int round = 0; round < 20000; round++) {
		if (round % 100 == 0) {
			for (int i = 0; i < STK_WORDS; i++) {
				uint64_t r = RND();
				switch (r % 8) {
				case 0: case 1: case 2: stk[i] = lo + (uintptr_t)(RND() % (hi - lo + 64)) - 32; break;
				case 3: stk[i] = codes[RND() % 5]; break;
				case 4: if (i + 1 < STK_WORDS) { stk[i] = lo + (uintptr_t)(RND() % (hi - lo));
					stk[i + 1] = stk[i] ^ SIGCTXT_MARK; i++; } break;
				default: stk[i] = (uintptr_t)r; break;
				}
			}
		}
		struct gort_frame g = {
			RND() % 4 ? entry + (uintptr_t)(RND() % L->size) : codes[RND() % 5],
			lo + (uintptr_t)(RND() % (hi - lo + 64)) - 32,
			RND() % 2 ? lo + (uintptr_t)(RND() % (hi - lo)) : (uintptr_t)RND(),
			RND() % 2 ? codes[RND() % 5] : (uintptr_t)RND(),
			(int)(RND() % 2),
		};
		uintptr_t out[64];
		int n = gort_runtime_unwind(g, lo, hi, out, 64);
		ck_assert(n >= 1 && n <= 64);
	}
	munmap(map, maplen);
}
END_TEST

/* --- the stripped copy ------------------------------------------------------ */

START_TEST(stripped)
{
	struct gort_funcinfo fi;
	/* it really is stripped: a static function has no name any more */
	ck_assert(!gort_funcinfo_for_pc((uintptr_t)spin_here, &fi));
	/* and yet the atomic package's locking code is still known */
	ck_assert(gort_pc_in_atomic((uintptr_t)gort_atomic_spin_add64 + 4));
	ck_assert(gort_pc_in_atomic((uintptr_t)gort_atomic_spin_load64));
	ck_assert(!gort_pc_in_atomic((uintptr_t)gort_atomic_load32));
	ck_assert(!gort_pc_in_atomic((uintptr_t)spin_here));
	/* shared objects keep their .dynsym: libc is still named */
	ck_assert(gort_funcinfo_for_pc((uintptr_t)pthread_create, &fi));
}
END_TEST


/* --- objects: the vDSO, the PLT, objects loaded later ------------------------ */

/* The vDSO's functions are named from its image in memory. */
START_TEST(vdso_named)
{
	if (!getauxval(AT_SYSINFO_EHDR))
		return;   /* no vDSO (some qemu-user targets) */
	void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
	ck_assert_msg(h, "the vDSO is not in the loader's list");
	const char *const names[] = { "__vdso_clock_gettime", "__kernel_clock_gettime", NULL };
	void *fn = NULL;
	for (int i = 0; names[i] && !fn; i++)
		fn = dlsym(h, names[i]);
	ck_assert_msg(fn, "no clock_gettime in the vDSO");
	struct gort_funcinfo fi;
	ck_assert_msg(gort_funcinfo_for_pc((uintptr_t)fn + 4, &fi), "the vDSO's clock_gettime has no name");
	ck_assert_msg(strstr(fi.name, "clock_gettime"), "the vDSO's clock_gettime is named %s", fi.name);
	dlclose(h);
}
END_TEST

/* A PLT stub is no function's: not _init's, which has no size and used
 * to be stretched over .plt. */
static int plt_addr(uintptr_t *out)
{
	uintptr_t at;
	size_t size;
	if (!exe_section(".plt", &at, &size) || size < 32)
		return 0;
	*out = at + 16;
	return 1;
}

START_TEST(plt_not_init)
{
	uintptr_t plt;
	if (!plt_addr(&plt))
		return;   /* linked without a lazy PLT */
	struct gort_funcinfo fi;
	if (gort_funcinfo_for_pc(plt, &fi))
		ck_assert_msg(strcmp(fi.name, "_init") != 0, "a PLT stub at %#lx is named _init",
			(unsigned long)plt);
}
END_TEST

/* An object loaded with dlopen joins the table at a refresh -- its
 * functions and its unwind rows -- and leaves it at the refresh after its
 * dlclose.  It is built without frame pointers: a walk from inside it
 * must come back out through all its frames by the rows. */
static long (*nofp_deep)(int, long (*)(void *), void *);
static uintptr_t walked[64];
static int nwalked;

static __attribute__((noinline)) long walk_here(void *arg)
{
	(void)arg;
	struct gort_frame f;
	gort_runtime_frame_caller(&f);
	uintptr_t lo = f.sp, hi = f.sp + (1 << 20);
	pthread_attr_t a;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			lo = (uintptr_t)addr;
			hi = lo + size;
		}
		pthread_attr_destroy(&a);
	}
	nwalked = gort_runtime_unwind(f, lo, hi, walked, 64);
	return 0;
}

static __attribute__((noinline)) void walk_through(void)
{
	nofp_deep(5, walk_here, NULL);
	__asm__ __volatile__("" ::: "memory");
}

START_TEST(dlopen_joins)
{
	const char *path = getenv("GORT_NOFP_SO");
	if (!path)
		return;   /* run outside meson */
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h, "dlopen %s: %s", path, dlerror());
	nofp_deep = (long (*)(int, long (*)(void *), void *))dlsym(h, "nofp_deep");
	ck_assert(nofp_deep);
	struct gort_funcinfo fi;
	ck_assert_msg(!gort_funcinfo_for_pc((uintptr_t)nofp_deep, &fi),
		"the new object is named before any refresh");
	ck_assert_int_eq(gort_symtab_refresh(), 0);
	ck_assert_msg(gort_funcinfo_for_pc((uintptr_t)nofp_deep, &fi) && strcmp(fi.name, "nofp_deep") == 0,
		"the new object is not named after a refresh");
	uintptr_t base;
	ck_assert_msg(gort_runtime_findrow((uintptr_t)nofp_deep + 4, &base, NULL), "the new object has no unwind rows");
	walk_through();
	int deep = 0, through = 0;
	for (int i = 1; i < nwalked; i++) {
		if (gort_funcinfo_for_pc(walked[i] - 1, &fi)) {
			deep += strcmp(fi.name, "nofp_deep") == 0;
			through |= fi.entry == (uintptr_t)walk_through;
		}
	}
	ck_assert_msg(deep == 5 && through, "a walk out of the new object saw %d of its 5 frames%s",
		deep, through ? "" : ", and not its caller");
	/* gone again at the refresh after dlclose */
	uintptr_t gone = (uintptr_t)nofp_deep;
	ck_assert_int_eq(dlclose(h), 0);
	ck_assert_int_eq(gort_symtab_refresh(), 0);
	ck_assert_msg(!gort_funcinfo_for_pc(gone, &fi), "an unloaded object is still named (%s)", fi.name);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("symtab");
	TCase *tc = tcase_create("symtab");
	tcase_set_timeout(tc, 60);
	if (getenv("GORT_SYMTAB_STRIPPED")) {
		tcase_add_test(tc, stripped);
	} else {
		tcase_add_test(tc, agrees_with_nm);
		tcase_add_test(tc, packages);
		tcase_add_test(tc, from_signal_handler);
		tcase_add_test(tc, through_the_trampoline);
		tcase_add_test(tc, vdso_named);
		tcase_add_test(tc, plt_not_init);
		tcase_add_test(tc, dlopen_joins);
	}
	suite_add_tcase(s, tc);
	return run_suite(s);
}
