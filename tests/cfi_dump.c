/*
 * cfi_dump.c -- print the unwind rows gort compiled (runtime/cfi.c) for
 * two objects, this executable and the libc it runs with, for
 * cfi_check.py to hold up against binutils' own reading of the same
 * .eh_frame (readelf --debug-dump=frames-interp).
 *
 *     object <path>
 *     <address in the file> <cfa> <cfa_off> <ra> <ra_off> <fp> <fp_off>
 *
 * with the offsets in bytes.
 *
 * cfa: sp, fp, plt, none, unknown; ra: at, reg, none; fp: same, at, lost.
 */
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"

static const char *const cfa_names[] = { "none", "sp", "fp", "plt", "unknown" };
static const char *const ra_names[] = { "at", "reg", "none" };
static const char *const fp_names[] = { "same", "at", "lost" };

static int dump(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	int *idx = arg;
	const char *name = info->dlpi_name;
	char exe[4096];
	if ((*idx)++ == 0) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n < 0)
			return 0;
		exe[n] = '\0';
		name = exe;
	} else if (!name || !strstr(name, "/libc.so")) {
		return 0;
	}
	uintptr_t lo = UINTPTR_MAX;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			uintptr_t s = info->dlpi_addr + ph->p_vaddr;
			if (s < lo)
				lo = s;
		}
	}
	printf("object %s\n", name);
	const struct gort_cfirow *rows;
	size_t n;
	uintptr_t base;
	if (!gort_runtime_objrows(lo, &rows, &n, &base))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct gort_cfirow *r = &rows[i];
		printf("%lx %s %d %s %d %s %d\n", (unsigned long)(base + r->pc - info->dlpi_addr),
			cfa_names[r->cfa], r->cfa_off, ra_names[r->ra], r->cfa == CFI_PLT ? r->ra_off : 4 * r->ra_off,
			fp_names[r->fp], 4 * r->fp_off);
	}
	return 0;
}

int main(void)
{
	int idx = 0;
	dl_iterate_phdr(dump, &idx);
	return 0;
}
