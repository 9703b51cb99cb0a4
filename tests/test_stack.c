/*
 * test_stack.c -- goroutine stacks (sched/stack.c) and how they end
 * (runtime/signal.c): the size a goroutine can use, goroutines made before
 * gort_main, the guard region, and the stack overflow report.
 *
 * Built with exactly the flags gort gives its users (gort_dep carries
 * them, as pkg-config does), because what the guard can promise depends on
 * how the code that overflows was compiled.  Like test_sched.c, each test
 * runs in a process of its own and may call gort_main; tests of dying
 * programs fork once more (run_child) and assert on the exit status and on
 * what the program printed.  The sizes are read from the G itself (the
 * white-box part: sched/sched.h), because "how much stack may I use" is
 * otherwise only observable by dying.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "sched/sched.h"
#include "testutil.h"

#include "gort.h"

/* What of a stack its G may take: a guarded stack's top (sched/stack.c). */
#define GSIZE 256

/* The usable stack of the calling goroutine: what its frames may fill. */
static size_t usable(void)
{
	struct g *gp = getg();
	return gp->stack_hi - gp->stack_lo;
}

/* --- goroutines made before gort_main ------------------------------------------ */

#define NPRE 3

struct seen {
	uint64_t id;      /* gort_id() inside the goroutine */
	size_t usable;
};
static struct seen pre[NPRE];
static uint64_t pre_ids[NPRE];   /* what gort_go returned */
static gort_chan *pre_done;
static int pre_fill;             /* the pre-main goroutines fill their stacks */

/* A frame of most of the default stack: a goroutine given less than it
 * was promised dies here (the probes of -fstack-clash-protection touch
 * every page of it). */
static __attribute__((noinline)) void fill(size_t kib)
{
	volatile char buf[60 * 1024];
	buf[0] = (char)kib;
	buf[sizeof buf - 1] = buf[0];
}

static void pre_fn(void *arg)
{
	struct seen *s = arg;
	s->id = gort_id();
	s->usable = usable();
	if (pre_fill)
		fill(60);
	gort_chan_send(pre_done, NULL);
}

static size_t main_usable, later_usable;
static uint64_t main_id, later_id;

static void later_fn(void *arg)
{
	(void)arg;
	later_usable = usable();
	gort_chan_send(pre_done, NULL);
}

static int pre_main(void *arg)
{
	(void)arg;
	main_id = gort_id();
	main_usable = usable();
	later_id = gort_go(later_fn, NULL);
	for (int i = 0; i < NPRE + 1; i++)
		gort_chan_recv(pre_done, NULL);
	return 0;
}

static void run_premain(void)
{
	pre_done = gort_chan_make(0, NPRE + 1);
	for (int i = 0; i < NPRE; i++)
		pre_ids[i] = gort_go(pre_fn, &pre[i]);
	RUN(2, pre_main, NULL);
}

START_TEST(premain_ids)
{
	run_premain();
	/* main is goroutine 1, as in Go, whoever was made first */
	ck_assert_uint_eq(main_id, 1);
	uint64_t all[NPRE + 2] = { main_id, later_id };
	for (int i = 0; i < NPRE; i++) {
		ck_assert_uint_eq(pre[i].id, pre_ids[i]);
		all[2 + i] = pre_ids[i];
	}
	for (int i = 0; i < NPRE + 2; i++)
		for (int j = i + 1; j < NPRE + 2; j++)
			ck_assert_msg(all[i] != all[j], "goroutines %d and %d share id %llu", i, j,
				(unsigned long long)all[i]);
}
END_TEST

START_TEST(premain_stack_default)
{
	pre_fill = 1;
	run_premain();
	for (int i = 0; i < NPRE; i++)
		ck_assert_uint_ge(pre[i].usable, 64 * 1024 - GSIZE);
	ck_assert_uint_ge(main_usable, 64 * 1024 - GSIZE);
	ck_assert_uint_ge(later_usable, 64 * 1024 - GSIZE);
}
END_TEST

