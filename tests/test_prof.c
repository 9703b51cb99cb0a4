/*
 * test_prof.c -- package prof: the profile is true (ratios, CPU time,
 * labels, call chains), readable by Go's pprof, exactly accounted for, and
 * the #20146 path: the seed's test passes with the fix and deadlocks
 * without it -- and this suite sees the deadlock.
 *
 * Every test runs its program in a child (Check forks; run_child forks
 * again where the program must die or hang), since gort_main runs once
 * per process.
 */
#include <dirent.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include "atomic/atomic.h"
#include "prof/prof.h"
#include "sched/sched.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/gort-prof-XXXXXX";

static const char *tmpfile_named(const char *name)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

static int64_t process_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
		((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* Sum the profile's entries whose stack contains fn (cum), or whose leaf
 * is fn (flat); by CPU time. */
static uint64_t cpu_in(void (*fn)(void), int leaf_only, const char *label)
{
	const struct gort_func *f = gort_runtime_findfunc((uintptr_t)fn);
	ck_assert_ptr_nonnull(f);
	uint64_t sum = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			if (label) {
				const char *v = gort_labels_value(e->tag, "worker");
				if (!v || strcmp(v, label) != 0)
					continue;
			}
			for (int i = 0; i < (leaf_only ? 1 : e->nstk) && i < e->nstk; i++) {
				uintptr_t pc = i ? e->stk[i] - 1 : e->stk[i];
				if (pc >= f->entry && pc < f->end) {
					sum += e->cpu_ns;
					break;
				}
			}
		}
	return sum;
}

/* --- burning CPU in known functions -------------------------------------
 * Each burner runs until its thread has used `ns` more CPU time (no switch
 * can happen inside, so the thread is one thread throughout), and says how
 * much it really used.  Work is measured in CPU time, not iterations, so
 * it means the same natively, under qemu and under the sanitizers; and
 * the amounts are jittered, so that the work cannot fall into step with
 * the sampling period (which would alias: a 4 ms period over a 3 ms + 9 ms
 * cycle can land in the same phases every time). */

static volatile uint64_t sink;

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define BURNER(name, tag) \
	static __attribute__((noinline)) int64_t name(int64_t ns) \
	{ \
		uint64_t x = tag; \
		int64_t t0 = thread_cpu_ns(), t; \
		do { \
			for (long i = 0; i < 20000; i++) \
				x = x * 6364136223846793005ull + (uint64_t)i; \
			sink = x; \
		} while ((t = thread_cpu_ns()) - t0 < ns); \
		return t - t0; \
	}
BURNER(burn_a, 1)
BURNER(burn_b, 2)

static uint32_t jitter(uint32_t *seed)   /* 1000..2999 */
{
	*seed = *seed * 1664525u + 1013904223u;
	return 1000 + (*seed >> 8) % 2000;
}

/* Bursts long against the 4 ms the kernel's tick gives the timers: each
 * burst gets its share of samples give or take one, so the error stays a
 * few percent. */
#define ROUNDS 20
static gort_waitgroup wg;
static int64_t used_a, used_b;

static void worker_a(void *arg)
{
	(void)arg;
	uint32_t seed = 1;
	for (int i = 0; i < ROUNDS; i++) {
		/* each burner measures itself on its thread's clock: no other
		 * goroutine may share the thread meanwhile (preemption) */
		gort_preempt_disable();
		used_a += burn_a((int64_t)jitter(&seed) * 10000);       /* 10-30 ms */
		gort_preempt_enable();
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static void worker_b(void *arg)
{
	(void)arg;
	uint32_t seed = 2;
	for (int i = 0; i < ROUNDS; i++) {
		gort_preempt_disable();
		used_b += burn_b((int64_t)jitter(&seed) * 30000);       /* 30-90 ms */
		gort_preempt_enable();
		gort_yield();
	}
	gort_waitgroup_done(&wg);
}

static int ratio_main(void *arg)
{
	(void)arg;
	int64_t cpu0 = process_cpu_ns();
	ck_assert_int_eq(gort_prof_start(tmpfile_named("ratio.prof"), 1000), 0);
	gort_waitgroup_add(&wg, 2);
	gort_labels_set(gort_labels_with(NULL, "worker", "a"));
	gort_go(worker_a, NULL);
	gort_labels_set(gort_labels_with(NULL, "worker", "b"));
	gort_go(worker_b, NULL);
	gort_labels_set(NULL);
	gort_waitgroup_wait(&wg);
	ck_assert_int_eq(gort_prof_stop(), 0);
	int64_t cpu = process_cpu_ns() - cpu0;

	struct gort_prof_stats st;
	ck_assert_int_eq(gort_prof_stats(&st), 0);
	/* the ledger */
	ck_assert_uint_gt(st.signals, 50);
	ck_assert_uint_eq(st.signals, st.samples + st.lost_atomic64 + st.lost_full);
	/* sampled CPU time against the CPU time the process used */
	double r = (double)st.cpu_ns / (double)cpu;
	ck_assert_msg(r > 0.8 && r < 1.2, "profile says %.3fs of CPU, the process used %.3fs",
		st.cpu_ns / 1e9, cpu / 1e9);
	/* 1:3 work shows as 1:3: the profile's ratio against the CPU time
	 * the burners measured themselves (close to 3 by construction) */
	double a = (double)cpu_in((void (*)(void))burn_a, 0, NULL);
	double b = (double)cpu_in((void (*)(void))burn_b, 0, NULL);
	double want = (double)used_b / (double)used_a;
	ck_assert_msg(want > 2.5 && want < 3.5, "the burners used %.3fs and %.3fs", used_a / 1e9, used_b / 1e9);
	ck_assert_msg(a > 0 && b / a > want * 0.8 && b / a < want * 1.2,
		"profile: burn_b/burn_a = %.2f, measured %.2f (want within 20%%)", b / a, want);
	/* labels select exactly their goroutine's samples */
	ck_assert_uint_eq(cpu_in((void (*)(void))burn_a, 0, "a"), cpu_in((void (*)(void))burn_a, 0, NULL));
	ck_assert_uint_eq(cpu_in((void (*)(void))burn_b, 0, "b"), cpu_in((void (*)(void))burn_b, 0, NULL));
	ck_assert_uint_eq(cpu_in((void (*)(void))burn_a, 0, "b"), 0);
	ck_assert_uint_eq(cpu_in((void (*)(void))burn_b, 0, "a"), 0);
	return 0;
}

START_TEST(profile_is_true)
{
	gort_gomaxprocs(_i == 0 ? 1 : 2);
	ck_assert_int_eq(gort_main(ratio_main, NULL), 0);
}
END_TEST

/* --- a known call chain -------------------------------------------------- */

static __attribute__((noinline)) void chain5(void) { burn_a(2000000); __asm__ __volatile__("" ::: "memory"); }
static __attribute__((noinline)) void chain4(void) { chain5(); __asm__ __volatile__("" ::: "memory"); }
static __attribute__((noinline)) void chain3(void) { chain4(); __asm__ __volatile__("" ::: "memory"); }
static __attribute__((noinline)) void chain2(void) { chain3(); __asm__ __volatile__("" ::: "memory"); }
static __attribute__((noinline)) void chain1(void) { chain2(); __asm__ __volatile__("" ::: "memory"); }

static int in(uintptr_t pc, void (*fn)(void))
{
	const struct gort_func *f = gort_runtime_findfunc(pc);
	return f && f->entry == (uintptr_t)fn;
}

static int chain_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_prof_start(tmpfile_named("chain.prof"), 1000), 0);
	for (int i = 0; i < 200; i++)
		chain1();
	ck_assert_int_eq(gort_prof_stop(), 0);
	void (*want[])(void) = { (void (*)(void))burn_a, chain5, chain4, chain3, chain2, chain1 };
	uint64_t total = 0, whole = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			if (e->nstk < 1 || !in(e->stk[0], want[0]))
				continue;
			total += e->count;
			int ok = e->nstk >= 6;
			for (int i = 1; ok && i < 6; i++)
				ok = in(e->stk[i] - 1, want[i]);
			whole += ok ? e->count : 0;
		}
	ck_assert_uint_gt(total, 20);
	ck_assert_msg(whole * 10 >= total * 9, "only %llu of %llu samples in burn_a show the whole chain",
		(unsigned long long)whole, (unsigned long long)total);
	return 0;
}

