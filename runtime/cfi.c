/*
 * cfi.c -- compiling an object's .eh_frame into an unwind table.
 *
 * Frame pointers describe a stack only where every function keeps one.
 * Debian's libc keeps none: its functions use rbp (or x29, or $fp) as an
 * ordinary register, and a walk by frame pointers that meets one of them
 * skips its caller, or stops.  What every object does carry is its call
 * frame information, the table the C++ exception unwinder uses: .eh_frame,
 * one FDE (frame description entry) per function, each a little program
 * of DWARF CFA instructions ("after 4 bytes, the CFA is sp+16 and the
 * return address is at CFA-8; after 12 more, rbp is saved at CFA-16...").
 * Run to an address, the program says, for that exact instruction, how to
 * find the caller's registers.  GCC emits it for every instruction
 * (-fasynchronous-unwind-tables), so it holds in a prologue, in an
 * epilogue and on a shrink-wrapped early exit, where frame pointers lie.
 *
 * The SIGPROF handler cannot interpret those programs: libgcc's and
 * libunwind's interpreters find the FDE by calling dl_iterate_phdr, which
 * takes the dynamic loader's lock (gperftools #775, #1188: a handler that
 * interrupts a holder of that lock, or of the malloc lock a loader thread
 * waits for, hangs), and they cache what they found in memory they
 * allocate.  So gort does with the CFI what Go's linker does with its own
 * pcsp tables: it answers every question ahead of time.  At start-up, and
 * when an object is loaded, outside any handler, this file runs each FDE's
 * program once from start to end and writes down the state after every
 * step, keeping only the three things a profiler's walk needs:
 *
 *     where the CFA is         sp + n, or fp + n
 *     where the return address is   saved at CFA + n, or still in the
 *                              link register (a leaf, or before its save),
 *                              or nowhere (the outermost frame)
 *     where the caller's fp is     saved at CFA + n, or unchanged
 *
 * as one row {pc, rule}, 16 bytes, for each stretch of code over which
 * those three do not change.  Rows that agree are merged (a prologue that
 * saves rbx, r12 and r13 changes nothing we keep).  The rows of an object
 * are sorted by pc and never change; the handler finds one by binary
 * search and applies it with three loads (unwind_cfi.c).  No DWARF is
 * read in a handler, ever.
 *
 * What is not kept: a rule of another kind -- a CFA computed by a DWARF
 * expression, a register saved in another register -- becomes
 * CFI_UNKNOWN, and the walk uses frame pointers for that one frame, as
 * before.  One expression is common enough to know: x86-64's lazy PLT
 * ("the CFA is rsp+8, or rsp+16 once the stub has pushed its index").
 * Code no FDE covers (hand-written assembly without .cfi directives, JIT
 * code) has no row either, with the same fall-back.
 *
 * Everything read here is checked against the bounds of the segment it
 * lies in: a malformed .eh_frame makes a shorter table, never a fault.
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* DWARF's register numbers for the three registers the walk keeps. */
#if defined(__x86_64__)
enum { REG_SP = 7, REG_FP = 6, REG_RA = 16 };
#elif defined(__aarch64__)
enum { REG_SP = 31, REG_FP = 29, REG_RA = 30 };
#elif defined(__mips__)
enum { REG_SP = 29, REG_FP = 30, REG_RA = 31 };
#endif

/* --- reading the encoded data ---------------------------------------------- */

/* A cursor over [p, end): every read checks it has room; a read that
 * would run past end sets bad and yields 0. */
struct rd {
	const unsigned char *p, *end;
	int bad;
};

static int room(struct rd *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return 0;
	}
	return 1;
}

static uint64_t u8(struct rd *r)
{
	return room(r, 1) ? *r->p++ : 0;
}

static uint64_t ufix(struct rd *r, size_t n)
{
	if (!room(r, n))
		return 0;
	uint64_t v = 0;
	/* the target's own byte order: the object was built for it */
	if (n == 1) { v = *r->p; }
	else if (n == 2) { uint16_t x; memcpy(&x, r->p, 2); v = x; }
	else if (n == 4) { uint32_t x; memcpy(&x, r->p, 4); v = x; }
	else { memcpy(&v, r->p, 8); }
	r->p += n;
	return v;
}

