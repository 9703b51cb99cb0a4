/*
 * trace.c -- the execution tracer: GORTTRACE=file.json writes what every
 * M did, as Chrome trace-event JSON that Perfetto (ui.perfetto.dev) and
 * chrome://tracing open (Go: runtime/trace.go, `go tool trace`).
 *
 *   process "Ms": one track per M; a span for each time a goroutine ran
 *     on it; instants for park (with the wait reason), ready, steal and
 *     system calls; and, from the SIGPROF handler, profiling samples and
 *     signals that landed in atomic64 code.
 *   process "Ps": one track per P, with the same spans.
 *
 * Memory is bounded: each M records into its own ring of TRACE_EVENTS
 * events, written only by that M (its SIGPROF handler has a second ring,
 * so that a signal never races the M's own writes), and the oldest events
 * are overwritten.  The rings are written out when gort_main returns; the
 * file is opened as it starts, so that a bad GORTTRACE is reported before
 * the program runs rather than after.
 *
 * Off (the default), the cost is one load and a predicted branch per
 * switch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched.h"

#define TRACE_EVENTS (1u << 15)      /* per ring: 32768 events, 1 MiB */

struct tev {
	int64_t ts, dur;                  /* ns since the trace began; dur for spans */
	uint64_t goid;
	uint32_t kind;                    /* enum trace_kind */
	int32_t arg;                      /* P id for spans, wait reason, ... */
};

volatile uint32_t gort_trace_on;      /* atomic */
static int64_t trace_start;
static char *trace_path;
static int trace_fd = -1;            /* opened as gort_main starts, written as it returns */

/* Each M's rings; allocated when the M starts (or tracing does). */
static int64_t tnow(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - trace_start;
}

static void put(struct tring *r, int64_t ts, int64_t dur, uint64_t goid, uint32_t kind, int32_t arg)
{
	if (!r->ev)
		return;
	r->ev[r->next++ & (TRACE_EVENTS - 1)] = (struct tev){ ts, dur, goid, kind, arg };
}

void gort_trace_minit(struct m *m)
{
	if (!atomic_loadacq32(&gort_trace_on))
		return;
	m->trace.ev = calloc(TRACE_EVENTS, sizeof(struct tev));
	m->tracesig.ev = calloc(TRACE_EVENTS, sizeof(struct tev));
}

void gort_trace_run_begin(struct m *m, struct g *gp)
{
	m->trace_run_start = tnow();
	m->trace_run_goid = gp->goid;
	m->trace_run_p = m->p ? m->p->id : -1;
}

void gort_trace_run_end(struct m *m, struct g *gp, uint32_t why, int32_t arg)
{
	int64_t now = tnow();
	if (m->trace_run_goid == gp->goid && m->trace_run_start)
		put(&m->trace, m->trace_run_start, now - m->trace_run_start, gp->goid, TRACE_RUN,
			m->trace_run_p);
	m->trace_run_start = 0;
	if (why != TRACE_NONE)
		put(&m->trace, now, 0, gp->goid, why, arg);
}

void gort_trace_event(struct m *m, uint32_t kind, uint64_t goid, int32_t arg)
{
	put(&m->trace, tnow(), 0, goid, kind, arg);
}

/* From the SIGPROF handler: async-signal-safe (a clock read, a store). */
void gort_trace_sigevent(struct m *m, uint32_t kind, uint64_t goid)
{
	put(&m->tracesig, tnow(), 0, goid, kind, 0);
}

void gort_trace_start(void)
{
	const char *p = getenv("GORTTRACE");
	if (!p || !*p)
		return;
	/* No O_TRUNC until the trace is written: a program killed before then
	 * leaves the previous trace as it was. */
	trace_fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (trace_fd < 0) {
		fprintf(stderr, "gort: GORTTRACE=%s: %s\n", p, strerror(errno));
		return;
	}
	trace_path = strdup(p);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	trace_start = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	atomic_storerel32(&gort_trace_on, 1);
}