START_TEST(unwinds_known_chain)
{
	RUN(1, chain_main, NULL);
}
END_TEST

/* --- interrupted at a function's first instruction -------------------------
 * A goroutine preempted asynchronously, and sampled along the way, has the
 * interrupted function above the trampoline in its stack: that frame's pc
 * is the interrupted instruction itself, not a return address, and every
 * consumer of a profile looks up the frames above the leaf at pc - 1.  At
 * a function's first instruction that is the function before it in
 * memory.  So here: two functions of assembly, the first ending in the
 * rt_sigprocmask that lets SIGURG and SIGPROF in, the second right behind
 * it; both signals land at the second's first instruction (the kernel
 * delivers the lower-numbered SIGURG first, whose handler sends the
 * goroutine into the trampoline, and the SIGPROF it held back lands at
 * the trampoline's entry, as in the deadlock suite's
 * preempt.sigprof-in-trampoline).  The sample must credit the second
 * function, then its caller. */
void first_insn_before(long how, const void *set, void *old, long size)
	__attribute__((visibility("hidden")));
void first_insn_target(void) __attribute__((visibility("hidden")));
#define FIRST_INSN_FN(name) ".globl " #name "\n.hidden " #name "\n.type " #name ", @function\n" #name ":\n"
#if defined(__x86_64__)
__asm__(".text\n"
	FIRST_INSN_FN(first_insn_before)
	"	mov %rcx, %r10\n"
	"	mov $14, %eax\n"        /* __NR_rt_sigprocmask; then falls through */
	"	syscall\n"
	".size first_insn_before, .-first_insn_before\n"
	FIRST_INSN_FN(first_insn_target)
	"	ret\n"
	".size first_insn_target, .-first_insn_target\n");
#elif defined(__aarch64__)
__asm__(".text\n"
	FIRST_INSN_FN(first_insn_before)
	"	mov x8, #135\n"         /* __NR_rt_sigprocmask */
	"	svc #0\n"
	".size first_insn_before, .-first_insn_before\n"
	FIRST_INSN_FN(first_insn_target)
	"	ret\n"
	".size first_insn_target, .-first_insn_target\n");
#elif defined(__mips__)
__asm__(".text\n.set push\n.set noreorder\n"
	FIRST_INSN_FN(first_insn_before)
	"	li $v0, 4195\n"         /* __NR_rt_sigprocmask, o32 */
	"	syscall\n"
	".size first_insn_before, .-first_insn_before\n"
	FIRST_INSN_FN(first_insn_target)
	"	jr $ra\n"
	"	nop\n"
	".size first_insn_target, .-first_insn_target\n.set pop\n");
#endif

#define FIRST_INSN_ROUNDS 20
static volatile uint32_t first_insn_done;

static __attribute__((noinline)) void first_insn_caller(long tid)
{
	sigset_t both, old;
	sigemptyset(&both);
	sigaddset(&both, SIGURG);
	sigaddset(&both, SIGPROF);
	pthread_sigmask(SIG_BLOCK, &both, &old);
	atomic_store32(&getg()->preempt, 1);
	syscall(SYS_tgkill, getpid(), tid, SIGURG);
	syscall(SYS_tgkill, getpid(), tid, SIGPROF);
	first_insn_before(SIG_SETMASK, &old, NULL, _NSIG / 8);
	atomic_store32(&getg()->preempt, 0);   /* if it was refused */
	__asm__ __volatile__("" ::: "memory");
}

static void first_insn_goroutine(void *arg)
{
	(void)arg;
	for (int r = 0; r < FIRST_INSN_ROUNDS; r++) {
		first_insn_caller(syscall(SYS_gettid));   /* resumes on this thread */
		gort_yield();
	}
	atomic_store32(&first_insn_done, 1);
	gort_waitgroup_done(&wg);
}

static void first_insn_other(void *arg)   /* somebody to switch to */
{
	(void)arg;
	while (!atomic_load32(&first_insn_done))
		gort_yield();
	gort_waitgroup_done(&wg);
}

static int first_insn_main(void *arg)
{
	(void)arg;
	uint32_t done0 = atomic_load32(&gort_sched_preempt_done);
	ck_assert_int_eq(gort_prof_start(tmpfile_named("first.prof"), 1), 0);   /* the signals are ours */
	gort_waitgroup_add(&wg, 2);
	gort_go(first_insn_goroutine, NULL);
	gort_go(first_insn_other, NULL);
	gort_waitgroup_wait(&wg);
	ck_assert_int_eq(gort_prof_stop(), 0);
	ck_assert_uint_ge(atomic_load32(&gort_sched_preempt_done) - done0, FIRST_INSN_ROUNDS);

	const struct gort_func *t = gort_runtime_findfunc((uintptr_t)gort_sched_asyncpreempt);
	ck_assert_ptr_nonnull(t);
	uint64_t at_tramp = 0, credited = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			if (e->nstk < 1 || e->stk[0] != t->entry)
				continue;
			at_tramp += e->count;
			/* as pprof.c and report.c read a stack: the leaf as is,
			 * every other frame at pc - 1 */
			ck_assert_msg(e->nstk >= 3, "the sample at the trampoline has %d frames", e->nstk);
			const struct gort_func *f = gort_runtime_findfunc(e->stk[1] - 1);
			ck_assert_msg(f && f->entry == (uintptr_t)first_insn_target,
				"interrupted at first_insn_target's first instruction, credited to %s+%#lx",
				f ? f->name : "?", f ? (unsigned long)(e->stk[1] - 1 - f->entry) : 0ul);
			ck_assert_msg(e->stk[1] - 1 == (uintptr_t)first_insn_target,
				"the interrupted pc is first_insn_target+%#lx, not its entry",
				(unsigned long)(e->stk[1] - 1 - (uintptr_t)first_insn_target));
			ck_assert_msg(in(e->stk[2] - 1, (void (*)(void))first_insn_caller),
				"first_insn_target's caller is %s, not first_insn_caller",
				gort_runtime_findfunc(e->stk[2] - 1) ? gort_runtime_findfunc(e->stk[2] - 1)->name : "?");
			credited += e->count;
		}
	ck_assert_uint_ge(at_tramp, FIRST_INSN_ROUNDS);   /* one per round, each checked above */
	ck_assert_uint_eq(credited, at_tramp);
	/* and the report's folded stacks say so */
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(gort_prof_folded(m), 0);
	fclose(m);
	ck_assert_msg(strstr(text, ";first_insn_caller;first_insn_target;gort_sched_asyncpreempt "),
		"folded stacks:\n%s", text);
	ck_assert_msg(!strstr(text, "first_insn_before"), "folded stacks:\n%s", text);
	free(text);
	return 0;
}