static uint64_t uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint64_t b = u8(r);
		if (shift < 64)
			v |= (b & 0x7f) << shift;
		if (!(b & 0x80) || r->bad)
			return v;
	}
}

static int64_t sleb(struct rd *r)
{
	int64_t v = 0;
	unsigned shift = 0;
	uint64_t b;
	do {
		b = u8(r);
		if (shift < 64)
			v |= (int64_t)((b & 0x7f) << shift);
		shift += 7;
	} while ((b & 0x80) && !r->bad);
	if (shift < 64 && (b & 0x40))
		v |= -((int64_t)1 << shift);
	return v;
}

/* DW_EH_PE_*: the pointer encodings of .eh_frame and .eh_frame_hdr. */
enum {
	PE_ABS = 0x00, PE_ULEB = 0x01, PE_U2 = 0x02, PE_U4 = 0x03, PE_U8 = 0x04,
	PE_SLEB = 0x09, PE_S2 = 0x0a, PE_S4 = 0x0b, PE_S8 = 0x0c,
	PE_PCREL = 0x10, PE_DATAREL = 0x30, PE_INDIRECT = 0x80, PE_OMIT = 0xff,
};

/* Read a pointer of encoding enc; datarel is relative to data (the
 * .eh_frame_hdr, where that is used).  Sets bad for an encoding gort has
 * no use for (textrel, funcrel, aligned, indirect). */
static uintptr_t ptr(struct rd *r, int enc, uintptr_t data)
{
	if (enc == PE_OMIT)
		return 0;
	uintptr_t here = (uintptr_t)r->p;
	uint64_t v;
	switch (enc & 0x0f) {
	case PE_ABS: v = ufix(r, sizeof(uintptr_t)); break;
	case PE_ULEB: v = uleb(r); break;
	case PE_U2: v = ufix(r, 2); break;
	case PE_U4: v = ufix(r, 4); break;
	case PE_U8: v = ufix(r, 8); break;
	case PE_SLEB: v = (uint64_t)sleb(r); break;
	case PE_S2: v = (uint64_t)(int64_t)(int16_t)ufix(r, 2); break;
	case PE_S4: v = (uint64_t)(int64_t)(int32_t)ufix(r, 4); break;
	case PE_S8: v = ufix(r, 8); break;
	default: r->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0: break;
	case PE_PCREL: v += here; break;
	case PE_DATAREL: v += data; break;
	default: r->bad = 1; return 0;
	}
	if (enc & PE_INDIRECT)
		r->bad = 1;
	return (uintptr_t)v;
}

/* --- the CIE -------------------------------------------------------------- */

struct cie {
	uint64_t code_align;
	int64_t data_align;
	unsigned ra_reg;
	int fde_enc;             /* 'R' */
	int has_aug;             /* 'z': FDEs carry an augmentation length */
	int signal;              /* 'S': a signal trampoline's frame */
	const unsigned char *insns, *insns_end;   /* initial instructions */
};