static const char *const names[] = {
	[TRACE_NONE] = "", [TRACE_RUN] = "run", [TRACE_PARK] = "park", [TRACE_READY] = "ready",
	[TRACE_STEAL] = "steal", [TRACE_SYSCALL] = "syscall", [TRACE_SYSCALL_EXIT] = "syscall exit",
	[TRACE_EXIT] = "exit", [TRACE_YIELD] = "yield", [TRACE_SAMPLE] = "profiling sample",
	[TRACE_LOSTATOMIC] = "SIGPROF in atomic64 code",
};

static void emit(FILE *f, int *first, int pid, int64_t tid, const struct tev *e)
{
	fprintf(f, "%s\n", *first ? "" : ",");
	*first = 0;
	if (e->kind == TRACE_RUN) {
		fprintf(f, "{\"name\":\"goroutine %llu\",\"cat\":\"run\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
			"\"pid\":%d,\"tid\":%lld,\"args\":{\"goid\":%llu,\"p\":%d}}",
			(unsigned long long)e->goid, e->ts / 1e3, e->dur / 1e3, pid, (long long)tid,
			(unsigned long long)e->goid, e->arg);
		return;
	}
	const char *what = e->kind == TRACE_PARK && e->arg >= 0 && e->arg < wrCount ?
		gort_sched_waitreasons[e->arg] : "";
	fprintf(f, "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":%d,"
		"\"tid\":%lld,\"args\":{\"goid\":%llu,\"reason\":\"%s\",\"arg\":%d}}",
		names[e->kind], names[e->kind], e->ts / 1e3, pid, (long long)tid,
		(unsigned long long)e->goid, what, e->arg);
}

static void ring_out(FILE *f, int *first, const struct tring *r, int64_t mid)
{
	if (!r->ev)
		return;
	uint32_t n = r->next, from = n > TRACE_EVENTS ? n - TRACE_EVENTS : 0;
	for (uint32_t i = from; i < n; i++) {
		const struct tev *e = &r->ev[i & (TRACE_EVENTS - 1)];
		emit(f, first, 1, mid, e);
		if (e->kind == TRACE_RUN && e->arg >= 0)
			emit(f, first, 2, e->arg, e);   /* the same span on its P's track */
	}
}

/* Write the trace (gort_main, once main has returned). */
void gort_trace_stop(void)
{
	if (!atomic_loadacq32(&gort_trace_on))
		return;
	atomic_storerel32(&gort_trace_on, 0);
	struct stat sb;
	if (fstat(trace_fd, &sb) == 0 && S_ISREG(sb.st_mode) && ftruncate(trace_fd, 0) != 0) {
		fprintf(stderr, "gort: GORTTRACE=%s: %s\n", trace_path, strerror(errno));
		close(trace_fd);
		return;
	}
	FILE *f = fdopen(trace_fd, "w");
	if (!f) {
		fprintf(stderr, "gort: GORTTRACE=%s: %s\n", trace_path, strerror(errno));
		close(trace_fd);
		return;
	}
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
	int first = 1;
	fprintf(f, "\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"Ms (threads)\"}},"
		"\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":2,\"args\":{\"name\":\"Ps (processors)\"}}");
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink)
		fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%lld,"
			"\"args\":{\"name\":\"M%lld\"}}", (long long)m->id, (long long)m->id);
	for (uint32_t i = 0; i < gort_sched.nallp_max; i++)
		fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":2,\"tid\":%u,"
			"\"args\":{\"name\":\"P%u\"}}", i, i);
	first = 0;
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink) {
		ring_out(f, &first, &m->trace, m->id);
		ring_out(f, &first, &m->tracesig, m->id);
	}
	fprintf(f, "\n]}\n");
	if (fclose(f) != 0)
		fprintf(stderr, "gort: GORTTRACE=%s: writing the trace: %s\n", trace_path, strerror(errno));
}
