/*
 * cpuprof.c -- starting and stopping the CPU profiler, the per-M timers,
 * the reader thread, and the table samples are merged into (Go: cpuprof.go,
 * and the setProcessCPUProfiler/setThreadCPUProfiler of os_linux.go and
 * signal_unix.go).
 *
 * Timers.  Each M gets a POSIX timer on its own thread CPU clock
 * (CLOCK_THREAD_CPUTIME_ID) that sends SIGPROF to that thread alone
 * (SIGEV_THREAD_ID) every 1/hz of CPU time it uses -- as Go does on Linux
 * since 1.18.  A process-wide setitimer(ITIMER_PROF) is the fallback: its
 * signals go to whichever thread the kernel picks, and beyond about 2.5
 * busy CPUs the kernel drops some (golang/go#35057).  Ms created while
 * profiling arm their own timer as they start.
 *
 * The kernel delivers CPU-time timers on its scheduler tick (250 Hz on
 * this machine), so asking for 1000 Hz yields about 250 signals per busy
 * CPU-second.  gperftools and Go then under-count CPU time by 4x; gort
 * reads the thread's CPU clock in the handler and gives each sample the
 * CPU time since the previous one, so the profile's cpu/nanoseconds are
 * right whatever rate the kernel manages.  The rate it did manage is in
 * the stats and in the profile's comments.
 *
 * Stopping.  Set the state to off; delete every timer; wait until no
 * handler is running (each counts itself in m->prof_inhandler before it
 * looks at the state); only then read the last samples and free the
 * buffers.  A SIGPROF that was already queued arrives to find the state
 * off and returns at once (golang/go#19320 was a crash in that window).
 *
 * The file.  A profile replaces the file it names only once it is whole:
 * it is written to <target>.tmp.<pid> beside the target and renamed over
 * it at stop, so a program killed while profiling leaves the previous
 * profile as it was.  The target is what the name leads to through any
 * symbolic links, so the rename replaces the file and the link stays a
 * link.  A device or a FIFO is written where it is: it holds nothing to
 * keep, and a rename would replace the node itself with a plain file (as
 * root, a rename over /dev/null succeeds and breaks the whole machine).
 * Every way the runtime itself ends the process removes the temporary:
 * the fatal paths through gort_runtime_atdie, exit(3) -- and so a
 * gort_main that returns while profiling -- through atexit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "atomic/atomic.h"
#include "prof/prof.h"
#include "sched/sched.h"

volatile uint32_t gort_prof_state;
volatile uint32_t gort_prof_external;
int64_t gort_prof_period;
int gort_prof_fix = 1;

struct profile gort_prof_last;

/* The profiler's own state: touched by the thread that starts or stops
 * it, and by the reader thread, under proflock. */
static struct rtlock proflock;
static struct profile cur;
static int outfd = -1, outowned;   /* outowned: opened (and closed) here */
static int outdir = -1;         /* the target's directory (O_PATH), or -1: written in place */
static char *outname;           /* the target's name in outdir */
static int use_itimer;
static uint32_t bufwords, buftags;
/* A stop between its two halves, under proflock: the state is already
 * off (the handlers must see that first), but the reader, the table and
 * the descriptor are still the stopping caller's, so a start must wait
 * its turn: -EBUSY, as if the profile still ran. */
static int stopping;
static pthread_t reader;
static struct note reader_note;
static volatile uint32_t reader_stop;
volatile uint32_t gort_prof_reader_hold;

/* The temporary, for the dying paths, which can do no more than unlinkat:
 * its directory and name are ready before the file exists.  name and dir
 * change only while armed is 0. */
static struct {
	volatile uint32_t armed;      /* atomic: 1 while name in dir may be our temporary */
	int dir;
	char name[NAME_MAX + 1];
} tmp = { 0, -1, "" };

/* --- the merged profile ------------------------------------------------- */

static uint64_t hashkey(const void *tag, const uintptr_t *stk, int n)
{
	uint64_t h = 14695981039346656037ull ^ (uintptr_t)tag;
	for (int i = 0; i < n; i++) {
		h ^= stk[i];
		h *= 1099511628211ull;
	}
	return h ^ (uint64_t)n;
}

