/*
 * preempt.c -- preemption: a goroutine that runs for 10 ms without a
 * scheduling point is made to yield (Go: preempt.go, proc.go's
 * retake/preemptone, signal_unix.go's doSigPreempt).
 *
 * Why.  gort switches goroutines only where they call it.  A goroutine in
 * a loop that never does -- a hash, a parser, a spin -- keeps its P for
 * as long as the loop runs: a timer due in 100 ms fires after the loop,
 * and on one P nothing else runs at all.  Go fixed this in 1.14 with
 * asynchronous preemption: sysmon notices a goroutine that has run too
 * long and sends its thread a signal; the handler, if the interrupted PC
 * is a safe point, makes the goroutine call into the scheduler as if it
 * had called Gosched itself at that instruction.
 *
 * The two ways.  sysmon (proc.c) sets gp->preempt on a goroutine that has
 * held its P for 10 ms.
 *
 *   cooperatively  gort_go checks the flag and yields: a spawning loop
 *                  is preempted where it calls gort, without a signal;
 *   asynchronously sysmon also sends SIGURG to the goroutine's thread,
 *                  and the handler below decides.  Go chose SIGURG for
 *                  the same reasons: nobody uses it for anything else
 *                  but out-of-band socket data, whose programs ignore
 *                  a spurious one, and it is not a signal debuggers or
 *                  libc take for themselves.  A SIGURG that is not ours
 *                  (no request pending) goes to whoever had it before.
 *
 * The safe-point rule: the same question the #20146 fix asks of SIGPROF
 * ("is this PC inside the atomic package?"), asked of a second signal.
 * The handler preempts only if every clause holds; otherwise it does
 * nothing, and sysmon asks again at its next tick.
 *
 *   1. Not in gort's own code.  Its code lies in the linker section
 *      gort_text (scripts/gort_text.sh moves it there), and the atomic
 *      package's locking code in gort_atomic_text: known by address,
 *      stripped or not, static functions included.  gort's code holds
 *      runtime locks, atomic64 spinlocks and half-made scheduler state;
 *      the next goroutine on this thread would meet them.  Every runtime
 *      lock and atomic64 lock is taken and released within gort's code,
 *      so this clause also answers "not while the M holds one".
 *   2. Only in the executable's own code, never in a shared object: not
 *      libc (malloc's arena lock, stdio's FILE lock), not the loader, not
 *      any library whose locks the next goroutine on this thread could
 *      want -- the self-deadlock of #20146, one layer up.  The
 *      executable's PLT stubs count as the shared objects they lead to:
 *      gort's own calls into libc pass through them, holding whatever
 *      gort holds (the stress suite found one preempted there, in
 *      chansend, with a channel's lock held).  A static executable
 *      carries libc inside it, so there is no asynchronous preemption in
 *      one.
 *   3. Not in a signal handler, nor on any stack but the goroutine's own:
 *      the interrupted sp must lie in the goroutine's stack, with room
 *      for the registers to be saved.
 *   4. Not in the system-call hand-off (the G is Gsyscall, the M has no
 *      P), nor while the goroutine has said it must not be preempted
 *      (gort_preempt_disable: code that holds a lock gort cannot see, a
 *      pthread mutex, would otherwise be preempted holding it, and the
 *      next goroutine on this thread could block on it forever).
 *
 * Then the goroutine's whole register state is saved on its own stack by
 * preempt_<arch>.S (general, flag, floating-point and vector registers),
 * as if the interrupted instruction had called gort_sched_asyncpreempt;
 * it calls asyncpreempt2 here, which yields.  When the goroutine runs
 * again, the registers come back and it resumes at that instruction.
 *
 * The thread rule.  C code that never calls gort may hold a thread's
 * address in a register between any two instructions: errno's (glibc
 * declares __errno_location const), a __thread variable's.  A goroutine
 * preempted asynchronously must therefore resume on the thread it was
 * interrupted on -- until its next cooperative scheduling point, where
 * gort's documented rules (gort.h) take over.  So a preempted goroutine
 * is not put on a run queue: it is pinned to its M (m->pinhead), which
 * runs one other goroutine and then resumes it.  An M holding a pinned
 * goroutine never goes idle: without a P it waits for one.
 */
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/sigctxt.h"
#include "sched/sched.h"