static int read_cie(const unsigned char *at, const unsigned char *seg_end, struct cie *c)
{
	struct rd r = { at, seg_end, 0 };
	uint64_t len = ufix(&r, 4);
	if (len == 0xffffffff)
		len = ufix(&r, 8);
	if (r.bad || len > (uint64_t)(r.end - r.p))
		return 0;
	r.end = r.p + len;
	if (ufix(&r, 4) != 0)    /* a CIE's id in .eh_frame */
		return 0;
	unsigned version = (unsigned)u8(&r);
	const char *aug = (const char *)r.p;
	size_t alen = strnlen(aug, (size_t)(r.end - r.p));
	if (r.bad || alen == (size_t)(r.end - r.p))
		return 0;
	r.p += alen + 1;
	if (strstr(aug, "eh"))
		ptr(&r, PE_ABS, 0);      /* an old GCC's eh_ptr */
	memset(c, 0, sizeof *c);
	c->code_align = uleb(&r);
	c->data_align = sleb(&r);
	c->ra_reg = version == 1 ? (unsigned)u8(&r) : (unsigned)uleb(&r);
	c->fde_enc = PE_ABS;
	if (aug[0] == 'z') {
		c->has_aug = 1;
		uint64_t n = uleb(&r);
		if (r.bad || n > (uint64_t)(r.end - r.p))
			return 0;
		const unsigned char *after = r.p + n;
		for (const char *a = aug + 1; *a && !r.bad; a++) {
			switch (*a) {
			case 'L': u8(&r); break;
			case 'R': c->fde_enc = (int)u8(&r); break;
			case 'P': { int e = (int)u8(&r); ptr(&r, e & ~PE_INDIRECT, 0); break; }
			case 'S': c->signal = 1; break;
			default: break;   /* 'B', 'G' (aarch64): no data */
			}
		}
		r.p = after;
	}
	c->insns = r.p;
	c->insns_end = r.end;
	return !r.bad;
}

/* --- running a CFA program ------------------------------------------------- */

/* The rule for one register the walk keeps. */
struct reg {
	int how;                 /* RULE_* */
	int64_t off;             /* from the CFA */
};
enum { RULE_SAME, RULE_AT, RULE_UNDEF, RULE_OTHER };

struct state {
	int cfa_reg;             /* DWARF number, or -1: an expression */
	int64_t cfa_off;
	int plt_k;               /* x86-64 lazy PLT expression's threshold, 0 if none */
	struct reg ra, fp;
	int ra_signed;           /* aarch64 pointer authentication */
};

struct out {
	struct gort_cfirow *rows;
	size_t n, cap;
	size_t first;            /* the current FDE's first row */
	struct chunk {           /* each FDE's rows: rows[first ..] */
		uint32_t pc, first;
	} *chunks;
	size_t nchunks, capchunks;
	uintptr_t base;
	int failed;
};

static struct gort_cfirow row_of(const struct state *s, const struct cie *c)
{
	struct gort_cfirow w = { 0 };
	if (c->signal)
		w.cfa = CFI_UNKNOWN;
	else if (s->plt_k)
		w.cfa = CFI_PLT;
	else if (s->cfa_reg == REG_SP)
		w.cfa = CFI_SP;
	else if (s->cfa_reg == REG_FP)
		w.cfa = CFI_FP;
	else
		w.cfa = CFI_UNKNOWN;
	w.cfa_off = (int32_t)s->cfa_off;
	if (s->cfa_off != w.cfa_off)
		w.cfa = CFI_UNKNOWN;
	switch (s->ra.how) {
	case RULE_AT: w.ra = CFI_RA_AT; break;
	case RULE_SAME: w.ra = CFI_RA_REG; break;
	case RULE_UNDEF: w.ra = CFI_RA_NONE; break;
	default: w.cfa = CFI_UNKNOWN; break;
	}
	if (s->ra.how == RULE_AT) {
		w.ra_off = (int16_t)(s->ra.off / 4);
		if (w.ra_off * 4 != s->ra.off)
			w.cfa = CFI_UNKNOWN;
	}
	switch (s->fp.how) {
	case RULE_AT: w.fp = CFI_FP_AT; break;
	case RULE_SAME: w.fp = CFI_FP_SAME; break;
	default: w.fp = CFI_FP_LOST; break;
	}
	if (s->fp.how == RULE_AT) {
		w.fp_off = (int16_t)(s->fp.off / 4);
		if (w.fp_off * 4 != s->fp.off)
			w.fp = CFI_FP_LOST;
	}
	if (s->plt_k)
		w.ra_off = (int16_t)s->plt_k;    /* the return address is at CFA - 8 */
	if (s->ra_signed)
		w.flags |= CFI_RA_SIGNED;
	return w;
}

static int same_rule(const struct gort_cfirow *a, const struct gort_cfirow *b)
{
	return a->cfa == b->cfa && a->cfa_off == b->cfa_off && a->ra == b->ra &&
		a->ra_off == b->ra_off && a->fp == b->fp && a->fp_off == b->fp_off &&
		a->flags == b->flags;
}

