/*
 * sigctxt.h -- reading the interrupted registers out of a signal's
 * ucontext, one small block per architecture (Go: signal_linux_amd64.go
 * and friends).  Each accessor is a field read: async-signal-safe.
 *
 *   pc  the instruction the signal interrupted
 *   sp  the stack pointer there
 *   fp  the frame pointer (rbp, x29, $fp)
 *   lr  the link register (x30, $ra); 0 on x86-64, which has none
 */
#ifndef GORT_RUNTIME_SIGCTXT_H
#define GORT_RUNTIME_SIGCTXT_H

#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#if defined(__x86_64__)
static inline uintptr_t sigctxt_pc(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP]; }
static inline uintptr_t sigctxt_sp(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP]; }
static inline uintptr_t sigctxt_fp(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.gregs[REG_RBP]; }
static inline uintptr_t sigctxt_lr(const ucontext_t *uc) { (void)uc; return 0; }
#elif defined(__aarch64__)
static inline uintptr_t sigctxt_pc(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.pc; }
static inline uintptr_t sigctxt_sp(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.sp; }
static inline uintptr_t sigctxt_fp(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.regs[29]; }
static inline uintptr_t sigctxt_lr(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.regs[30]; }
#elif defined(__mips__)
/* o32: the kernel saves 64-bit register slots even on 32-bit CPUs. */
static inline uintptr_t sigctxt_pc(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.pc; }
static inline uintptr_t sigctxt_sp(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.gregs[29]; }
static inline uintptr_t sigctxt_fp(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.gregs[30]; }
static inline uintptr_t sigctxt_lr(const ucontext_t *uc) { return (uintptr_t)uc->uc_mcontext.gregs[31]; }
#else
#error "sigctxt.h: unsupported architecture"
#endif

/* SIGCTXT_REGS_END: how far into a ucontext_t the four lie, for a reader
 * that must bound what it reads (glibc's ucontext_t can be larger than
 * the kernel's: its end may lie past a frame's copy). */
#if defined(__x86_64__) || defined(__mips__)
#define SIGCTXT_REGS_END (offsetof(ucontext_t, uc_mcontext.gregs) + sizeof(gregset_t))
#elif defined(__aarch64__)
#define SIGCTXT_REGS_END (offsetof(ucontext_t, uc_mcontext.pstate) + 8)
#endif

/*
 * Resuming an interrupted context later (sched/preempt.c).  The kernel's
 * signal frame holds every register of the interrupted code, the
 * floating-point and vector ones included, in the exact form
 * rt_sigreturn restores.  To preempt at any instruction, the handler
 * copies that frame onto the goroutine's own stack and points the
 * context at a trampoline; when the goroutine is resumed, the trampoline
 * calls rt_sigreturn on the copy, and the kernel restores it all.  Per
 * architecture:
 *
 *   sigctxt_frame          where the kernel's frame for uc begins
 *   SIGCTXT_REDZONE        bytes below sp the interrupted code may use
 *   sigctxt_relocate       fix the frame's absolute pointers after a copy
 *   sigctxt_sigreturn_sp   the sp rt_sigreturn wants for a frame
 *   sigctxt_sigreturn_uc   and back: the ucontext of the frame whose
 *                          sigreturn sp is given
 *   sigctxt_enter          make uc enter tramp at sp, as if the
 *                          interrupted pc had called it (so that stack
 *                          walks pass through), with `ret` -- the copy's
 *                          sigreturn sp -- and `fn`, what the trampoline
 *                          calls, in callee-saved registers (only MIPS
 *                          needs fn: it cannot reach another object's
 *                          function without the GOT), and leave the mark
 *                          below for unwinders at sp
 *
 * Async-signal-safe: field reads and writes.
 *
 * Unwinding through the trampoline (runtime/traceback.c).  A stack walk
 * that meets the trampoline -- a SIGPROF at any of its instructions, or
 * a return address into it from gort_sched_asyncpreempt2 and what that
 * calls -- must go on from the interrupted code itself, as if the signal
 * had just interrupted it: its pc is exact, not a return address, and
 * its sp, fp and lr (a leaf's caller, a function still in its prologue)
 * are in the copy, not in any frame record.  To find the copy, the
 * trampoline's entry sp, tsp -- 16-aligned, above everything the
 * trampoline pushes and below the copy (preempt.c leaves 64 bytes
 * between) -- holds a mark, written by sigctxt_enter:
 *
 *     tsp[0]   the copy's sigreturn sp (the value the trampoline loads
 *              into sp for rt_sigreturn); sigctxt_sigreturn_uc of it is
 *              the copy's ucontext, which the sigctxt_pc/sp/fp/lr above
 *              read
 *     tsp[1]   tsp[0] ^ SIGCTXT_MARK: a walk that arrives at a wrong tsp
 *              (a torn or foreign frame) finds no mark and stops
 *
 * Where tsp lies relative to sp and fp at each instruction of the
 * trampoline is the trampoline's own business: it exports
 * gort_sched_asyncpreempt_layout, a struct sigctxt_tramp_layout of
 * offsets from its entry (preempt_<arch>.S draws the frame).
 */
#define SIGCTXT_MARK ((uintptr_t)0x9e3779b97f4a7c15ull)

struct sigctxt_tramp_layout {
	uint32_t size;     /* of the trampoline's code */
	uint32_t framed;   /* first instruction where sp = tsp - frame */
	uint32_t ret;      /* the return address of its call */
	uint32_t oncopy;   /* first instruction where sp = tsp[0] */
	uint32_t entry;    /* tsp - sp before `framed` */
	uint32_t frame;    /* tsp - sp from `framed` to `oncopy`; tsp - fp from
	                      `ret` on (fp is callee-saved) */
};