#if GORT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

extern const char __start_gort_text[] __attribute__((visibility("hidden")));
extern const char __stop_gort_text[] __attribute__((visibility("hidden")));

/* The executable's code: its executable PT_LOAD segments.  Written once
 * by gort_sched_preempt_init before any goroutine runs; read-only after. */
#define MAXSEGS 8
static struct { uintptr_t lo, hi; } exetext[MAXSEGS];
static int nexetext;
static int asyncok;              /* asynchronous preemption enabled and possible */

/* Counters, for tests: sysmon's requests, the signals among them, and how
 * those ended. */
volatile uint32_t gort_sched_preempt_asked, gort_sched_preempt_sent, gort_sched_preempt_done,
	gort_sched_preempt_refused;

static void find_plt(uintptr_t bias);

static int exe_phdr(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	int interp = 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		interp |= info->dlpi_phdr[i].p_type == PT_INTERP;
	if (!interp)
		return 1;   /* static: libc is inside; no asynchronous preemption */
	find_plt(info->dlpi_addr);
	for (int i = 0; i < info->dlpi_phnum && nexetext < MAXSEGS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			exetext[nexetext].lo = info->dlpi_addr + ph->p_vaddr;
			exetext[nexetext].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
			nexetext++;
		}
	}
	return 1;   /* the first object is the executable: stop there */
}

/* The executable's PLT stubs, though in its text, are the way into
 * shared objects -- gort's own calls to libc pass through them, holding
 * whatever gort holds -- so they count as the code they lead to. */
#define MAXPLT 4
static struct { uintptr_t lo, hi; } exeplt[MAXPLT];
static int nexeplt;

/* Read the executable's section headers for its PLT sections (the loaded
 * image does not map them reliably).  Not in a handler: at start-up. */
static void find_plt(uintptr_t bias)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	void *map = fstat(fd, &st) == 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
		: MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED)
		return;
	const ElfW(Ehdr) *eh = map;
	if ((size_t)st.st_size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_shoff == 0 || eh->e_shstrndx >= eh->e_shnum ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > (size_t)st.st_size)
		goto out;
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)((const char *)map + eh->e_shoff);
	const ElfW(Shdr) *strs = &sh[eh->e_shstrndx];
	if (strs->sh_offset + strs->sh_size > (size_t)st.st_size)
		goto out;
	const char *names = (const char *)map + strs->sh_offset;
	for (int i = 0; i < eh->e_shnum && nexeplt < MAXPLT; i++) {
		if (sh[i].sh_name >= strs->sh_size || !(sh[i].sh_flags & SHF_EXECINSTR))
			continue;
		const char *n = names + sh[i].sh_name;
		if (strncmp(n, ".plt", 4) == 0 || strcmp(n, ".iplt") == 0 || strcmp(n, ".MIPS.stubs") == 0) {
			exeplt[nexeplt].lo = bias + sh[i].sh_addr;
			exeplt[nexeplt].hi = bias + sh[i].sh_addr + sh[i].sh_size;
			nexeplt++;
		}
	}
out:
	munmap(map, (size_t)st.st_size);
}

/* A sanitizer's runtime, which clang links into the executable: its
 * allocator and interceptors hold locks as libc's do, and gort's own code
 * calls it (the fiber switches).  It counts as a shared object.  Known
 * by its names, from start-up; empty without a sanitizer. */
static uintptr_t san_lo, san_hi;

static void find_sanitizer(void)
{
	static const char *const prefixes[] = { "__asan", "__sanitizer", "__ubsan", "__lsan",
		"__interceptor_", "___interceptor_", "_ZN6__asan", "_ZN11__sanitizer", "_ZN7__ubsan",
		"_ZN6__lsan", NULL };
	if (!gort_runtime_funcrange(prefixes, &san_lo, &san_hi))
		san_lo = san_hi = 0;
}

static int in_exe(uintptr_t pc)
{
	if (pc >= san_lo && pc < san_hi)
		return 0;
	for (int i = 0; i < nexeplt; i++)
		if (pc >= exeplt[i].lo && pc < exeplt[i].hi)
			return 0;
	for (int i = 0; i < nexetext; i++)
		if (pc >= exetext[i].lo && pc < exetext[i].hi)
			return 1;
	return 0;
}

