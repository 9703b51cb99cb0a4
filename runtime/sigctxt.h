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
 *   sigctxt_enter          make uc enter tramp at sp, as if the
 *                          interrupted pc had called it (so that stack
 *                          walks pass through), with `ret` -- the copy's
 *                          sigreturn sp -- and `fn`, what the trampoline
 *                          calls, in callee-saved registers (only MIPS
 *                          needs fn: it cannot reach another object's
 *                          function without the GOT)
 *
 * Async-signal-safe: field reads and writes.
 */
#if defined(__x86_64__)
/* struct rt_sigframe { char *pretcode; ucontext_t uc; siginfo_t info; },
 * the FPU/xsave state above it, pointed at by uc_mcontext.fpregs. */
#define SIGCTXT_REDZONE 128
static inline uintptr_t sigctxt_frame(const ucontext_t *uc) { return (uintptr_t)uc - 8; }
static inline uintptr_t sigctxt_sigreturn_sp(uintptr_t frame) { return frame + 8; }
static inline void sigctxt_relocate(ucontext_t *uc, intptr_t delta)
{
	if (uc->uc_mcontext.fpregs)
		uc->uc_mcontext.fpregs = (fpregset_t)((uintptr_t)uc->uc_mcontext.fpregs + (uintptr_t)delta);
}
static inline void sigctxt_enter(ucontext_t *uc, uintptr_t tramp, uintptr_t pc, uintptr_t sp,
	uintptr_t ret, uintptr_t fn)
{
	(void)fn;
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
static inline void sigctxt_relocate(ucontext_t *uc, intptr_t delta) { (void)uc, (void)delta; }
static inline void sigctxt_enter(ucontext_t *uc, uintptr_t tramp, uintptr_t pc, uintptr_t sp,
	uintptr_t ret, uintptr_t fn)
{
	uc->uc_mcontext.gregs[17] = fn;      /* $s1 */
	uc->uc_mcontext.gregs[29] = sp;
	uc->uc_mcontext.pc = tramp;
	uc->uc_mcontext.gregs[25] = tramp;   /* $t9: a PIC function's own address */
	uc->uc_mcontext.gregs[31] = pc;      /* $ra */
	uc->uc_mcontext.gregs[16] = ret;     /* $s0 */
}
#endif

#endif /* GORT_RUNTIME_SIGCTXT_H */