/* Append a row for [pc, ...) unless it repeats the last one.  A row at the
 * pc of the last one replaces it (a zero-length advance). */
static void emit(struct out *o, uintptr_t pc, struct gort_cfirow w)
{
	if (pc < o->base || pc - o->base > UINT32_MAX) {
		o->failed = 1;
		return;
	}
	w.pc = (uint32_t)(pc - o->base);
	/* (within this FDE's rows: FDEs are put in order afterwards) */
	if (o->n > o->first && o->rows[o->n - 1].pc == w.pc) {
		o->n--;
		if (o->n > o->first && same_rule(&o->rows[o->n - 1], &w))
			return;
	} else if (o->n > o->first && same_rule(&o->rows[o->n - 1], &w)) {
		return;
	}
	if (gort_runtime_grow(&o->rows, &o->cap, o->n + 1, sizeof *o->rows)) {
		o->failed = 1;
		return;
	}
	o->rows[o->n++] = w;
}

static struct reg *reg_of(struct state *s, uint64_t r)
{
	return r == REG_RA ? &s->ra : r == REG_FP ? &s->fp : NULL;
}

/* DW_CFA_restore: the rule the CIE's initial instructions gave reg. */
static void restore(struct state *s, const struct state *init, uint64_t r)
{
	if (r == REG_RA)
		s->ra = init->ra;
	else if (r == REG_FP)
		s->fp = init->fp;
}

/* The x86-64 lazy PLT's CFA: rsp + 8 + ((rip & 15) >= k ? 8 : 0), written
 * as  breg7 8; breg16 0; lit15; and; lit<k>; ge; lit3; shl; plus.  Its k,
 * or 0 for any other expression. */
static int plt_expression(const unsigned char *e, uint64_t n)
{
#if defined(__x86_64__)
	static const unsigned char head[] = { 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a };
	static const unsigned char tail[] = { 0x2a, 0x33, 0x24, 0x22 };
	if (n == sizeof head + 1 + sizeof tail && memcmp(e, head, sizeof head) == 0 &&
	    e[sizeof head] >= 0x30 && e[sizeof head] <= 0x4f &&
	    memcmp(e + sizeof head + 1, tail, sizeof tail) == 0)
		return e[sizeof head] - 0x30;
#else
	(void)e, (void)n;
#endif
	return 0;
}

#define STATE_STACK 16

/* Run a program from pc; for an FDE's own program (fde = 1) emit a row
 * for each stretch between advances, up to end.  init is the state the
 * CIE's initial instructions left, which DW_CFA_restore returns to. */