START_TEST(premain_stack_gortstack)
{
	setenv("GORTSTACK", "256", 1);
	pre_fill = 1;
	run_premain();
	for (int i = 0; i < NPRE; i++)
		ck_assert_uint_ge(pre[i].usable, 256 * 1024 - GSIZE);
	ck_assert_uint_ge(main_usable, 256 * 1024 - GSIZE);
	ck_assert_uint_ge(later_usable, 256 * 1024 - GSIZE);
}
END_TEST

/* --- gort_go_opts: what was asked for is what can be used --------------------- */

static const size_t asked[] = { 1, 4096, 16 * 1024, 65536, 100000, 200 * 1024 + 1, 1 << 20 };
#define NASKED (sizeof asked / sizeof asked[0])
static size_t got[NASKED];
static gort_chan *opts_done;

static void opts_fn(void *arg)
{
	*(size_t *)arg = usable();
	gort_chan_send(opts_done, NULL);
}

static int opts_main(void *arg)
{
	(void)arg;
	opts_done = gort_chan_make(0, NASKED);
	for (size_t i = 0; i < NASKED; i++)
		gort_go_opts(opts_fn, &got[i], &(struct gort_go_opts){ .stack_size = asked[i] });
	for (size_t i = 0; i < NASKED; i++)
		gort_chan_recv(opts_done, NULL);
	return 0;
}

START_TEST(opts_stack_size_usable)
{
	ck_assert_int_eq(gort_main(opts_main, NULL), 0);
	for (size_t i = 0; i < NASKED; i++)
		ck_assert_msg(got[i] + GSIZE >= asked[i], "asked for %zu bytes of stack, can use %zu",
			asked[i], got[i]);
}
END_TEST

/* --- how programs with a bad stack die ------------------------------------------ */

static void expect_death(int (*main)(void *), const char *env, struct child *c,
	const char *const *want)
{
	expect_death_in(main, env, 1, c, want);
}

static void nothing(void *a)
{
	(void)a;
}

/* Run fn as goroutine 2 and wait for it to say it survived what should
 * have killed it; then main returns 0, and the test fails on the exit
 * status.  No timeout: a goroutine that neither dies nor survives is a
 * hang, which run_child reports. */
static gort_chan *survived;

static int await(void (*fn)(void *), void *arg)
{
	survived = gort_chan_make(0, 1);
	gort_go(fn, arg);
	gort_chan_recv(survived, NULL);
	return 0;
}

static int size_max_main(void *a)
{
	(void)a;
	gort_go_opts(nothing, NULL, &(struct gort_go_opts){ .stack_size = SIZE_MAX });
	return 0;
}

static int over_max_main(void *a)
{
	(void)a;
	gort_go_opts(nothing, NULL, &(struct gort_go_opts){ .stack_size = GORT_STACK_MAX + 1 });
	return 0;
}

START_TEST(opts_stack_size_max_refused)
{
	char want[128];
	struct child c;
	snprintf(want, sizeof want, "panic: gort_go_opts: stack size %zu too large (at most %zu bytes)\n",
		(size_t)SIZE_MAX, (size_t)GORT_STACK_MAX);
	expect_death(size_max_main, NULL, &c, (const char *const[]){ want,
		"goroutine 1 [running]:\n", "\nsize_max_main()\n", NULL });
	snprintf(want, sizeof want, "panic: gort_go_opts: stack size %zu too large (at most %zu bytes)\n",
		(size_t)GORT_STACK_MAX + 1, (size_t)GORT_STACK_MAX);
	expect_death(over_max_main, NULL, &c, (const char *const[]){ want, NULL });
}
END_TEST

/* A 64 KiB frame on a 64 KiB stack that writes only its lowest byte: the
 * write lies beyond a 4 KiB guard.  Compiled with the flags gort gives
 * users, the frame's probes meet the guard first, and the program dies
 * before anything below is touched.  Not under ASan: the frame under test
 * is the one a user's compiler lays out, not the sanitizer's (which may
 * move it to a heap-allocated fake stack). */
static __attribute__((noinline, no_sanitize_address)) int big_frame(void)
{
	volatile char buf[65536];
	/* Its address escapes, so no compiler may shrink it (clang keeps only
	 * what is used of a local array otherwise); nothing else is written. */
	__asm__ __volatile__("" : : "r"(buf) : "memory");
	buf[0] = 1;
	return buf[0];
}

