/*
 * netpoll.h -- the poller and the descriptor operations built on it, for
 * netpoll.c, netpoll_<os>.c, fd.c, net.c and proc.c (Go: netpoll.go's
 * pollDesc, internal/poll's FD).
 */
#ifndef GORT_SCHED_NETPOLL_H
#define GORT_SCHED_NETPOLL_H

#include "sched/sched.h"

#define PD_READY ((uintptr_t)1)
#define PD_WAIT ((uintptr_t)2)
#define GORT_ECLOSED_ERR (-GORT_ECLOSED)

enum pdkind {
	PD_UNKNOWN,   /* not yet looked at (or its registration was lost) */
	PD_POLL,      /* registered with the poller, non-blocking */
	PD_BLOCK,     /* epoll refuses it, or it is a blocking 0, 1 or 2: system-call hand-off */
};

struct polldesc {
	/* The slots (see netpoll.c): 0, PD_READY, PD_WAIT or a G; atomic. */
	volatile uintptr_t rg, wg;
	/* Operations in flight << 1 | closing; atomic. */
	volatile uint32_t refs;
	/* Bumped by gort_close: an event carrying an older one is stale. */
	volatile uint32_t seq;
	int fd;                    /* constant: its index in the table */

	struct spinlock lock;      /* protects the fields below */
	volatile uint32_t kind;    /* enum pdkind; also read without the lock (acquire) */
	uint8_t sock;              /* a socket: MSG_NOSIGNAL */
	int64_t checkat;           /* when sysmon next checks the registration; 0: nobody waits */
	int64_t checkgap;

	/* One reader and one writer at a time (Go: fdMutex's rwlock). */
	gort_mutex rmu, wmu;
} __attribute__((aligned(64)));

/* netpoll.c */
int gort_sched_netpoll_init(void);          /* 0 or -errno; idempotent */
int gort_sched_netpoll_inited(void);
struct polldesc *gort_sched_pd_get(int fd); /* NULL for a number out of range */
struct polldesc *gort_sched_pd_lookup(int fd);
uint64_t gort_sched_pd_key(struct polldesc *pd);
int gort_sched_pd_begin(struct polldesc *pd);   /* 0 if closing */
void gort_sched_pd_end(struct polldesc *pd);
int gort_sched_pd_close(struct polldesc *pd);   /* 0, or GORT_ECLOSED_ERR */
int gort_sched_pd_closing(struct polldesc *pd);
/* Park until pd is ready for mode ('r' or 'w'): 0 (ready, or woken to
 * retry), -ETIMEDOUT, or GORT_ECLOSED_ERR.  deadline: nanotime, < 0 none,
 * 0 do not wait. */
int gort_sched_pd_wait(struct polldesc *pd, int mode, int64_t deadline);

/* netpoll_<os>.c */
int gort_sched_netpoll_os_init(void);
int gort_sched_netpoll_os_open(int fd, uint64_t key);
int gort_sched_netpoll_os_check(int fd, uint64_t key);
void gort_sched_netpoll_os_close(int fd);
void gort_sched_netpoll_os_break(void);
int gort_sched_netpoll_os_wait(int64_t ns, void (*ready)(void *ctx, uint64_t key, int r, int w),
	void *ctx);

#endif /* GORT_SCHED_NETPOLL_H */