static int run(struct out *o, const struct cie *c, const unsigned char *p, const unsigned char *pend,
	uintptr_t pc, uintptr_t end, struct state *s, const struct state *init, int fde)
{
	struct state stack[STATE_STACK];
	int depth = 0;
	struct rd r = { p, pend, 0 };
	uintptr_t rowpc = pc;   /* where the row the program is describing starts */
	while (r.p < r.end && !r.bad) {
		unsigned op = (unsigned)u8(&r), low = op & 0x3f;
		uint64_t reg, adv = 0;
		int64_t off;
		struct reg *k;
		switch (op >> 6) {
		case 1:                                  /* advance_loc */
			adv = low;
			goto advance;
		case 2:                                  /* offset */
			off = (int64_t)uleb(&r) * c->data_align;
			if ((k = reg_of(s, low)))
				*k = (struct reg){ RULE_AT, off };
			continue;
		case 3:                                  /* restore */
			restore(s, init, low);
			continue;
		}
		switch (op) {
		case 0x00: break;                        /* nop */
		case 0x01:                               /* set_loc */
			if (fde)
				emit(o, rowpc, row_of(s, c));
			rowpc = pc = ptr(&r, c->fde_enc, 0);
			break;
		case 0x02: adv = ufix(&r, 1); goto advance;
		case 0x03: adv = ufix(&r, 2); goto advance;
		case 0x04: adv = ufix(&r, 4); goto advance;
		case 0x05:                               /* offset_extended */
			reg = uleb(&r);
			off = (int64_t)uleb(&r) * c->data_align;
			if ((k = reg_of(s, reg)))
				*k = (struct reg){ RULE_AT, off };
			break;
		case 0x11:                               /* offset_extended_sf */
			reg = uleb(&r);
			off = sleb(&r) * c->data_align;
			if ((k = reg_of(s, reg)))
				*k = (struct reg){ RULE_AT, off };
			break;
		case 0x2f:                               /* GNU_negative_offset_extended */
			reg = uleb(&r);
			off = -(int64_t)uleb(&r) * c->data_align;
			if ((k = reg_of(s, reg)))
				*k = (struct reg){ RULE_AT, off };
			break;
		case 0x06:                               /* restore_extended */
			restore(s, init, uleb(&r));
			break;
		case 0x07:                               /* undefined */
			if ((k = reg_of(s, uleb(&r))))
				*k = (struct reg){ RULE_UNDEF, 0 };
			break;
		case 0x08:                               /* same_value */
			if ((k = reg_of(s, uleb(&r))))
				*k = (struct reg){ RULE_SAME, 0 };
			break;
		case 0x09:                               /* register: saved in another */
			reg = uleb(&r);
			if ((k = reg_of(s, reg)))
				*k = (struct reg){ uleb(&r) == reg ? RULE_SAME : RULE_OTHER, 0 };
			else
				uleb(&r);
			break;
		case 0x0a:                               /* remember_state */
			if (depth == STATE_STACK)
				return 0;
			stack[depth++] = *s;
			break;
		case 0x0b:                               /* restore_state: the CFA rule too */
			if (depth == 0)
				return 0;
			*s = stack[--depth];
			break;
		case 0x0c:                               /* def_cfa */
			s->cfa_reg = (int)uleb(&r);
			s->cfa_off = (int64_t)uleb(&r);
			s->plt_k = 0;
			break;
		case 0x12:                               /* def_cfa_sf */
			s->cfa_reg = (int)uleb(&r);
			s->cfa_off = sleb(&r) * c->data_align;
			s->plt_k = 0;
			break;
		case 0x0d:                               /* def_cfa_register */
			s->cfa_reg = (int)uleb(&r);
			s->plt_k = 0;
			break;
		case 0x0e:                               /* def_cfa_offset */
			s->cfa_off = (int64_t)uleb(&r);
			break;
		case 0x13:                               /* def_cfa_offset_sf */
			s->cfa_off = sleb(&r) * c->data_align;
			break;
		case 0x0f: {                             /* def_cfa_expression */
			uint64_t n = uleb(&r);
			if (!room(&r, n))
				break;
			s->plt_k = plt_expression(r.p, n);
			s->cfa_reg = -1;
			s->cfa_off = s->plt_k ? 8 : 0;
			r.p += n;
			break;
		}
		case 0x10: case 0x16:                    /* expression, val_expression */
			reg = uleb(&r);
			{
				uint64_t n = uleb(&r);
				if (!room(&r, n))
					break;
				r.p += n;
			}
			if ((k = reg_of(s, reg)))
				*k = (struct reg){ RULE_OTHER, 0 };
			break;
		case 0x14: case 0x15:                    /* val_offset(_sf): a value, not a slot */
			reg = uleb(&r);
			if (op == 0x14)
				uleb(&r);
			else
				sleb(&r);
			if ((k = reg_of(s, reg)))
				*k = (struct reg){ RULE_OTHER, 0 };
			break;
		case 0x2e:                               /* GNU_args_size */
			uleb(&r);
			break;
		case 0x2d:                               /* AARCH64_negate_ra_state */
			s->ra_signed ^= 1;
			break;
		default:
			return 0;                        /* an op we cannot skip */
		}
		continue;
	advance:
		/* The state now is the rule from rowpc up to the new pc. */
		if (fde && rowpc < end)
			emit(o, rowpc, row_of(s, c));
		rowpc = pc += adv * c->code_align;
	}
	if (fde && rowpc < end)
		emit(o, rowpc, row_of(s, c));
	return !r.bad;
}