START_TEST(interrupted_at_first_instruction)
{
	RUN(1, first_insn_main, NULL);
}
END_TEST

/* --- Go's pprof reads it ---------------------------------------------------- */

static int pprof_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_prof_start(tmpfile_named("go.prof"), 500), 0);
	gort_labels_set(gort_labels_with(NULL, "worker", "a"));
	burn_a(200000000);
	ck_assert_int_eq(gort_prof_stop(), 0);
	return 0;
}

START_TEST(go_pprof_reads_it)
{
	ck_assert_int_eq(gort_main(pprof_main, NULL), 0);
	if (!have_go("go_pprof_reads_it"))
		return;
	char args[512];
	snprintf(args, sizeof args, "-raw %s", tmpfile_named("go.prof"));
	const char *out = go_pprof(args);
	ck_assert_msg(strstr(out, "samples/count cpu/nanoseconds"), "pprof -raw says:\n%s", out);
	ck_assert_msg(strstr(out, "burn_a"), "pprof -raw says:\n%s", out);
	ck_assert_msg(strstr(out, "worker:[a]"), "pprof -raw says:\n%s", out);
	ck_assert_msg(strstr(out, "gort ledger"), "pprof -raw says:\n%s", out);
	snprintf(args, sizeof args, "-top -tagfocus worker=a %s", tmpfile_named("go.prof"));
	out = go_pprof(args);
	ck_assert_msg(strstr(out, "burn_a"), "pprof -top -tagfocus says:\n%s", out);
}
END_TEST

/* --- a buffer small enough to overflow: the ledger stays exact -----------
 * The reader is held off until the buffer has overflowed, so that it fills
 * however little CPU this thread gets between two drains on a busy machine;
 * then it drains again while the writer goes on. */

/* This M's handler runs on this thread: a volatile read sees its count. */
static uint64_t lostfull_here(void)
{
	return *(volatile uint64_t *)&gort_sched_m->prof_lostfull;
}

static int overflow_main(void *arg)
{
	(void)arg;
	atomic_store32(&gort_prof_reader_hold, 1);
	ck_assert_int_eq(gort_prof_start(tmpfile_named("small.prof"), 1000), 0);
	while (lostfull_here() == 0)   /* a hang here is Check's timeout */
		burn_a(1000000);
	atomic_store32(&gort_prof_reader_hold, 0);
	burn_a(200000000);
	ck_assert_int_eq(gort_prof_stop(), 0);
	struct gort_prof_stats st;
	ck_assert_int_eq(gort_prof_stats(&st), 0);
	ck_assert_uint_gt(st.lost_full, 0);
	ck_assert_uint_gt(st.samples, 0);
	ck_assert_uint_eq(st.signals, st.samples + st.lost_atomic64 + st.lost_full);
	/* the loss is in the profile, with its weight */
	uintptr_t pc = gort_prof_pc(PC_LOSTEVENT);
	uint64_t lost = 0, counted = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next) {
			counted += e->count;
			if (e->nstk == 2 && e->stk[0] == pc)
				lost += e->count;
		}
	ck_assert_uint_eq(lost, st.lost_full);
	ck_assert_uint_eq(counted, st.signals + st.external);
	return 0;
}

START_TEST(ledger_with_overflow)
{
	setenv("GORTDEBUG", "profbuf=64", 1);
	gort_runtime_debug_init();
	RUN(1, overflow_main, NULL);
}
END_TEST

/* --- bad arguments ------------------------------------------------------------ */

static int args_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_prof_start(tmpfile_named("x.prof"), 0), -EINVAL);
	ck_assert_int_eq(gort_prof_start(tmpfile_named("x.prof"), -5), -EINVAL);
	ck_assert_int_eq(gort_prof_start(tmpfile_named("x.prof"), 1000000), -EINVAL);
	ck_assert_int_eq(gort_prof_start(NULL, 100), -EINVAL);
	ck_assert_int_eq(gort_prof_start("/nonexistent-dir/x.prof", 100), -ENOENT);
	ck_assert_int_eq(gort_prof_start_fd(-1, 100), -EBADF);
	ck_assert_int_eq(gort_prof_stop(), -EINVAL);
	ck_assert_int_eq(gort_prof_start(tmpfile_named("x.prof"), 100), 0);
	ck_assert_int_eq(gort_prof_start(tmpfile_named("y.prof"), 100), -EBUSY);
	struct gort_prof_stats st;
	ck_assert_int_eq(gort_prof_stats(&st), -EBUSY);
	ck_assert_int_eq(gort_prof_stop(), 0);
	/* start and stop in a loop, with signals in flight */
	for (int i = 0; i < 30; i++) {
		ck_assert_int_eq(gort_prof_start(tmpfile_named("loop.prof"), 5000), 0);
		burn_a(5000000);
		ck_assert_int_eq(gort_prof_stop(), 0);
	}
	return 0;
}

START_TEST(bad_arguments)
{
	RUN(2, args_main, NULL);
}
END_TEST

/* --- a start racing a stop ----------------------------------------------------
 * The live endpoint starts and stops the profiler from whichever
 * connection asks, so a start can come while another caller's stop is
 * still writing its profile.  That start must be -EBUSY: taking the
 * profiler then would hand the stopping caller's reader thread, table and
 * descriptor to the new profile (a stop that joins the wrong thread, or
 * writes to a descriptor already let go: -EBADF). */
struct startstop {
	int fd, rounds, wins;
	gort_waitgroup *wg;
};

static void startstop_loop(void *arg)
{
	struct startstop *a = arg;
	for (int i = 0; i < a->rounds; i++) {
		int e = gort_prof_start_fd(a->fd, 1000);
		if (e == 0) {
			a->wins++;
			ck_assert_int_eq(gort_prof_stop(), 0);
		} else {
			ck_assert_int_eq(e, -EBUSY);
			gort_yield();
		}
	}
	gort_waitgroup_done(a->wg);
}

static int startstop_main(void *arg)
{
	(void)arg;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	gort_waitgroup wg = { 0 };
	struct startstop a[3];
	gort_waitgroup_add(&wg, 3);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct startstop){ fd, 300 / SCALE, 0, &wg };
		gort_go(startstop_loop, &a[i]);
	}
	gort_waitgroup_wait(&wg);
	ck_assert_int_gt(a[0].wins + a[1].wins + a[2].wins, 0);
	close(fd);
	return 0;
}

START_TEST(start_during_stop_is_busy)
{
	gort_gomaxprocs(3);
	ck_assert_int_eq(gort_main(startstop_main, NULL), 0);
}
END_TEST