static gort_chan *big_done, *neighbour_go;

/* Parked right below the big frame's stack, with a pattern where a write
 * that jumped the guard would land; it says so if the pattern changed. */
static void neighbour(void *a)
{
	(void)a;
	volatile unsigned char pat[8192];
	for (size_t i = 0; i < sizeof pat; i++)
		pat[i] = (unsigned char)(i * 7 + 1);
	gort_chan_recv(neighbour_go, NULL);
	for (size_t i = 0; i < sizeof pat; i++)
		if (pat[i] != (unsigned char)(i * 7 + 1)) {
			printf("neighbour's stack was overwritten at byte %zu\n", i);
			fflush(stdout);
			exit(3);
		}
	gort_chan_send(big_done, NULL);
}

static void big_fn(void *a)
{
	(void)a;
	big_frame();
	printf("big frame returned\n");
	gort_chan_send(big_done, NULL);
}

static int big_main(void *a)
{
	(void)a;
	big_done = gort_chan_make(0, 2);
	neighbour_go = gort_chan_make(0, 1);
	gort_go(big_fn, NULL);      /* its stack is mapped first ... */
	gort_go(neighbour, NULL);   /* ... and the neighbour's right below it */
	gort_chan_recv(big_done, NULL);
	gort_chan_send(neighbour_go, NULL);
	gort_chan_recv(big_done, NULL);
	return 0;
}

START_TEST(big_frame_hits_guard)
{
	struct child c;
	expect_death(big_main, NULL, &c, (const char *const[]){ "fatal error: stack overflow\n",
		"goroutine 2 [running]:\n", "\nbig_frame", "\nbig_fn()\n", NULL });
	ck_assert_msg(strstr(c.out, "big frame returned") == NULL, "the frame returned:\n%s", c.out);
	ck_assert_msg(strstr(c.out, "nil pointer") == NULL, "a fault elsewhere:\n%s", c.out);
}
END_TEST

/* Frames far larger than the guard, fixed and variable (alloca has its own
 * probes), written only at the low end: without the probes the write
 * lands beyond the guard of every target, in another mapping or in none
 * (and no report says "stack overflow" then). */
#define HUGE (256 * 1024)
static volatile size_t huge_len = HUGE;

static __attribute__((noinline, no_sanitize_address)) int huge_frame(void)
{
	volatile char buf[HUGE];
	__asm__ __volatile__("" : : "r"(buf) : "memory");
	buf[0] = 1;
	return buf[0];
}

static __attribute__((noinline, no_sanitize_address)) int huge_alloca(void)
{
	volatile char buf[huge_len];
	__asm__ __volatile__("" : : "r"(buf) : "memory");
	buf[0] = 1;
	return buf[0];
}

static void huge_fn(void *a)
{
	if (a)
		huge_alloca();
	else
		huge_frame();
	gort_chan_send(survived, NULL);
}

static int huge_frame_main(void *a)
{
	(void)a;
	return await(huge_fn, (void *)0);
}

static int huge_alloca_main(void *a)
{
	(void)a;
	return await(huge_fn, (void *)1);
}