void gort_prof_add(struct profile *p, const void *tag, uint64_t count, uint64_t cpu_ns,
	const uintptr_t *stk, int nstk)
{
	if (p->nentries >= p->nbuckets) {
		size_t nb = p->nbuckets ? 2 * p->nbuckets : 1024;
		struct profentry **b = calloc(nb, sizeof *b);
		if (!b)
			gort_runtime_throw("out of memory growing the profile");
		for (size_t i = 0; i < p->nbuckets; i++) {
			struct profentry *e = p->buckets[i], *next;
			for (; e; e = next) {
				next = e->next;
				size_t k = hashkey(e->tag, e->stk, e->nstk) & (nb - 1);
				e->next = b[k];
				b[k] = e;
			}
		}
		free(p->buckets);
		p->buckets = b;
		p->nbuckets = nb;
	}
	size_t k = hashkey(tag, stk, nstk) & (p->nbuckets - 1);
	for (struct profentry *e = p->buckets[k]; e; e = e->next) {
		if (e->tag == tag && e->nstk == nstk && memcmp(e->stk, stk, (size_t)nstk * sizeof *stk) == 0) {
			e->count += count;
			e->cpu_ns += cpu_ns;
			return;
		}
	}
	struct profentry *e = malloc(sizeof *e + (size_t)nstk * sizeof *stk);
	if (!e)
		gort_runtime_throw("out of memory adding to the profile");
	e->count = count;
	e->cpu_ns = cpu_ns;
	e->tag = tag;
	e->nstk = nstk;
	memcpy(e->stk, stk, (size_t)nstk * sizeof *stk);
	e->next = p->buckets[k];
	p->buckets[k] = e;
	p->nentries++;
}

void gort_prof_clear(struct profile *p)
{
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct profentry *e = p->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(p->buckets);
	memset(p, 0, sizeof *p);
}

static void addrec(const struct profrec *r, void *arg)
{
	gort_prof_add(arg, r->tag, r->count, r->cpu_ns, r->stk, r->nstk);
}

static void drain(void)
{
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink) {
		struct profbuf *b = atomic_loadp((void *const volatile *)&m->profbuf);
		if (b)
			gort_prof_buf_read(b, addrec, &cur);
	}
}

static void *reader_main(void *arg)
{
	(void)arg;
	for (;;) {
		gort_sched_notetsleep(&reader_note, 100000000);
		noteclear(&reader_note);
		if (atomic_load32(&gort_prof_reader_hold) && !atomic_load32(&reader_stop))
			continue;
		gort_sched_lock(&proflock);
		drain();
		gort_sched_unlock(&proflock);
		/* An object loaded since the last drain joins the symbol
		 * table and its unwind rows, so that the next samples in it
		 * have their callers (runtime/symtab.c). */
		gort_runtime_symtab_refresh();
		if (atomic_load32(&reader_stop))
			return NULL;
	}
}

/* --- timers ----------------------------------------------------------- */

/* Give m a buffer and a CPU-time timer, once.  Called by the starter for
 * every M, and by each new M for itself; whoever wins the CAS does it. */
static void arm(struct m *m)
{
	if (!m->profbuf) {
		struct profbuf *b = gort_prof_buf_new(bufwords, buftags);
		if (b && !atomic_casp((void *volatile *)&m->profbuf, NULL, b))
			gort_prof_buf_free(b);
	}
	if (use_itimer || m->tid == 0 || !atomic_cas32(&m->prof_timer, 0, 1))
		return;
	/* The M's own CPU clock: CLOCK_THREAD_CPUTIME_ID would be ours. */
	clockid_t clk;
	if (pthread_getcpuclockid(m->thread, &clk) != 0) {
		atomic_store32(&m->prof_timer, 0);
		return;
	}
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = m->tid;
	if (timer_create(clk, &sev, &m->proftimer) != 0) {
		atomic_store32(&m->prof_timer, 0);
		return;
	}
	struct itimerspec its;
	its.it_interval.tv_sec = gort_prof_period / 1000000000;
	its.it_interval.tv_nsec = gort_prof_period % 1000000000;
	its.it_value = its.it_interval;
	timer_settime(m->proftimer, 0, &its, NULL);
	atomic_store32(&m->prof_timer, 2);
}