/* --- special files ------------------------------------------------------------
 * A regular file is written beside itself and renamed into place (through
 * a symlink: the file it leads to); a device or FIFO is written where it
 * is.  Renaming over /dev/null as root turns the machine's /dev/null into a
 * plain file holding a gzip'd profile (gort did this once); as another user
 * the rename fails.  Either way this fails. */

static void profile_briefly(const char *path)
{
	ck_assert_int_eq(gort_prof_start(path, 1000), 0);
	burn_a(2000000);
	ck_assert_int_eq(gort_prof_stop(), 0);
}

static void assert_gzip_at(int fd)
{
	unsigned char magic[2] = { 0, 0 };
	ck_assert_int_eq(read(fd, magic, 2), 2);
	ck_assert_msg(magic[0] == 0x1f && magic[1] == 0x8b, "no gzip header: %02x %02x", magic[0], magic[1]);
}

static int special_main(void *arg)
{
	(void)arg;
	struct stat sb;
	profile_briefly("/dev/null");
	ck_assert_int_eq(stat("/dev/null", &sb), 0);
	ck_assert_msg(S_ISCHR(sb.st_mode), "/dev/null is no longer a device");

	/* a FIFO: the profile arrives through it (it fits the pipe's buffer) */
	char fifo[256], target[256], link[256];
	snprintf(fifo, sizeof fifo, "%s", tmpfile_named("fifo.prof"));
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rfd, 0);
	profile_briefly(fifo);
	assert_gzip_at(rfd);
	close(rfd);
	ck_assert_int_eq(lstat(fifo, &sb), 0);
	ck_assert(S_ISFIFO(sb.st_mode));

	/* a symlink: the link stays, its target gets the profile */
	snprintf(target, sizeof target, "%s", tmpfile_named("target.prof"));
	snprintf(link, sizeof link, "%s", tmpfile_named("link.prof"));
	close(open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	ck_assert_int_eq(symlink(target, link), 0);
	profile_briefly(link);
	ck_assert_int_eq(lstat(link, &sb), 0);
	ck_assert_msg(S_ISLNK(sb.st_mode), "the symlink was replaced by a file");
	int tfd = open(target, O_RDONLY);
	ck_assert_int_ge(tfd, 0);
	assert_gzip_at(tfd);
	close(tfd);
	return 0;
}

START_TEST(special_files_written_in_place)
{
	RUN(1, special_main, NULL);
}
END_TEST

/* --- the previous profile survives until a whole new one replaces it ------
 * A symlink's target used to be opened with O_TRUNC at start: a program
 * killed while profiling left an empty file where the last profile was.
 * And a temporary left by a program that died stayed for ever. */

static const char old_profile[] = "the previous profile\n";

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static void assert_old_profile(const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	ck_assert_msg(strcmp(buf, old_profile) == 0, "%s holds %zd bytes, not the previous profile: \"%s\"",
		path, n, buf);
}

static void assert_link(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert_msg(S_ISLNK(sb.st_mode), "%s is no longer a symlink", path);
}

/* How many entries of dir have ".tmp." in their name; removes them if told. */
static int temporaries(const char *dir, int remove)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (!strstr(e->d_name, ".tmp."))
			continue;
		n++;
		if (remove) {
			char p[512];
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	closedir(d);
	return n;
}

/* dir/abs -> (absolute) dir/a/rel -> ../b/rel -> t.prof, all in dir/b:
 * a chain of absolute and relative links across two directories. */
struct chain {
	char dir[256], a[300], b[300], abs[300], rel[300], brel[300], target[300];
};

static void make_chain(struct chain *ch, const char *name)
{
	snprintf(ch->dir, sizeof ch->dir, "%s", tmpfile_named(name));
	snprintf(ch->a, sizeof ch->a, "%s/a", ch->dir);
	snprintf(ch->b, sizeof ch->b, "%s/b", ch->dir);
	snprintf(ch->abs, sizeof ch->abs, "%s/abs", ch->dir);
	snprintf(ch->rel, sizeof ch->rel, "%s/a/rel", ch->dir);
	snprintf(ch->brel, sizeof ch->brel, "%s/b/rel", ch->dir);
	snprintf(ch->target, sizeof ch->target, "%s/b/t.prof", ch->dir);
	ck_assert_int_eq(mkdir(ch->dir, 0755), 0);
	ck_assert_int_eq(mkdir(ch->a, 0755), 0);
	ck_assert_int_eq(mkdir(ch->b, 0755), 0);
	write_file(ch->target, old_profile);
	ck_assert_int_eq(symlink("t.prof", ch->brel), 0);
	ck_assert_int_eq(symlink("../b/rel", ch->rel), 0);
	ck_assert_int_eq(symlink(ch->rel, ch->abs), 0);
}

static void assert_chain_intact(const struct chain *ch)
{
	assert_link(ch->abs);
	assert_link(ch->rel);
	assert_link(ch->brel);
}

static int symlink_main(void *arg)
{
	(void)arg;
	struct chain ch;
	make_chain(&ch, "chain");
	ck_assert_int_eq(gort_prof_start(ch.abs, 1000), 0);
	burn_a(20000000);
	/* profiling: nothing the links lead to has changed yet */
	assert_old_profile(ch.target);
	assert_chain_intact(&ch);
	ck_assert_int_eq(temporaries(ch.b, 0), 1);
	ck_assert_int_eq(gort_prof_stop(), 0);
	/* stopped: the links are links still, and the file they lead to is the
	 * new profile */
	assert_chain_intact(&ch);
	int fd = open(ch.abs, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	assert_gzip_at(fd);
	close(fd);
	ck_assert_int_eq(temporaries(ch.a, 0) + temporaries(ch.b, 0) + temporaries(ch.dir, 0), 0);
	return 0;
}

START_TEST(symlink_target_kept_until_replaced)
{
	RUN(1, symlink_main, NULL);
}
END_TEST

/* SIGTERM and SIGINT mid-profile: the runtime has no say, the process just
 * ends -- and the file the links lead to must still be the old profile. */
static const int killers[] = { SIGTERM, SIGINT };
static struct chain kill_chain;

static int killed_main(void *arg)
{
	if (gort_prof_start(kill_chain.abs, 1000) != 0)
		return 1;
	burn_a(20000000);
	raise(*(const int *)arg);
	return 1;
}

static void killed_child(void *arg)
{
	/* Check's runner forwards SIGINT and SIGTERM to the whole test's
	 * process group, and its handler is inherited: this child must die of
	 * the signal alone, as a program does. */
	signal(*(const int *)arg, SIG_DFL);
	exit(gort_main(killed_main, arg));
}

START_TEST(symlink_target_survives_kill)
{
	char name[32];
	snprintf(name, sizeof name, "killed-%d", _i);
	make_chain(&kill_chain, name);
	struct child c;
	run_child(killed_child, (void *)&killers[_i], &c, 30);
	ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == killers[_i],
		"want the child killed by signal %d; status %#x; output:\n%s", killers[_i], c.status, c.out);
	assert_old_profile(kill_chain.target);
	assert_chain_intact(&kill_chain);
	temporaries(kill_chain.b, 1);   /* the dead program's: nothing could remove it */
}
END_TEST

