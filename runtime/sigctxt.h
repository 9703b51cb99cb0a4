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

#endif /* GORT_RUNTIME_SIGCTXT_H */