static void disarm(struct m *m)
{
	/* 1 means another thread is between timer_create and settime: wait */
	while (atomic_load32(&m->prof_timer) == 1)
		sched_yield();
	if (atomic_load32(&m->prof_timer) == 2) {
		timer_delete(m->proftimer);
		atomic_store32(&m->prof_timer, 0);
	}
}

void gort_prof_minit(struct m *m)
{
	atomic_fence();   /* m->tid is set; now look at the state */
	if (atomic_load32(&gort_prof_state) == PROF_ON) {
		gort_sched_lock(&proflock);
		if (atomic_load32(&gort_prof_state) == PROF_ON)
			arm(m);
		gort_sched_unlock(&proflock);
	}
}

/* Can this system give each thread its own CPU-time timer? */
static int have_thread_timers(void)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = (int)gettid();
	timer_t t;
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t) != 0)
		return 0;
	timer_delete(t);
	return 1;
}

/* --- the file --------------------------------------------------------------- */

/* A dying path's hook, and exit's: async-signal-safe (an atomic load and
 * unlinkat). */
static void remove_temporary(void)
{
	if (atomic_load32(&tmp.armed))
		unlinkat(tmp.dir, tmp.name, 0);
}

__attribute__((constructor))
static void prof_atdie(void)
{
	gort_runtime_atdie(remove_temporary);
	atexit(remove_temporary);
}

/* The file that writing to path writes: path's last component followed
 * through symbolic links as open(2) follows them, a relative link being
 * relative to its own directory.  Returns it malloc'd, with its lstat in
 * *sb (st_mode 0 when there is nothing there yet), or NULL and errno. */
static char *resolve(const char *path, struct stat *sb)
{
	char *p = strdup(path);
	for (int links = 0; p; links++) {
		if (lstat(p, sb) != 0) {
			if (errno != ENOENT)
				break;
			sb->st_mode = 0;
			return p;
		}
		if (!S_ISLNK(sb->st_mode))
			return p;
		if (links == 40) {   /* the kernel's own limit */
			errno = ELOOP;
			break;
		}
		char to[PATH_MAX];
		ssize_t n = readlink(p, to, sizeof to);
		if (n < 0)
			break;
		if (n == (ssize_t)sizeof to) {
			errno = ENAMETOOLONG;
			break;
		}
		const char *slash = strrchr(p, '/');
		size_t dirlen = to[0] == '/' || !slash ? 0 : (size_t)(slash - p) + 1;
		char *next = malloc(dirlen + (size_t)n + 1);
		if (!next)
			break;
		memcpy(next, p, dirlen);
		memcpy(next + dirlen, to, (size_t)n);
		next[dirlen + (size_t)n] = '\0';
		free(p);
		p = next;
	}
	int err = errno;
	free(p);
	errno = err;
	return NULL;
}

/* Open what a profile for path is written to: the target itself if it is
 * a device or a FIFO, else a temporary beside it (outdir, outname and
 * tmp say where, for the rename at stop).  The fd, or -errno. */