/* Every way the runtime ends a process while profiling removes the
 * temporary and leaves the previous profile. */
enum dying { THROW, PANIC, DEADLOCK, SIGQUIT_DUMP, MAIN_RETURNS, EXIT, ENV_THROW, NDEATHS };
static const struct {
	const char *name;
	int status;
	const char *says;
} deaths[NDEATHS] = {
	[THROW] = { "throw", 2, "fatal error: dying while profiling\n" },
	[PANIC] = { "panic", 2, "panic: dying while profiling\n" },
	[DEADLOCK] = { "deadlock", 2, "fatal error: all goroutines are asleep - deadlock!\n" },
	[SIGQUIT_DUMP] = { "sigquit", 2, "SIGQUIT: quit\n" },
	[MAIN_RETURNS] = { "main-returns", 0, "" },
	[EXIT] = { "exit", 3, "" },
	[ENV_THROW] = { "gortprof-throw", 2, "fatal error: dying while profiling\n" },
};
static char death_path[300];

static int dying_main(void *arg)
{
	enum dying d = (enum dying)(intptr_t)arg;
	if (d != ENV_THROW && gort_prof_start(death_path, 1000) != 0)
		return 1;
	burn_a(20000000);
	switch (d) {
	case THROW:
	case ENV_THROW:
		gort_runtime_throw("dying while profiling");
	case PANIC:
		gort_runtime_panic("dying while profiling");
	case DEADLOCK:
		gort_chan_recv(gort_chan_make(sizeof(int), 0), NULL);
		break;
	case SIGQUIT_DUMP:
		pthread_kill(pthread_self(), SIGQUIT);
		break;
	case MAIN_RETURNS:
		return 0;   /* without gort_prof_stop */
	case EXIT:
		exit(3);
	case NDEATHS:
		break;
	}
	return 1;
}

static void dying_child(void *arg)
{
	if ((enum dying)(intptr_t)arg == ENV_THROW) {
		char env[400];
		snprintf(env, sizeof env, "%s:1000", death_path);
		setenv("GORTPROF", env, 1);
	}
	exit(gort_main(dying_main, arg));
}

START_TEST(temporary_removed_when_dying)
{
	char name[64], dir[256];
	snprintf(name, sizeof name, "dying-%s", deaths[_i].name);
	snprintf(dir, sizeof dir, "%s", tmpfile_named(name));
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(death_path, sizeof death_path, "%s/cpu.prof", dir);
	write_file(death_path, old_profile);
	struct child c;
	run_child(dying_child, (void *)(intptr_t)_i, &c, 30);
	ck_assert_exit_status(&c, deaths[_i].status);
	ck_assert_output_has(&c, deaths[_i].says);
	ck_assert_msg(temporaries(dir, 0) == 0, "%s: a temporary is left in %s", deaths[_i].name, dir);
	assert_old_profile(death_path);
}
END_TEST

/* --- the environment variables: errors as they start, named as such ------ */

static int says_main(void *arg)
{
	(void)arg;
	fprintf(stderr, "main ran\n");
	return 0;
}

static void env_child(void *arg)
{
	const char *const *kv = arg;
	setenv(kv[0], kv[1], 1);
	exit(gort_main(says_main, NULL));
}

START_TEST(gorttrace_bad_path_reported_at_start)
{
	char path[300], want[400];
	snprintf(path, sizeof path, "%s/no-such-dir/trace.json", tmpdir);
	snprintf(want, sizeof want, "gort: GORTTRACE=%s: No such file or directory\n", path);
	const char *kv[2] = { "GORTTRACE", path };
	struct child c;
	run_child(env_child, kv, &c, 30);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, want);
	ck_assert_msg(strstr(c.out, want) < strstr(c.out, "main ran\n"),
		"reported only after main ran:\n%s", c.out);
}
END_TEST

START_TEST(gortprof_long_path_named_as_such)
{
	static char path[5001];
	memset(path, 'x', sizeof path - 1);
	memcpy(path, tmpdir, strlen(tmpdir));
	path[strlen(tmpdir)] = '/';
	const char *kv[2] = { "GORTPROF", path };
	struct child c;
	run_child(env_child, kv, &c, 30);
	/* (the output repeats the name: Check cannot carry all of it) */
	ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "status %#x", c.status);
	ck_assert_msg(strncmp(c.out, "gort: GORTPROF=/tmp/", 20) == 0 && strstr(c.out, "x: File name too long\n"),
		"want \"gort: GORTPROF=...: File name too long\", got: %.60s...%.60s", c.out,
		c.len > 60 ? c.out + c.len - 60 : c.out);
}
END_TEST

/* --- the seed: golang/go#20146 ------------------------------------------------
 * TestAtomicLoadStore64, in C: with profiling on, a goroutine spins on a
 * 64-bit atomic load and a yield until another goroutine sets the flag 50
 * ms later.  On spinlock-emulated atomics a SIGPROF that lands inside the
 * load's critical section must not hang the program. */

static volatile uint64_t flag __attribute__((aligned(8)));
static gort_chan *done;

static void spinner(void *arg)
{
	(void)arg;
	while (gort_atomic_load64(&flag) == 0)
		gort_yield();
	int v = 1;
	gort_chan_send(done, &v);
}

static int seed_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_prof_start(tmpfile_named("seed.prof"), 1000), 0);
	done = gort_chan_make(sizeof(int), 1);
	gort_go(spinner, NULL);
	gort_sleep(50000000);
	gort_atomic_store64(&flag, 1);
	int v;
	gort_chan_recv(done, &v);
	ck_assert_int_eq(gort_prof_stop(), 0);
	struct gort_prof_stats st;
	ck_assert_int_eq(gort_prof_stats(&st), 0);
	ck_assert_uint_eq(st.signals, st.samples + st.lost_atomic64 + st.lost_full);
	return 0;
}

START_TEST(seed_atomic_load_store64)
{
	RUN(2, seed_main, NULL);
}
END_TEST

/* The hammer: goroutines doing nothing but 64-bit atomics on words that,
 * between them, use every lock of the table -- so whichever lock the
 * profile buffer's positions hash to, SIGPROF keeps landing while it is
 * held.  A watchdog thread (not a gort thread) sees progress stop.  Both
 * go by CPU time, not wall time: a busy machine slows the hammer down but
 * neither costs it signals nor looks like a hang (a hung handler spins,
 * and so burns CPU; a starved process burns none). */

#define NWORDS (8 * GORT_ATOMIC64_LOCKS)
static uint64_t words[NWORDS * 8] __attribute__((aligned(64)));
static volatile uint32_t progress, hammer_stop;

static void hammer(void *arg)
{
	uintptr_t k = (uintptr_t)arg;
	while (!atomic_load32(&hammer_stop)) {
		for (int i = 0; i < NWORDS; i++) {
			volatile uint64_t *w = &words[((size_t)i * 8 + k) % (NWORDS * 8)];
			gort_atomic_add64(w, 1);
			gort_atomic_load64(w);
		}
		atomic_add32(&progress, 1);
		gort_yield();   /* gort does not preempt: let main's timer fire */
	}
	gort_waitgroup_done(&wg);
}