START_TEST(huge_frames_hit_guard)
{
	struct child c;
	expect_death(huge_frame_main, NULL, &c, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n", "\nhuge_frame", NULL });
	expect_death(huge_alloca_main, NULL, &c, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n", "\nhuge_alloca", NULL });
}
END_TEST

/* A write anywhere in the guard region is an overflow, from the bottom of
 * the region to the byte under the stack. */
static void guard_write(void *a)
{
	struct g *gp = getg();
	uintptr_t addr = (uintptr_t)a ? gp->stack_lo - 1 : gp->stack_base;
	*(volatile char *)addr = 1;
	gort_chan_send(survived, NULL);
}

static int guard_bottom_main(void *a)
{
	(void)a;
	return await(guard_write, (void *)0);
}

static int guard_top_main(void *a)
{
	(void)a;
	return await(guard_write, (void *)1);
}

START_TEST(guard_region_is_overflow)
{
	struct child c;
	expect_death(guard_bottom_main, NULL, &c, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n", "\nguard_write", NULL });
	expect_death(guard_top_main, NULL, &c, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n", "\nguard_write", NULL });
}
END_TEST

/* --- the overflow report: the frames that led there ------------------------------ */

/* At least `min` frames of the function named `name` (gcc may have renamed
 * a static one, recurse.isra.0, so it is a prefix). */
#define ck_assert_frames(c, name, min) do { \
	int n_ = 0; \
	for (const char *p_ = (c)->out; (p_ = strstr(p_, (name))) != NULL; p_++) \
		n_++; \
	ck_assert_msg(n_ >= (min), "%d frames of %s in the report, want %d:\n%s", n_, \
		(name) + 1, (min), (c)->out); \
} while (0)

static volatile int stop_recursing;   /* never set: keeps the recursion honest */

static __attribute__((noinline)) int recurse(int depth)
{
	volatile char frame[200];
	frame[0] = (char)depth;
	if (stop_recursing)
		return frame[0];
	return recurse(depth + 1) + frame[0];   /* not a tail call */
}

static void recurse_fn(void *a)
{
	(void)a;
	recurse(0);
	gort_chan_send(survived, NULL);
}

static int recurse_main(void *a)
{
	(void)a;
	return await(recurse_fn, NULL);
}

START_TEST(overflow_traceback_frames)
{
	struct child c;
	expect_death(recurse_main, NULL, &c, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n", NULL });
	ck_assert_frames(&c, "\nrecurse", 10);
}
END_TEST

/* A slab stack (GORTDEBUG=stackguard=0) has no guard to stop a recursion:
 * run 8 KiB past the end, then meet the check at a switch, or fault.
 * Either way the report must show the frames below the stack, which is
 * where they all are by then. */
static volatile int end_by_fault;
static char *volatile forbidden;   /* a PROT_NONE page: a fault, not UB to UBSan */

static __attribute__((noinline)) int recurse_past(uintptr_t past)
{
	volatile char frame[200];
	frame[0] = 1;
	if ((uintptr_t)__builtin_frame_address(0) < past) {
		if (end_by_fault)
			*forbidden = 1;
		else
			gort_yield();   /* main waits: nothing else to run, so it checks the stack */
		return frame[0];
	}
	return recurse_past(past) + frame[0];
}

static void recurse_past_fn(void *a)
{
	(void)a;
	recurse_past(getg()->stack_lo - 8192);
	gort_chan_send(survived, NULL);
}

static int recurse_past_main(void *a)
{
	(void)a;
	return await(recurse_past_fn, NULL);   /* the slot above main's, in one slab */
}

START_TEST(overflow_traceback_slab_switch)
{
	struct child c;
	expect_death(recurse_past_main, "GORTDEBUG=stackguard=0", &c, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n",
		"created by recurse_past_main\n", NULL });
	ck_assert_frames(&c, "\nrecurse_past", 10);
}
END_TEST

START_TEST(overflow_traceback_slab_fault)
{
	SKIP_UNDER_VALGRIND("the overflow is an invalid write to memcheck");
	struct child c;
	end_by_fault = 1;
	forbidden = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(forbidden, MAP_FAILED);
	expect_death(recurse_past_main, "GORTDEBUG=stackguard=0", &c, (const char *const[]){
		"fatal error: stack overflow\n", "goroutine 2 [running]:\n",
		"created by recurse_past_main\n", NULL });
	ck_assert_frames(&c, "\nrecurse_past", 10);
}
END_TEST

/* --- guards for every stack, and no system call per stack --------------------- */

#include <sys/utsname.h>

/* Lines of /proc/self/maps: the process's mappings. */
static int nmaps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(f);
	int n = 0, ch;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Does this kernel have guard markers (Linux 6.13)?  Natively, gort must
 * then use them; under an emulator it may not (qemu-user has no
 * process_madvise). */
static int kernel_has_markers(void)
{
#ifdef GORT_TEST_EMULATED
	return 0;
#else
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major > 6 || (major == 6 && minor >= 13);
#endif
}

#define NMANY 20000   /* more than vm.max_map_count / 4 (16382 by default) */
static gort_chan *many_gate;
static int many_n = NMANY, many_guarded, many_maps;

static void many_fn(void *a)
{
	(void)a;
	if (getg()->guarded)
		__atomic_add_fetch(&many_guarded, 1, __ATOMIC_RELAXED);
	gort_chan_recv(many_gate, NULL);
}

/* n goroutines parked at once: each its own fresh stack. */
static int many_main(void *a)
{
	(void)a;
	many_gate = gort_chan_make(0, 0);
	int before = nmaps();
	for (int i = 0; i < many_n; i++)
		gort_go(many_fn, NULL);
	while (gort_numgoroutine() < many_n + 1)
		gort_yield();
	gort_sleep(1000000);   /* let the last reach their receive */
	many_maps = nmaps() - before;
	if (getenv("MANY_OVERFLOW")) {
		big_done = gort_chan_make(0, 1);
		gort_go(big_fn, NULL);   /* one more stack, past the mprotect budget */
		gort_chan_recv(big_done, NULL);
	}
	gort_chan_close(many_gate);
	return 0;
}

/* With markers, 20,000 goroutines have 20,000 guards in a few mappings:
 * one per batch of stacks, so no system call per goroutine.  (Before,
 * every stack up to max_map_count / 4 was an mmap and an mprotect, two
 * mappings, and the rest had only a canary.) */
START_TEST(every_stack_guarded)
{
	if (!kernel_has_markers()) {
		many_n = 1000 / SCALE;
		ck_assert_int_eq(gort_main(many_main, NULL), 0);
		printf("no guard markers on this kernel: %d of %d stacks guarded, %d new mappings\n",
			many_guarded, many_n, many_maps);
		return;
	}
	ck_assert_int_eq(gort_main(many_main, NULL), 0);
	ck_assert_msg(gort_sched_stack_markers(), "the kernel has guard markers, gort did not use them");
	ck_assert_int_eq(many_guarded, NMANY);
	/* 20,000 stacks of 68 KiB: 84 batches of 16 MiB, and the Gs' chunks */
	ck_assert_msg(many_maps < 200, "%d new mappings for %d goroutines", many_maps, NMANY);
}
END_TEST

/* The last of them overflows: a guard, not a canary, stops it. */
START_TEST(every_stack_guarded_overflow)
{
	if (!kernel_has_markers())
		return;
	struct child c;
	setenv("MANY_OVERFLOW", "1", 1);
	expect_death_in(many_main, NULL, 2, &c, (const char *const[]){ "fatal error: stack overflow\n",
		"\nbig_frame", "\nbig_fn()\n", NULL });
	unsetenv("MANY_OVERFLOW");
	ck_assert_msg(strstr(c.out, "big frame returned") == NULL, "the frame returned:\n%s", c.out);
}
END_TEST

/* GORTDEBUG=stackguard=1: the mprotect way, as on a kernel without
 * markers -- a guard per stack, two mappings each. */
START_TEST(stackguard_mprotect)
{
	setenv("GORTDEBUG", "stackguard=1", 1);
	gort_runtime_debug_init();
	int n = many_n = 2000 / SCALE;
	ck_assert_int_eq(gort_main(many_main, NULL), 0);
	ck_assert(!gort_sched_stack_markers());
	ck_assert_int_eq(many_guarded, n);
	ck_assert_msg(many_maps >= n, "%d new mappings for %d mprotect-guarded stacks", many_maps, n);
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("sizes");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, premain_ids);
	tcase_add_test(tc, premain_stack_default);
	tcase_add_test(tc, premain_stack_gortstack);
	tcase_add_test(tc, opts_stack_size_usable);
	suite_add_tcase(s, tc);

	tc = tcase_create("overflow");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, opts_stack_size_max_refused);
	tcase_add_test(tc, big_frame_hits_guard);
	tcase_add_test(tc, huge_frames_hit_guard);
	tcase_add_test(tc, guard_region_is_overflow);
	tcase_add_test(tc, overflow_traceback_frames);
	tcase_add_test(tc, overflow_traceback_slab_switch);
	tcase_add_test(tc, overflow_traceback_slab_fault);
	suite_add_tcase(s, tc);

	tc = tcase_create("guards");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_stack_guarded);
	tcase_add_test(tc, every_stack_guarded_overflow);
	tcase_add_test(tc, stackguard_mprotect);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(stack_suite());
}