static int open_output(const char *path)
{
	struct stat sb;
	char *target = resolve(path, &sb);
	if (!target)
		return -errno;
	if (sb.st_mode != 0 && !S_ISREG(sb.st_mode)) {
		int fd = open(target, O_WRONLY | O_TRUNC | O_CLOEXEC);
		int err = errno;
		free(target);
		return fd < 0 ? -err : fd;
	}
	char *slash = strrchr(target, '/');
	char *name = strdup(slash ? slash + 1 : target);
	if (!name) {
		free(target);
		return -ENOMEM;
	}
	if (!*name) {   /* "dir/": open(2) would say the same */
		free(name), free(target);
		return -EISDIR;
	}
	const char *dir = ".";
	if (slash == target) {
		dir = "/";
	} else if (slash) {
		*slash = '\0';
		dir = target;
	}
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int err = errno;
	free(target);
	if (dfd < 0) {
		free(name);
		return -err;
	}
	/* A name too long to take the suffix is cut short instead: the pid in
	 * the suffix is what keeps two programs' temporaries apart. */
	char suffix[32];
	size_t ns = (size_t)snprintf(suffix, sizeof suffix, ".tmp.%d", (int)getpid());
	size_t keep = strlen(name) < NAME_MAX - ns ? strlen(name) : NAME_MAX - ns;
	memcpy(tmp.name, name, keep);
	memcpy(tmp.name + keep, suffix, ns + 1);
	tmp.dir = dfd;
	atomic_store32(&tmp.armed, 1);   /* before the file exists: no death can miss it */
	int fd = openat(dfd, tmp.name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		atomic_store32(&tmp.armed, 0);
		close(dfd);
		free(name);
		return -err;
	}
	if (sb.st_mode != 0)
		fchmod(fd, sb.st_mode & 0777);   /* the rename must not change who may read it */
	outdir = dfd;
	outname = name;
	return fd;
}

/* --- start and stop ------------------------------------------------------- */

static int start(int fd, const char *path, int hz)
{
	if (hz <= 0 || hz > 10000)
		return -EINVAL;
	gort_runtime_symtab_refresh();
	gort_sched_lock(&proflock);
	if (atomic_load32(&gort_prof_state) != PROF_OFF || stopping) {
		gort_sched_unlock(&proflock);
		return -EBUSY;
	}
	if (path) {
		fd = open_output(path);
		if (fd < 0) {
			gort_sched_unlock(&proflock);
			return fd;
		}
		outowned = 1;
	} else if (fd < 0 || fcntl(fd, F_GETFL) < 0 || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY) {
		gort_sched_unlock(&proflock);
		return -EBADF;
	}
	outfd = fd;

	gort_prof_fix = gort_runtime_debug("lostatomic64", 1);
	int words = gort_runtime_debug("profbuf", 1 << 16);
	bufwords = 64;
	while (bufwords < (uint32_t)words && bufwords < (1u << 24))
		bufwords <<= 1;
	buftags = bufwords / 4 < 16 ? 16 : bufwords / 4;
	gort_prof_period = 1000000000 / hz;
	use_itimer = !have_thread_timers();

	static int installed;
	if (!installed) {
		gort_runtime_sigregister(SIGPROF, gort_prof_handler, GORT_SIG_BLOCKALL | GORT_SIG_RESTART);
		installed = 1;
	}

	gort_prof_clear(&cur);
	cur.hz = hz;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cur.start_wall_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	cur.duration_ns = gort_sched_nanotime();   /* the start, for now */
	atomic_store32(&gort_prof_external, 0);
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink) {
		m->prof_signals = m->prof_written = m->prof_lostatomic = 0;
		m->prof_lostfull = m->prof_lostfull_cpu = m->prof_pending = m->prof_pending_cpu = 0;
		m->prof_lastcpu = 0;
	}

	atomic_store32(&gort_prof_state, PROF_ON);
	for (struct m *m = atomic_loadp((void *const volatile *)&gort_sched.allm); m; m = m->alllink)
		arm(m);
	if (use_itimer) {
		struct itimerval it;
		it.it_interval.tv_sec = gort_prof_period / 1000000000;
		it.it_interval.tv_usec = (gort_prof_period % 1000000000) / 1000;
		if (it.it_interval.tv_sec == 0 && it.it_interval.tv_usec == 0)
			it.it_interval.tv_usec = 1;
		it.it_value = it.it_interval;
		setitimer(ITIMER_PROF, &it, NULL);
	}
	atomic_store32(&reader_stop, 0);
	noteclear(&reader_note);
	pthread_create(&reader, NULL, reader_main, NULL);
	gort_sched_unlock(&proflock);
	return 0;
}