static int64_t process_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *watchdog(void *arg)
{
	(void)arg;
	uint32_t last = 0;
	int64_t since = process_cpu();
	for (;;) {
		usleep(100000);
		uint32_t p = atomic_load32(&progress);
		if (p != last) {
			last = p;
			since = process_cpu();
			continue;
		}
		if (process_cpu() - since < 2000000000)
			continue;
		/* Two seconds of CPU without progress: where is everyone? */
		for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink)
			if (m->in_sighandler)
				printf("watchdog: M%lld stuck in its SIGPROF handler\n", (long long)m->id);
		printf("watchdog: no progress in 2 s of CPU time: deadlock\n");
		fflush(stdout);
		_exit(42);
	}
	return NULL;
}

static int hammer_main(void *arg)
{
	int seconds = (int)(intptr_t)arg;
	pthread_t t;
	pthread_create(&t, NULL, watchdog, NULL);
	ck_assert_int_eq(gort_prof_start(tmpfile_named("hammer.prof"), 1000), 0);
	gort_waitgroup_add(&wg, 4);
	for (uintptr_t k = 0; k < 4; k++)
		gort_go(hammer, (void *)k);
	for (int64_t c0 = process_cpu(); process_cpu() - c0 < (int64_t)seconds * 1000000000;)
		gort_sleep(10000000);
	atomic_store32(&hammer_stop, 1);
	gort_waitgroup_wait(&wg);
	ck_assert_int_eq(gort_prof_stop(), 0);
	struct gort_prof_stats st;
	ck_assert_int_eq(gort_prof_stats(&st), 0);
	ck_assert_uint_eq(st.signals, st.samples + st.lost_atomic64 + st.lost_full);
	/* the lost-in-atomic64 sample is in the profile, with the ledger's weight */
	uintptr_t pc = gort_prof_pc(PC_LOSTATOMIC);
	uint64_t lost = 0;
	for (size_t b = 0; b < gort_prof_last.nbuckets; b++)
		for (const struct profentry *e = gort_prof_last.buckets[b]; e; e = e->next)
			if (e->nstk == 2 && e->stk[0] == pc && e->stk[1] == gort_prof_pc(PC_SYSTEM))
				lost += e->count;
	ck_assert_uint_eq(lost, st.lost_atomic64);
	if (GORT_ATOMIC64_SPINLOCK && gort_prof_fix)
		ck_assert_msg(st.lost_atomic64 > 0, "no SIGPROF landed in atomic64 code in %d s of CPU", seconds);
	printf("hammer: %llu signals, %llu lost in atomic64\n", (unsigned long long)st.signals,
		(unsigned long long)st.lost_atomic64);
	return 0;
}

static void hammer_child(void *arg)
{
	setenv("GORTDEBUG", arg, 1);
	gort_runtime_debug_init();
	gort_gomaxprocs(2);
	exit(gort_main(hammer_main, (void *)(intptr_t)3));
}

START_TEST(fix_on_no_deadlock)
{
	struct child c;
	run_child(hammer_child, "lostatomic64=1", &c, 60);
	ck_assert_exit_status(&c, 0);
	ck_assert_output_has(&c, "hammer: ");
}
END_TEST

START_TEST(fix_off_deadlocks)
{
	struct child c;
	run_child(hammer_child, "lostatomic64=0", &c, 60);
	if (!GORT_ATOMIC64_SPINLOCK) {
		/* Lock-free 64-bit atomics: there is no lock to deadlock on, and
		 * the fix has nothing to do.  The program must simply work. */
		printf("fix_off_deadlocks: not applicable to the native backend: ran clean\n");
		ck_assert_exit_status(&c, 0);
		return;
	}
	if (GORT_PROFBUF_NATIVE32) {
		/* The other way out: the buffer's positions are native 32-bit
		 * atomics, the handler never takes an atomic64 lock, and the
		 * program needs no fix. */
		printf("fix_off_deadlocks: native32 positions: no hazard: ran clean\n");
		ck_assert_exit_status(&c, 0);
		return;
	}
	/* The hazard is real: without the fix the program hangs.  A debug
	 * runtime sees the handler want the lock its own thread holds and
	 * says so at once; otherwise the watchdog finds a handler stuck. */
	if (GORT_DEBUG_RUNTIME) {
		ck_assert_exit_status(&c, 2);
		ck_assert_output_has(&c, "deadlock: SIGPROF handler on M");
		ck_assert_output_has(&c, "gort_prof_buf_write()");
	} else {
		ck_assert_exit_status(&c, 42);
		ck_assert_output_has(&c, "stuck in its SIGPROF handler");
	}
}
END_TEST

/* --- the malloc trap ----------------------------------------------------- */

#ifndef GORT_NO_MALLOCTRAP
static int trap_main(void *arg)
{
	(void)arg;
	/* What the SIGPROF handler sets while it runs: */
	gort_sched_m->in_sighandler = 1;
	void *volatile p = malloc(16);
	gort_sched_m->in_sighandler = 0;
	free(p);
	return 0;
}

static void trap_child(void *arg)
{
	(void)arg;
	exit(gort_main(trap_main, NULL));
}
#endif

START_TEST(malloc_in_handler_is_fatal)
{
#ifdef GORT_NO_MALLOCTRAP
	printf("malloc_in_handler_is_fatal: SKIPPED: the sanitizers own malloc in this build\n");
#else
	struct child c;
	run_child(trap_child, NULL, &c, 30);
	ck_assert_exit_status(&c, 2);
	ck_assert_output_has(&c, "fatal error: malloc called in a signal handler\n");
	ck_assert_output_has(&c, "trap_main()");
#endif
}
END_TEST

/* --- symbolize.c: names, files and lines at write time ---------------------- */