/* Compile one FDE at fde (which names its CIE) into rows. */
static void compile_fde(struct out *o, const unsigned char *fde, const unsigned char *seg_lo,
	const unsigned char *seg_end, uintptr_t text_lo, uintptr_t text_hi)
{
	struct rd r = { fde, seg_end, 0 };
	uint64_t len = ufix(&r, 4);
	if (len == 0xffffffff)
		len = ufix(&r, 8);
	if (r.bad || len == 0 || len > (uint64_t)(r.end - r.p))
		return;
	r.end = r.p + len;
	const unsigned char *idfield = r.p;
	uint32_t cie_ptr = (uint32_t)ufix(&r, 4);
	if (r.bad || cie_ptr == 0 || cie_ptr > (uintptr_t)(idfield - seg_lo))
		return;
	struct cie c;
	if (!read_cie(idfield - cie_ptr, seg_end, &c))
		return;
	uintptr_t start = ptr(&r, c.fde_enc, 0);
	uintptr_t range = ptr(&r, c.fde_enc & 0x0f, 0);
	if (c.has_aug) {
		uint64_t n = uleb(&r);
		if (!room(&r, n))
			return;
		r.p += n;
	}
	if (r.bad || start < text_lo || start >= text_hi || range == 0 || range > text_hi - start)
		return;
	uintptr_t end = start + range;

	struct state init = {
		.cfa_reg = REG_SP, .cfa_off = 0,
		.ra = { RULE_SAME, 0 }, .fp = { RULE_SAME, 0 },
	};
	if (c.ra_reg != REG_RA)
		init.ra.how = RULE_OTHER;    /* the RA in a register we do not track */
	if (!run(o, &c, c.insns, c.insns_end, start, end, &init, &init, 0))
		return;                          /* (fde = 0: it emits nothing) */
	struct state s = init;
	o->first = o->n;
	if (!run(o, &c, r.p, r.end, start, end, &s, &init, 1)) {
		o->n = o->first;                 /* a program we could not read: no rows */
		return;
	}
	/* Where the function ends, no FDE says anything until the next one. */
	emit(o, end, (struct gort_cfirow){ .cfa = CFI_NONE });
	if (o->n == o->first)
		return;
	if (gort_runtime_grow(&o->chunks, &o->capchunks, o->nchunks + 1, sizeof *o->chunks)) {
		o->failed = 1;
		return;
	}
	o->chunks[o->nchunks++] = (struct chunk){ o->rows[o->first].pc, (uint32_t)o->first };
}

/* An FDE's rows, rows[first .. end), which begin at pc. */
struct span {
	uint32_t pc, first, end;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

/* Put the FDEs' rows in address order.  Linkers mostly lay .eh_frame out
 * in address order already; where not, it is the FDEs that are sorted
 * (a few thousand), each one's rows being in order, not the rows (libc
 * has 25,000: sorting them was most of start-up).  0, or -1 if out of
 * memory. */
static int order(struct out *o)
{
	size_t k = 1;
	while (k < o->nchunks && o->chunks[k - 1].pc <= o->chunks[k].pc)
		k++;
	if (k >= o->nchunks)
		return 0;
	struct span *sv = malloc(o->nchunks * sizeof *sv);
	struct gort_cfirow *rows = malloc(o->n * sizeof *rows);
	if (!sv || !rows) {
		free(sv);
		free(rows);
		return -1;
	}
	for (size_t i = 0; i < o->nchunks; i++)
		sv[i] = (struct span){ o->chunks[i].pc, o->chunks[i].first,
			i + 1 < o->nchunks ? o->chunks[i + 1].first : (uint32_t)o->n };
	qsort(sv, o->nchunks, sizeof *sv, cmp_span);
	size_t n = 0;
	for (size_t i = 0; i < o->nchunks; i++) {
		memcpy(rows + n, o->rows + sv[i].first, (sv[i].end - sv[i].first) * sizeof *rows);
		n += sv[i].end - sv[i].first;
	}
	free(sv);
	free(o->rows);
	o->rows = rows;
	o->n = o->cap = n;
	return 0;
}

/* The PT_LOAD segment of o that holds [p, p+1): its bounds in memory. */
static int segment_of(const struct dl_phdr_info *o, uintptr_t p, uintptr_t *lo, uintptr_t *hi)
{
	for (int i = 0; i < o->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &o->dlpi_phdr[i];
		uintptr_t s = o->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && p >= s && p - s < ph->p_filesz) {
			*lo = s;
			*hi = s + ph->p_filesz;
			return 1;
		}
	}
	return 0;
}