int gort_prof_start(const char *path, int hz)
{
	if (!path || !*path)
		return -EINVAL;
	return start(-1, path, hz);
}

int gort_prof_start_fd(int fd, int hz)
{
	return start(fd, NULL, hz);
}

int gort_prof_stop(void)
{
	gort_sched_lock(&proflock);
	if (atomic_load32(&gort_prof_state) != PROF_ON) {
		gort_sched_unlock(&proflock);
		return -EINVAL;
	}
	atomic_store32(&gort_prof_state, PROF_OFF);
	stopping = 1;
	if (use_itimer) {
		struct itimerval zero;
		memset(&zero, 0, sizeof zero);
		setitimer(ITIMER_PROF, &zero, NULL);
	}
	struct m *allm = atomic_loadp((void *const volatile *)&gort_sched.allm);
	for (struct m *m = allm; m; m = m->alllink)
		disarm(m);
	for (struct m *m = allm; m; m = m->alllink)
		while (atomic_load32(&m->prof_inhandler))
			sched_yield();
	gort_sched_unlock(&proflock);

	atomic_store32(&reader_stop, 1);
	gort_sched_notetrywakeup(&reader_note);
	pthread_join(reader, NULL);

	gort_sched_lock(&proflock);
	drain();
	/* The ledger, and what the handlers could not write themselves. */
	struct gort_prof_stats *st = &cur.stats;
	memset(st, 0, sizeof *st);
	for (struct m *m = allm; m; m = m->alllink) {
		st->signals += m->prof_signals;
		st->samples += m->prof_written;
		st->lost_atomic64 += m->prof_lostatomic;
		st->lost_full += m->prof_lostfull;
		if (m->prof_pending) {
			uintptr_t lost[2] = { gort_prof_pc(PC_LOSTATOMIC), gort_prof_pc(PC_SYSTEM) };
			gort_prof_add(&cur, NULL, m->prof_pending, m->prof_pending_cpu, lost, 2);
		}
		if (m->prof_lostfull) {
			uintptr_t lost[2] = { gort_prof_pc(PC_LOSTEVENT), gort_prof_pc(PC_SYSTEM) };
			gort_prof_add(&cur, NULL, m->prof_lostfull, m->prof_lostfull_cpu, lost, 2);
		}
		m->prof_pending = m->prof_pending_cpu = 0;
		struct profbuf *b = m->profbuf;
		atomic_storep((void *volatile *)&m->profbuf, NULL);
		gort_prof_buf_free(b);
	}
	st->external = atomic_load32(&gort_prof_external);
	if (st->external) {
		uintptr_t ext[2] = { gort_prof_pc(PC_EXTERNAL), gort_prof_pc(PC_SYSTEM) };
		gort_prof_add(&cur, NULL, st->external, st->external * (uint64_t)gort_prof_period, ext, 2);
	}
	for (size_t i = 0; i < cur.nbuckets; i++)
		for (struct profentry *e = cur.buckets[i]; e; e = e->next)
			st->cpu_ns += (int64_t)e->cpu_ns;
	cur.duration_ns = gort_sched_nanotime() - cur.duration_ns;
	st->duration_ns = cur.duration_ns;
	st->hz = cur.hz;
	st->per_thread_timers = !use_itimer;
	st->achieved_hz = st->cpu_ns > 0 ? (double)(st->signals + st->external) * 1e9 / (double)st->cpu_ns : 0;

	/* Name what the samples hold, objects loaded while it ran included;
	 * the pin keeps the names alive while the writer holds them. */
	gort_runtime_symtab_refresh();
	gort_runtime_symtab_pin();
	int err = gort_prof_write_pprof(&cur, outfd);
	gort_runtime_symtab_unpin();
	if (outowned && close(outfd) != 0 && !err)
		err = -errno;
	if (outdir >= 0) {
		if (!err && renameat(outdir, tmp.name, outdir, outname) != 0)
			err = -errno;
		if (err)
			unlinkat(outdir, tmp.name, 0);
		/* only now: a death before the rename must still find it */
		atomic_store32(&tmp.armed, 0);
		close(outdir);
	}
	free(outname);
	outname = NULL;
	outdir = outfd = -1;
	outowned = 0;
	gort_prof_clear(&gort_prof_last);
	gort_prof_last = cur;
	memset(&cur, 0, sizeof cur);
	stopping = 0;
	gort_sched_unlock(&proflock);
	return err;
}