/* The trampoline's entry and layout (runtime/traceback.c), given by
 * package sched at start-up, before its first preemption signal. */
void gort_runtime_set_asyncpreempt(uintptr_t entry, const struct sigctxt_tramp_layout *layout);

/* (a plain store below the interrupted sp, which under ASan may still be
 * poisoned by frames that have returned: no bug) */
__attribute__((no_sanitize("address")))
static inline void sigctxt_mark(uintptr_t tsp, uintptr_t ret)
{
	((uintptr_t *)tsp)[0] = ret;
	((uintptr_t *)tsp)[1] = ret ^ SIGCTXT_MARK;
}

#if defined(__x86_64__)
/* struct rt_sigframe { char *pretcode; ucontext_t uc; siginfo_t info; },
 * the FPU/xsave state above it, pointed at by uc_mcontext.fpregs. */
#define SIGCTXT_REDZONE 128
static inline uintptr_t sigctxt_frame(const ucontext_t *uc) { return (uintptr_t)uc - 8; }
static inline uintptr_t sigctxt_sigreturn_sp(uintptr_t frame) { return frame + 8; }
static inline uintptr_t sigctxt_sigreturn_uc(uintptr_t ret) { return ret; }
static inline void sigctxt_relocate(ucontext_t *uc, intptr_t delta)
{
	if (uc->uc_mcontext.fpregs)
		uc->uc_mcontext.fpregs = (fpregset_t)((uintptr_t)uc->uc_mcontext.fpregs + (uintptr_t)delta);
}
static inline void sigctxt_enter(ucontext_t *uc, uintptr_t tramp, uintptr_t pc, uintptr_t sp,
	uintptr_t ret, uintptr_t fn)
{
	(void)fn;
	sigctxt_mark(sp, ret);
	sp -= 8;
	*(uintptr_t *)sp = pc;   /* the return address of a call at pc */
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)tramp;
	uc->uc_mcontext.gregs[REG_R12] = (greg_t)ret;
}
#elif defined(__aarch64__)
/* struct rt_sigframe { siginfo_t info; ucontext_t uc; }; records in
 * uc_mcontext.__reserved, one of which (extra_context) may point to more
 * space above. */
#include <asm/sigcontext.h>
#define SIGCTXT_REDZONE 0
static inline uintptr_t sigctxt_frame(const ucontext_t *uc) { return (uintptr_t)uc - sizeof(siginfo_t); }
static inline uintptr_t sigctxt_sigreturn_sp(uintptr_t frame) { return frame; }
static inline uintptr_t sigctxt_sigreturn_uc(uintptr_t ret) { return ret + sizeof(siginfo_t); }
static inline void sigctxt_relocate(ucontext_t *uc, intptr_t delta)
{
	unsigned char *p = (unsigned char *)uc->uc_mcontext.__reserved;
	unsigned char *end = p + sizeof uc->uc_mcontext.__reserved;
	while (p + sizeof(struct _aarch64_ctx) <= end) {
		struct _aarch64_ctx *h = (struct _aarch64_ctx *)p;
		if (h->magic == 0 || h->size == 0)
			break;
		if (h->magic == EXTRA_MAGIC) {
			struct extra_context *x = (struct extra_context *)h;
			x->datap += (uint64_t)delta;
		}
		p += h->size;
	}
}
static inline void sigctxt_enter(ucontext_t *uc, uintptr_t tramp, uintptr_t pc, uintptr_t sp,
	uintptr_t ret, uintptr_t fn)
{
	(void)fn;
	sigctxt_mark(sp, ret);
	uc->uc_mcontext.sp = sp;
	uc->uc_mcontext.pc = tramp;
	uc->uc_mcontext.regs[30] = pc;    /* lr: the trampoline's caller is the interrupted pc */
	uc->uc_mcontext.regs[19] = ret;
}
#elif defined(__mips__)
/* o32: struct rt_sigframe { u32 ass[4]; u32 pad[2]; siginfo_t info;
 * ucontext_t uc; }; every register inline. */
#define SIGCTXT_REDZONE 0
static inline uintptr_t sigctxt_frame(const ucontext_t *uc)
{
	return (uintptr_t)uc - 24 - sizeof(siginfo_t);
}
static inline uintptr_t sigctxt_sigreturn_sp(uintptr_t frame) { return frame; }
static inline uintptr_t sigctxt_sigreturn_uc(uintptr_t ret) { return ret + 24 + sizeof(siginfo_t); }
static inline void sigctxt_relocate(ucontext_t *uc, intptr_t delta) { (void)uc, (void)delta; }
static inline void sigctxt_enter(ucontext_t *uc, uintptr_t tramp, uintptr_t pc, uintptr_t sp,
	uintptr_t ret, uintptr_t fn)
{
	sigctxt_mark(sp, ret);
	uc->uc_mcontext.gregs[17] = fn;      /* $s1 */
	uc->uc_mcontext.gregs[29] = sp;
	uc->uc_mcontext.pc = tramp;
	uc->uc_mcontext.gregs[25] = tramp;   /* $t9: a PIC function's own address */
	uc->uc_mcontext.gregs[31] = pc;      /* $ra */
	uc->uc_mcontext.gregs[16] = ret;     /* $s0 */
}
#endif

#endif /* GORT_RUNTIME_SIGCTXT_H */