int gort_sched_pc_in_gort(uintptr_t pc)
{
	return (pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text) ||
		gort_runtime_pc_in_atomic(pc);
}

/* The rule, clause by clause (see the top).  Async-signal-safe.
 * gort_sched_preempt_unsafe (debug runtime, the deadlock suite) lets a
 * clause be switched off to show that it is needed -- PREEMPT_MIGRATE,
 * the thread rule, in gort_sched_yield_pinned -- for every goroutine, or,
 * with gort_sched_preempt_unsafe_goid set, for that one alone (a suite
 * case switches a clause off for the goroutine it puts in harm's way,
 * not for the scheduler's own goroutines beside it). */
volatile uint32_t gort_sched_preempt_unsafe;
volatile uint64_t gort_sched_preempt_unsafe_goid;

uint32_t gort_sched_preempt_unsafe_for(const struct g *gp)
{
	if (!GORT_DEBUG_RUNTIME)
		return 0;
	uint32_t off = atomic_load32(&gort_sched_preempt_unsafe);
	/* a plain read: set before the goroutine runs, and on 32-bit MIPS
	 * an atomic64 load here could meet a lock the interrupted code holds */
	uint64_t only = *(volatile uint64_t *)&gort_sched_preempt_unsafe_goid;
	return !only || only == gp->goid ? off : 0;
}

/* The compiler's own helpers (libgcc: __divdi3 for a 64-bit division on
 * 32-bit MIPS, __popcountdi2, ...) are linked into the executable from a
 * static library, outside gort_text -- and gort's code calls them with
 * its locks held.  They are known by their reserved names; in a stripped
 * executable they cannot be, which is the one gap of clause 1 there. */
static int compiler_helper(uintptr_t pc)
{
	const struct gort_func *f = gort_runtime_findfunc(pc);
	return f && f->name[0] == '_' && f->name[1] == '_';
}

/* Refusals by clause, for tests and for anyone asking why a loop is not
 * preempted: [0] gort's code, [1] outside the executable, [2] another
 * stack or no room, [3] a system call, [4] gort_preempt_disable. */
volatile uint32_t gort_sched_preempt_why[5];

static int refuse(int clause)
{
	atomic_add32(&gort_sched_preempt_why[clause], 1);
	return 0;
}

static int safepoint(struct m *m, struct g *gp, uintptr_t pc, uintptr_t sp)
{
	uint32_t off = gort_sched_preempt_unsafe_for(gp);
	if (!(off & PREEMPT_ANYCODE) && gort_sched_pc_in_gort(pc))
		return refuse(0);                             /* 1 */
	if (!(off & PREEMPT_ANYCODE) && !in_exe(pc))
		return refuse(1);                             /* 2 */
	if (!(off & PREEMPT_ANYCODE) && compiler_helper(pc))
		return refuse(0);                             /* 1: libgcc, called by gort too */
	if (sp < gp->stack_lo || sp > gp->stack_hi)
		return refuse(2);                             /* 3 (and arrange checks the room) */
	if (atomic_load32(&gp->status) != Grunning || m->oldp || !m->p)
		return refuse(3);                             /* 4 */
	if (!(off & PREEMPT_IGNORE_DISABLE) && gp->nopreempt)
		return refuse(4);                             /* 4 */
	return 1;
}

/* A plain copy, not memcpy: under ASan, the goroutine's stack below its sp
 * may still carry the poison of frames that have returned, and this
 * write is no bug. */
__attribute__((no_sanitize("address"))) static void copy_frame(char *to, const char *from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		to[i] = from[i];
}

/* Copy the kernel's signal frame below the interrupted sp and make the
 * context enter the trampoline (see sigctxt.h).  0 if the goroutine's
 * stack has not the room. */