int gort_prof_stats(struct gort_prof_stats *out)
{
	if (atomic_load32(&gort_prof_state) == PROF_ON)
		return -EBUSY;
	*out = gort_prof_last.stats;
	return 0;
}

/* --- fork ---------------------------------------------------------------------
 * A forked child has one thread and none of its parent's POSIX timers, but
 * a copy of the parent's memory: the state would say "on", with buffers
 * and a reader thread that do not exist there.  The child starts with the
 * profiler off and its own bookkeeping reset; the parent is untouched. */
static void atfork_child(void)
{
	atomic_store32(&gort_prof_state, PROF_OFF);
	stopping = 0;
	proflock.key = 0;
	if (use_itimer) {
		struct itimerval zero;
		memset(&zero, 0, sizeof zero);
		setitimer(ITIMER_PROF, &zero, NULL);
	}
	for (struct m *m = gort_sched.allm; m; m = m->alllink) {
		m->prof_timer = 0;
		m->profbuf = NULL;   /* the parent's, in copied memory: not ours to free */
		m->prof_inhandler = 0;
	}
	memset(&cur, 0, sizeof cur);
	/* The parent's temporary: the parent renames or removes it. */
	atomic_store32(&tmp.armed, 0);
	if (outdir >= 0)
		close(outdir);
	outfd = outdir = -1;
	outowned = 0;
	outname = NULL;
}

__attribute__((constructor))
static void prof_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/* --- GORTPROF=path[:hz]: profile a whole program --------------------------- */

static int env_profiling;

void gort_prof_main_start(void)
{
	gort_prof_env_start();   /* GORTPROF_BLOCK, _MUTEX, _HEAP, _GOROUTINE (profiles.c) */
	const char *s = getenv("GORTPROF");
	if (!s || !*s)
		return;
	int hz = 100;
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	if (colon) {
		char *end;
		long v = strtol(colon + 1, &end, 10);
		if (*end || v <= 0 || v > 10000) {
			fprintf(stderr, "gort: GORTPROF=%s: the rate must be 1 to 10000 Hz\n", s);
			return;
		}
		hz = (int)v;
	}
	if (n == 0) {
		fprintf(stderr, "gort: GORTPROF=%s: no file name\n", s);
		return;
	}
	/* However long: a name too long is open(2)'s to refuse, as such. */
	char *path = strndup(s, n);
	int err = path ? gort_prof_start(path, hz) : -ENOMEM;
	free(path);
	if (err) {
		fprintf(stderr, "gort: GORTPROF=%s: %s\n", s, strerror(-err));
		return;
	}
	env_profiling = 1;
}

void gort_prof_main_stop(void)
{
	gort_prof_env_stop();
	if (!env_profiling)
		return;
	env_profiling = 0;
	int err = gort_prof_stop();
	if (err)
		fprintf(stderr, "gort: GORTPROF: writing the profile: %s\n", strerror(-err));
}

/* gort_main's start: GORTPROF first, so that with GORTPPROF too the
 * endpoint's /profile finds the profiler taken, and says so. */
static void main_start(void)
{
	gort_prof_main_start();
	gort_prof_http_main_start();   /* GORTPPROF=host:port, pprofhttp.c */
}

/* The scheduler calls the profiler through these (sched.h): it stands
 * below prof and may not name it.  Before main, so before any M. */
__attribute__((constructor))
static void prof_hooks(void)
{
	/* field by field: blockprof.c, goroutineprof.c fill in their own */
	gort_sched_hooks.minit = gort_prof_minit;
	gort_sched_hooks.main_start = main_start;
	gort_sched_hooks.main_stop = gort_prof_main_stop;
}