/* Compile every FDE of the loaded object o into rows relative to base,
 * for code in [text_lo, text_hi).  .eh_frame is found through
 * .eh_frame_hdr (PT_GNU_EH_FRAME), which says where it starts.
 * Returns 0, having set *rows (malloc'd, sorted; NULL if none) and
 * *nrows, or -ENOMEM.  Not for a signal handler: it allocates. */
int gort_runtime_cfi_compile(const struct dl_phdr_info *o, uintptr_t base, uintptr_t text_lo,
	uintptr_t text_hi, struct gort_cfirow **rows, size_t *nrows)
{
	*rows = NULL;
	*nrows = 0;
	const ElfW(Phdr) *hdrph = NULL;
	for (int i = 0; i < o->dlpi_phnum; i++)
		if (o->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			hdrph = &o->dlpi_phdr[i];
	if (!hdrph)
		return 0;
	uintptr_t hdr = o->dlpi_addr + hdrph->p_vaddr, seg_lo, seg_hi;
	if (!segment_of(o, hdr, &seg_lo, &seg_hi))
		return 0;
	struct rd r = { (const void *)hdr, (const void *)seg_hi, 0 };
	if (u8(&r) != 1)
		return 0;                        /* version */
	int frame_enc = (int)u8(&r);
	u8(&r), u8(&r);                      /* the search table's encodings */
	uintptr_t eh_frame = ptr(&r, frame_enc, hdr);
	uintptr_t f_lo, f_hi;
	if (r.bad || !segment_of(o, eh_frame, &f_lo, &f_hi))
		return 0;

	/* Walk .eh_frame itself, entry by entry, up to its terminator (a
	 * zero length) or the end of its segment.  The header's search table
	 * would list the FDEs too, but a linker may leave it short (MIPS
	 * executables' list only crt's few). */
	struct out out = { .base = base };
	const unsigned char *p = (const void *)eh_frame, *end = (const void *)f_hi;
	while (!out.failed && (size_t)(end - p) >= 4) {
		struct rd e = { p, end, 0 };
		uint64_t len = ufix(&e, 4);
		if (len == 0)
			break;
		if (len == 0xffffffff)
			len = ufix(&e, 8);
		if (e.bad || len < 4 || len > (uint64_t)(end - e.p))
			break;
		if (ufix(&e, 4) != 0)            /* not a CIE: an FDE */
			compile_fde(&out, p, (const void *)f_lo, end, text_lo, text_hi);
		p = e.p - 4 + len;
	}
	if (!out.failed && order(&out) != 0)
		out.failed = 1;
	free(out.chunks);
	if (out.failed) {
		free(out.rows);
		return -ENOMEM;
	}
	/* Where one FDE's end marker and the next one's first row share a pc,
	 * keep the row; where two neighbours say the same, keep the first. */
	size_t n = 0;
	for (size_t i = 0; i < out.n; i++) {
		if (n > 0 && out.rows[n - 1].pc == out.rows[i].pc) {
			if (out.rows[i].cfa != CFI_NONE)
				out.rows[n - 1] = out.rows[i];
			if (n > 1 && same_rule(&out.rows[n - 2], &out.rows[n - 1]))
				n--;
			continue;
		}
		if (n > 0 && same_rule(&out.rows[n - 1], &out.rows[i]))
			continue;
		out.rows[n++] = out.rows[i];
	}
	*rows = out.rows;
	*nrows = n;
	return 0;
}