static int arrange(struct m *m, struct g *gp, ucontext_t *uc, uintptr_t pc, uintptr_t sp)
{
	uintptr_t frame = sigctxt_frame(uc);
	uintptr_t top = (uintptr_t)m->sigstack + m->sigstack_size;
	if (frame < (uintptr_t)m->sigstack || frame >= top)
		return 0;   /* not on our signal stack: no frame we know the size of */
	size_t size = top - frame;
	/* the copy keeps the original's alignment modulo 64 (xsave wants
	 * 64), below the red zone */
	uintptr_t copy = ((sp - SIGCTXT_REDZONE - size - 64) & ~(uintptr_t)63) + (frame & 63);
	uintptr_t tsp = (copy - 64) & ~(uintptr_t)15;
	if (tsp < gp->stack_lo + PREEMPT_ROOM)
		return 0;
	copy_frame((char *)copy, (const char *)frame, size);
	sigctxt_relocate((ucontext_t *)((uintptr_t)uc - frame + copy), (intptr_t)(copy - frame));
	sigctxt_enter(uc, (uintptr_t)gort_sched_asyncpreempt, pc, tsp, sigctxt_sigreturn_sp(copy),
		(uintptr_t)gort_sched_asyncpreempt2);
	return 1;
}

/* SIGURG.  Async-signal-safe: TLS, field reads, range checks, and writes
 * to the interrupted context and the goroutine's own stack below its sp. */
static int sigurg(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)si;
	struct m *m = gort_sched_m;
	struct g *gp = m ? m->curg : NULL;
	if (!gp || !atomic_load32(&gp->preempt))
		return 0;   /* not ours: out-of-band data, or a program's own use */
	ucontext_t *uc = ctx;
	uintptr_t pc = sigctxt_pc(uc), sp = sigctxt_sp(uc);
	if (!asyncok || !safepoint(m, gp, pc, sp)) {
		atomic_add32(&gort_sched_preempt_refused, 1);
		return 1;   /* sysmon asks again */
	}
	if (!arrange(m, gp, uc, pc, sp)) {
		refuse(2);
		atomic_add32(&gort_sched_preempt_refused, 1);
		return 1;
	}
	gp->preempt = 0;   /* taken: one request, one preemption */
	return 1;
}

/* Called by preempt_<arch>.S with every register saved: yield, pinned to
 * this M (the thread rule), and return when the scheduler resumes us. */
void gort_sched_asyncpreempt2(void)
{
	atomic_add32(&gort_sched_preempt_done, 1);
	struct g *gp = getg();
	GOPROF_CHECK(gp, GOPROF_SELF);   /* a loop that never calls gort: recorded here */
	gort_sched_yield_pinned();
}

static int under_valgrind(void)
{
#if GORT_HAVE_VALGRIND
	return RUNNING_ON_VALGRIND != 0;
#else
	return 0;
#endif
}

void gort_sched_preempt_init(void)
{
	dl_iterate_phdr(exe_phdr, NULL);
	find_sanitizer();
	/* Valgrind delivers signals with frames of its own making, which an
	 * rt_sigreturn on a copy cannot resume: cooperative only there. */
	asyncok = nexetext > 0 && !gort_runtime_debug("asyncpreemptoff", 0) && !under_valgrind();
	/* before the first signal: where the unwinder finds the trampoline */
	gort_runtime_set_asyncpreempt((uintptr_t)gort_sched_asyncpreempt, &gort_sched_asyncpreempt_layout);
	/* SIGPROF waits: one handler on the signal stack at a time */
	gort_runtime_sigregister(SIGURG, sigurg, GORT_SIG_BLOCKALL | GORT_SIG_RESTART);
}

/* sysmon: ask gp, running on m, to yield. */
void gort_sched_preemptone(struct m *m, struct g *gp)
{
	atomic_add32(&gort_sched_preempt_asked, 1);
	atomic_store32(&gp->preempt, 1);
	if (!asyncok || gp->nopreempt)
		return;   /* cooperatively only */
	atomic_add32(&gort_sched_preempt_sent, 1);
	syscall(SYS_tgkill, getpid(), m->tid, SIGURG);
}

void gort_preempt_disable(void)
{
	struct g *gp = gort_sched_mustgetg("gort_preempt_disable");
	gp->nopreempt++;
}

void gort_preempt_enable(void)
{
	struct g *gp = gort_sched_mustgetg("gort_preempt_enable");
	if (gp->nopreempt == 0)
		gort_runtime_panic("gort_preempt_enable without gort_preempt_disable");
	gp->nopreempt--;
}