START_TEST(paths_cleaned)
{
	static const struct {
		const char *dir, *file, *want;
	} cases[] = {
		{ NULL, "/usr/include/atomic_ops/sysdeps/gcc/generic-small.h",
		  "/usr/include/atomic_ops/sysdeps/gcc/generic-small.h" },   /* clean already */
		{ "/work/b", "../../tests/x.c", "/tests/x.c" },
		{ "/work/build", "../tests/./x.c", "/work/tests/x.c" },
		{ "/w", "a//b/c.c", "/w/a/b/c.c" },
		{ NULL, "/a/b/..", "/a" },
		{ NULL, "rel.c", "rel.c" },
		{ "/d", "/abs.c", "/abs.c" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* garbage after the terminator must stay unread */
		char buf[256];
		memset(buf, 0xa7, sizeof buf);
		gort_prof_cleanpath(buf, sizeof buf, cases[i].dir, cases[i].file);
		ck_assert_msg(strcmp(buf, cases[i].want) == 0, "cleanpath(%s, %s) = \"%s\", not \"%s\"",
			cases[i].dir ? cases[i].dir : "NULL", cases[i].file, buf, cases[i].want);
	}
}
END_TEST

START_TEST(clone_suffixes_folded)
{
	static const struct {
		const char *raw;
		size_t clean;
	} cases[] = {
		{ "burn_inl.constprop.0", 8 },
		{ "burn.isra.0", 4 },
		{ "burn.part.12", 4 },
		{ "burn.cold", 4 },
		{ "burn.cold.3", 4 },
		{ "burn.lto_priv.0", 4 },
		{ "burn.constprop.0.isra.0", 4 },
		{ "burn.isra.0.cold", 4 },
		{ "burn.part.0.constprop.1.cold", 4 },
		{ "burn.llvm.8812345", 4 },
		{ "memcpy@@GLIBC_2.14", 6 },
		{ "clock_gettime@GLIBC_2.2.5", 13 },
		{ "burn", 4 },
		{ ".cold", 5 },            /* nothing in front: a name of its own */
		{ "burn.0", 6 },           /* a number alone is no clone's */
		{ "burn.constpropx.0", 17 },
		{ "burn.notaclone", 14 },
		{ "constprop", 9 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(gort_prof_cleanlen(cases[i].raw) == cases[i].clean,
			"gort_prof_cleanlen(\"%s\") = %zu, not %zu", cases[i].raw,
			gort_prof_cleanlen(cases[i].raw), cases[i].clean);
}
END_TEST

static uintptr_t probe_ret;

static __attribute__((noinline)) void probe(void)
{
	probe_ret = (uintptr_t)__builtin_return_address(0);
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) int probe_caller(void)
{
	probe(); int line = __LINE__;   /* the call and its line, on one line */
	__asm__ __volatile__("" ::: "memory");
	return line;
}

/* A return address - 1 is the call: the symbolizer names the caller, and
 * with libdw gives this file and the call's line. */
/* A PLT stub is named after the function it jumps to, "target@plt", on
 * the targets whose stubs the writer decodes: the first stub of this
 * executable's PLT (found from its section headers, which the test reads
 * itself), named by the symbolizer. */
static int first_stub(uintptr_t *out)
{
	uintptr_t at;
	size_t size;
#if defined(__x86_64__)
	/* the IBT layout's jumps are in .plt.sec; else .plt's second entry */
	if (exe_section(".plt.sec", &at, &size) && size >= 16)
		return *out = at + 4, 1;
	if (exe_section(".plt", &at, &size) && size >= 32)
		return *out = at + 16 + 4, 1;
#elif defined(__aarch64__)
	if (exe_section(".plt", &at, &size) && size >= 48)
		return *out = at + 32 + 4, 1;
#elif defined(__mips__)
	if (exe_section(".MIPS.stubs", &at, &size) && size >= 16)
		return *out = at + 4, 1;
#endif
	(void)at, (void)size;
	return 0;
}

START_TEST(names_a_plt_stub)
{
#if defined(__x86_64__) || defined(__aarch64__) || defined(__mips__)
	uintptr_t stub;
	ck_assert_msg(first_stub(&stub), "this executable has no PLT");
	struct symbolizer *s = gort_prof_sym_open();
	ck_assert_ptr_nonnull(s);
	struct symframe f[8];
	size_t map = 0;
	unsigned flags = 0;
	int n = gort_prof_sym_lookup(s, stub, f, 8, &map, &flags);
	ck_assert_msg(n >= 1, "the PLT stub at %#lx has no name", (unsigned long)stub);
	size_t len = strlen(f[n - 1].name);
	ck_assert_msg(len > 4 && strcmp(f[n - 1].name + len - 4, "@plt") == 0,
		"the PLT stub at %#lx is named %s", (unsigned long)stub, f[n - 1].name);
	gort_prof_sym_close(s);
#endif
}
END_TEST

START_TEST(symbolizes_a_call)
{
	int line = probe_caller();
	struct symbolizer *s = gort_prof_sym_open();
	ck_assert_ptr_nonnull(s);
	struct symframe f[8];
	size_t map = 0;
	unsigned flags = 0;
	int n = gort_prof_sym_lookup(s, probe_ret - 1, f, 8, &map, &flags);
	ck_assert_int_ge(n, 1);
	ck_assert_uint_ne(map, 0);
	const struct symmap *m = gort_prof_sym_map(s, map - 1);
	ck_assert_msg(probe_ret - 1 >= m->start && probe_ret - 1 < m->limit, "the address lies outside its mapping");
	ck_assert_str_eq(f[n - 1].name, "probe_caller");
	ck_assert(flags & SYM_FUNCTION);
#if GORT_HAVE_LIBDW
	ck_assert_uint_eq(flags, SYM_FUNCTION | SYM_FILE | SYM_LINE | SYM_INLINE);
	ck_assert_ptr_nonnull(f[n - 1].file);
	ck_assert_msg(strstr(f[n - 1].file, "/tests/test_prof.c"), "file %s", f[n - 1].file);
	ck_assert_msg(!strstr(f[n - 1].file, "/../"), "file %s is not clean", f[n - 1].file);
	ck_assert_int_eq(f[n - 1].line, line);
	ck_assert_int_gt(f[n - 1].start_line, 0);
	ck_assert_int_lt(f[n - 1].start_line, line);
#else
	ck_assert_uint_eq(flags, SYM_FUNCTION);   /* names only, and says so */
	ck_assert_ptr_null(f[n - 1].file);
	(void)line;
#endif
	gort_prof_sym_close(s);
}
END_TEST

/* gort_prof_write at the scale of a goroutine profile: thousands of
 * samples over thousands of addresses, every frame a return address
 * (leaf_exact 0).  pprof must find each address once, as the call before
 * it, and every sample: the hash tables grow many times on the way. */
#define WSAMPLES 5000
#define WADDRS 3000
#define WDEPTH 8

struct wgen {
	uintptr_t addr[WADDRS];
	unsigned char used[WADDRS];
	uintptr_t stk[WDEPTH];
	int64_t v[1];
	uint32_t seed;
	int i;
};

static int wnext(void *arg, struct pprof_sample *s)
{
	struct wgen *g = arg;
	if (g->i++ == WSAMPLES)
		return 0;
	for (int k = 0; k < WDEPTH; k++) {
		g->seed = g->seed * 1103515245 + 12345;
		int j = (int)((g->seed >> 8) % WADDRS);
		g->used[j] = 1;
		g->stk[k] = g->addr[j];
	}
	g->v[0] = g->i;
	*s = (struct pprof_sample){ .stk = g->stk, .nstk = WDEPTH, .values = g->v };
	return 1;
}

START_TEST(writer_at_scale)
{
	static struct wgen g;
	struct symbolizer *sym = gort_prof_sym_open();
	ck_assert_ptr_nonnull(sym);
	const struct symmap *m = gort_prof_sym_map(sym, 0);   /* this executable's code */
	for (int i = 0; i < WADDRS; i++)
		g.addr[i] = m->start + 1 + (uintptr_t)i * ((m->limit - m->start - 1) / WADDRS);
	gort_prof_sym_close(sym);
	g.seed = 7;
	static const struct pprof_valtype types[1] = { { "goroutine", "count" } };
	struct pprof_spec spec = { .types = types, .ntypes = 1, .period_type = { "goroutine", "count" },
		.period = 1, .leaf_exact = 0 };
	const char *path = tmpfile_named("scale.prof");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(gort_prof_write(&spec, wnext, &g, fd), 0);
	close(fd);
	if (!have_go("writer_at_scale"))
		return;
	int distinct = 0;
	for (int i = 0; i < WADDRS; i++)
		distinct += g.used[i];
	char cmd[512], line[4096];
	snprintf(cmd, sizeof cmd, "go tool pprof -raw %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	int section = 0, samples = 0, locs = 0, found = 0;
	char want[32];
	snprintf(want, sizeof want, " 0x%lx ", (unsigned long)(g.stk[0] - 1));
	while (fgets(line, sizeof line, p)) {
		if (strncmp(line, "Samples:", 8) == 0)
			section = 1;
		else if (strncmp(line, "Locations", 9) == 0)
			section = 2;
		else if (strncmp(line, "Mappings", 8) == 0)
			section = 3;
		else if (section == 1 && strchr(line, ':') && line[0] == ' ')
			samples++;
		else if (section == 2 && strstr(line, ": 0x")) {
			locs++;
			found |= strstr(line, want) != NULL;
		}
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_int_eq(samples, WSAMPLES);
	ck_assert_int_eq(locs, distinct);
	ck_assert_msg(found, "no location at the last frame's return address - 1 (%s)", want);
}
END_TEST

/* --- the live endpoint (prof/pprofhttp.c) ------------------------------------ */

/* How many goroutines carry the endpoint's label (status not dead). */
static int pprof_labelled(void)
{
	int n = 0;
	gort_sched_lock(&gort_sched.allglock);
	for (struct g *gp = gort_sched.allgs; gp; gp = gp->alllink) {
		const char *v = gp->labels ? gort_labels_value(gp->labels, "gort") : NULL;
		if (v && strcmp(v, "pprof-http") == 0 && atomic_load32(&gp->status) != Gdead)
			n++;
	}
	gort_sched_unlock(&gort_sched.allglock);
	return n;
}

/* GET path from the endpoint on port; the whole answer into buf (at most
 * max - 1 bytes, NUL-terminated): its length.  While it waits, *running
 * (if not NULL) is set once the CPU profiler is seen running -- which
 * this goroutine can see only if the server's wait leaves the thread. */
static size_t pprof_get(int port, const char *path, char *buf, size_t max, int *running)
{
	char addr[32], rq[256];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	int64_t deadline = gort_now() + 60 * 1000000000LL;
	int fd = gort_dial("tcp", addr, deadline);
	ck_assert_int_ge(fd, 0);
	int n = snprintf(rq, sizeof rq, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	ck_assert_int_eq(gort_write(fd, rq, (size_t)n, deadline), n);
	size_t len = 0;
	for (;;) {
		struct gort_prof_stats st;
		if (running && gort_prof_stats(&st) == -EBUSY)
			*running = 1;
		int w = gort_fd_wait(fd, GORT_READ, running ? gort_now() + 1000000 : deadline);
		if (w == -ETIMEDOUT && gort_now() < deadline) {
			gort_yield();
			continue;
		}
		ck_assert_int_eq(w, 0);
		ssize_t r = gort_read(fd, buf + len, max - 1 - len, deadline);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		len += (size_t)r;
		ck_assert_uint_lt(len, max - 1);
	}
	buf[len] = '\0';
	gort_close(fd);
	return len;
}

static int serve_api_main(void *arg)
{
	(void)arg;
	ck_assert_int_eq(gort_prof_serve_port(), -ENOTCONN);
	ck_assert_int_eq(gort_prof_serve(NULL), -EINVAL);
	ck_assert_int_eq(gort_prof_serve(""), -EINVAL);
	ck_assert_int_eq(gort_prof_serve("6060"), -EINVAL);
	ck_assert_int_eq(gort_prof_serve("127.0.0.1:http-alt-no-such-service"), -EINVAL);
	int taken = gort_listen("tcp", "127.0.0.1:0");
	ck_assert_int_ge(taken, 0);
	char addr[64];
	ck_assert_int_gt(gort_localaddr(taken, addr, sizeof addr), 0);
	ck_assert_int_eq(gort_prof_serve(addr), -EADDRINUSE);
	ck_assert_int_eq(gort_prof_serve_port(), -ENOTCONN);   /* a failure leaves nothing */
	gort_close(taken);

	ck_assert_int_eq(gort_prof_serve("127.0.0.1:0"), 0);
	int port = gort_prof_serve_port();
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(gort_prof_serve("127.0.0.1:0"), -EBUSY);

	static char buf[1 << 16];
	size_t n = pprof_get(port, "/debug/pprof/", buf, sizeof buf, NULL);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.*s", (int)n, buf);
	ck_assert_ptr_nonnull(strstr(buf, "<a href='goroutine'>goroutine</a>"));
	ck_assert_int_ge(pprof_labelled(), 1);   /* the accept loop, at least */

	/* One P: the wait for the profile's second must leave it to us. */
	int running = 0;
	n = pprof_get(port, "/debug/pprof/profile?seconds=1", buf, sizeof buf, &running);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.200s", buf);
	char *body = strstr(buf, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq((unsigned char)body[4], 0x1f);
	ck_assert_int_eq((unsigned char)body[5], 0x8b);
	ck_assert_msg(running, "the CPU profile's wait held the only P: nobody saw the profiler run");
	ck_assert_int_eq(gort_prof_stats(&(struct gort_prof_stats){ 0 }), 0);   /* stopped */
	/* The connections' goroutines end once they see our close; until
	 * then their buffers are live (LeakSanitizer would say so at exit). */
	while (pprof_labelled() > 1)
		gort_sleep(1000000);
	return 0;
}

START_TEST(endpoint_api)
{
	gort_gomaxprocs(1);
	ck_assert_int_eq(gort_main(serve_api_main, NULL), 0);
}
END_TEST

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	Suite *s = suite_create("prof");
	TCase *tc = tcase_create("profile");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, profile_is_true, 0, 2);
	tcase_add_test(tc, unwinds_known_chain);
	tcase_add_test(tc, interrupted_at_first_instruction);
	tcase_add_test(tc, go_pprof_reads_it);
	tcase_add_test(tc, ledger_with_overflow);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, start_during_stop_is_busy);
	tcase_add_test(tc, special_files_written_in_place);
	tcase_add_test(tc, malloc_in_handler_is_fatal);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, symlink_target_kept_until_replaced);
	tcase_add_loop_test(tc, symlink_target_survives_kill, 0, 2);
	tcase_add_loop_test(tc, temporary_removed_when_dying, 0, NDEATHS);
	tcase_add_test(tc, gorttrace_bad_path_reported_at_start);
	tcase_add_test(tc, gortprof_long_path_named_as_such);
	suite_add_tcase(s, tc);

	tc = tcase_create("symbolize");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, clone_suffixes_folded);
	tcase_add_test(tc, symbolizes_a_call);
	tcase_add_test(tc, names_a_plt_stub);
	tcase_add_test(tc, paths_cleaned);
	tcase_add_test(tc, writer_at_scale);
	suite_add_tcase(s, tc);

	tc = tcase_create("endpoint");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, endpoint_api);
	suite_add_tcase(s, tc);

	tc = tcase_create("seed");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seed_atomic_load_store64);
	tcase_add_test(tc, fix_on_no_deadlock);
	tcase_add_test(tc, fix_off_deadlocks);
	suite_add_tcase(s, tc);
	int failed = run_suite(s);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed;
}
