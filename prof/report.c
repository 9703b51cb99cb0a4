/*
 * report.c -- the runtime's own views of a finished profile: the top
 * functions by flat and cumulative CPU time (like `go tool pprof -top`),
 * and folded stacks, one line per stack, for flame-graph tools
 * ("root;caller;leaf count", as Brendan Gregg's stackcollapse scripts
 * write them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prof/prof.h"

struct fstat {
	const char *name;
	uint64_t flat, cum;
	int owned;    /* name is a copy (an address with no symbol) */
};

static const char *fname(uintptr_t pc, int caller, char *buf, size_t cap)
{
	const struct gort_func *f = gort_runtime_findfunc(caller ? pc - 1 : pc);
	if (f)
		return f->name;
	snprintf(buf, cap, "%#lx", (unsigned long)pc);
	return buf;
}

static int by_flat(const void *a, const void *b)
{
	const struct fstat *x = a, *y = b;
	if (x->flat != y->flat)
		return x->flat > y->flat ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int report(FILE *out, int top)
{
	const struct profile *p = &gort_prof_last;
	struct fstat *fs = NULL;
	size_t nfs = 0, cap = 0;
	uint64_t total = 0;
	char buf[32];
	for (size_t b = 0; b < p->nbuckets; b++) {
		for (const struct profentry *e = p->buckets[b]; e; e = e->next) {
			total += e->cpu_ns;
			for (int i = 0; i < e->nstk; i++) {
				const char *name = fname(e->stk[i], i > 0, buf, sizeof buf);
				/* a name counts once per sample for cum, even under recursion */
				int seen = 0;
				for (int j = 0; j < i && !seen; j++)
					seen = strcmp(fname(e->stk[j], j > 0, buf, sizeof buf), name) == 0;
				name = fname(e->stk[i], i > 0, buf, sizeof buf);   /* buf again */
				size_t k = 0;
				while (k < nfs && strcmp(fs[k].name, name) != 0)
					k++;
				if (k == nfs) {
					if (nfs == cap) {
						cap = cap ? 2 * cap : 64;
						struct fstat *nf = realloc(fs, cap * sizeof *nf);
						if (!nf) {
							free(fs);
							return -ENOMEM;
						}
						fs = nf;
					}
					int own = name == buf;
					fs[nfs++] = (struct fstat){ own ? strdup(name) : name, 0, 0, own };
				}
				if (i == 0)
					fs[k].flat += e->cpu_ns;
				if (!seen)
					fs[k].cum += e->cpu_ns;
			}
		}
	}
	qsort(fs, nfs, sizeof *fs, by_flat);
	const struct gort_prof_stats *s = &p->stats;
	fprintf(out, "Duration: %.2fs, total samples = %.2fs (%.1f%%), %llu signals at %.0f Hz achieved (%d requested)\n",
		(double)p->duration_ns / 1e9, (double)total / 1e9,
		p->duration_ns ? 100.0 * (double)total / (double)p->duration_ns : 0.0,
		(unsigned long long)s->signals, s->achieved_hz, p->hz);
	fprintf(out, "Showing top %d of %zu functions\n", top < (int)nfs ? top : (int)nfs, nfs);
	fprintf(out, "      flat  flat%%   sum%%        cum   cum%%\n");
	double sum = 0;
	for (size_t i = 0; i < nfs && (int)i < top; i++) {
		double flatp = total ? 100.0 * (double)fs[i].flat / (double)total : 0;
		sum += flatp;
		fprintf(out, "%9.2fs %5.1f%% %5.1f%% %9.2fs %5.1f%%  %s\n", (double)fs[i].flat / 1e9, flatp,
			sum, (double)fs[i].cum / 1e9, total ? 100.0 * (double)fs[i].cum / (double)total : 0,
			fs[i].name);
	}
	for (size_t i = 0; i < nfs; i++)
		if (fs[i].owned)
			free((char *)fs[i].name);
	free(fs);
	return 0;
}

static int folded(FILE *out)
{
	const struct profile *p = &gort_prof_last;
	char buf[32];
	for (size_t b = 0; b < p->nbuckets; b++) {
		for (const struct profentry *e = p->buckets[b]; e; e = e->next) {
			for (int i = e->nstk - 1; i >= 0; i--)
				fprintf(out, "%s%s", fname(e->stk[i], i > 0, buf, sizeof buf), i ? ";" : "");
			fprintf(out, " %llu\n", (unsigned long long)e->count);
		}
	}
	return ferror(out) ? -EIO : 0;
}

/* The names come from the symbol table, which a refresh may replace
 * meanwhile: hold a pin while they are read (runtime/symtab.c). */
int gort_prof_report(FILE *out, int top)
{
	gort_runtime_symtab_pin();
	int err = report(out, top);
	gort_runtime_symtab_unpin();
	return err;
}

int gort_prof_folded(FILE *out)
{
	gort_runtime_symtab_pin();
	int err = folded(out);
	gort_runtime_symtab_unpin();
	return err;
}
