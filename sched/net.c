/*
 * net.c -- listening and dialling by name (Go: net.Listen, net.Dial,
 * net.SplitHostPort, Addr.String).
 *
 * The resolver (getaddrinfo) may block for seconds on a slow DNS server,
 * so it runs inside the system-call hand-off: the goroutine's P goes to
 * another thread meanwhile, as Go's cgo resolver does.  Dialling tries
 * each resolved address in turn, as Go's dialSerial does, all within the
 * one deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sched/netpoll.h"

struct network {
	const char *name;
	int family;     /* AF_UNSPEC: either */
	int socktype;
};

static const struct network networks[] = {
	{ "tcp", AF_UNSPEC, SOCK_STREAM },
	{ "tcp4", AF_INET, SOCK_STREAM },
	{ "tcp6", AF_INET6, SOCK_STREAM },
	{ "udp", AF_UNSPEC, SOCK_DGRAM },
	{ "udp4", AF_INET, SOCK_DGRAM },
	{ "udp6", AF_INET6, SOCK_DGRAM },
	{ "unix", AF_UNIX, SOCK_STREAM },
	{ "unixgram", AF_UNIX, SOCK_DGRAM },
};

static const struct network *find_network(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof networks / sizeof networks[0]; i++)
		if (strcmp(networks[i].name, name) == 0)
			return &networks[i];
	return NULL;
}

/* "host:port", "[v6]:port", ":port" -> host (NULL if empty) and port.
 * 0 or -EINVAL. */
static int split_hostport(const char *addr, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon = strrchr(addr, ':');
	if (!colon)
		return -EINVAL;
	const char *h = addr, *he = colon;
	if (*h == '[') {
		if (he == h || he[-1] != ']')
			return -EINVAL;
		h++, he--;
	} else if (memchr(addr, ':', (size_t)(colon - addr))) {
		return -EINVAL;   /* an IPv6 literal must be bracketed */
	}
	size_t hl = (size_t)(he - h), pl = strlen(colon + 1);
	if (hl >= hn || pl == 0 || pl >= pn)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, pl + 1);
	return 0;
}

/* A literal address and a numeric port need no resolver, and, above all,
 * no system-call hand-off: a server dialling thousands of peers by
 * address must not start a thread per dial.  1 if done, 0 if the
 * resolver is needed. */
static int literal(const struct network *nw, const char *host, const char *port, int passive,
	struct addrinfo **res)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (*end || p > 65535)
		return 0;
	struct {
		struct addrinfo ai;
		struct sockaddr_storage ss;
	} *r = calloc(1, sizeof *r);
	if (!r)
		return 0;
	struct sockaddr_in *in = (struct sockaddr_in *)&r->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&r->ss;
	if (nw->family != AF_INET6 && (host[0] ? inet_pton(AF_INET, host, &in->sin_addr) == 1
	                                       : passive && nw->family == AF_INET)) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		r->ai.ai_family = AF_INET;
		r->ai.ai_addrlen = sizeof *in;
	} else if (nw->family != AF_INET && host[0] && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		r->ai.ai_family = AF_INET6;
		r->ai.ai_addrlen = sizeof *in6;
	} else {
		free(r);
		return 0;
	}
	r->ai.ai_socktype = nw->socktype;
	r->ai.ai_addr = (struct sockaddr *)&r->ss;
	*res = &r->ai;
	return 1;
}

static void release(struct addrinfo *res, int lit)
{
	if (lit)
		free(res);   /* literal()'s single block */
	else
		freeaddrinfo(res);
}

static int resolve(const struct network *nw, const char *addr, int passive, struct addrinfo **res,
	int *lit)
{
	char host[256], port[64];
	int e = split_hostport(addr, host, sizeof host, port, sizeof port);
	if (e < 0)
		return e;
	if ((*lit = literal(nw, host, port, passive, res)) != 0)
		return 0;
	struct addrinfo hints = { .ai_family = nw->family, .ai_socktype = nw->socktype,
		.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG };
	int handoff = getg() != NULL;   /* outside a goroutine there is no P to hand off */
	if (handoff)
		gort_syscall_enter();
	int r = getaddrinfo(host[0] ? host : NULL, port, &hints, res);
	if (handoff)
		gort_syscall_exit();
	switch (r) {
	case 0: return 0;
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
		return -ENOENT;
	case EAI_SERVICE: return -EINVAL;
	case EAI_AGAIN: return -EAGAIN;
	case EAI_MEMORY: return -ENOMEM;
	case EAI_FAMILY: return -EAFNOSUPPORT;
	case EAI_SYSTEM: return -errno;
	default: return -EINVAL;
	}
}

static int unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof sun->sun_path)
		return -EINVAL;
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static int listen_on(int family, int socktype, const struct sockaddr *sa, socklen_t len)
{
	int fd = gort_socket(family, socktype, 0);
	if (fd < 0)
		return fd;
	int one = 1;
	if (family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (family == AF_INET6)   /* "tcp6" means IPv6 only, as in Go */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, sa, len) < 0 || (socktype == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int gort_listen(const char *network, const char *address)
{
	const struct network *nw = find_network(network);
	if (!nw || !address)
		return -EINVAL;
	if (nw->family == AF_UNIX) {
		struct sockaddr_un sun;
		socklen_t len;
		int e = unix_addr(address, &sun, &len);
		return e < 0 ? e : listen_on(AF_UNIX, nw->socktype, (struct sockaddr *)&sun, len);
	}
	struct addrinfo *res;
	int lit;
	int e = resolve(nw, address, 1, &res, &lit);
	if (e < 0)
		return e;
	/* An empty host on "tcp": one socket for both families, as Go
	 * listens on [::] with IPV6_V6ONLY off. */
	int fd = -EADDRNOTAVAIL;
	char host[256], port[64];
	split_hostport(address, host, sizeof host, port, sizeof port);
	if (!host[0] && nw->family == AF_UNSPEC) {
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET6) {
				int s = gort_socket(AF_INET6, nw->socktype, 0);
				if (s >= 0) {
					int zero = 0, one = 1;
					setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
					setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
					if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 &&
					    (nw->socktype != SOCK_STREAM || listen(s, SOMAXCONN) == 0)) {
						fd = s;
						break;
					}
					close(s);
				}
			}
	}
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = listen_on(ai->ai_family, nw->socktype, ai->ai_addr, ai->ai_addrlen);
	release(res, lit);
	return fd;
}

static int dial_one(int family, int socktype, const struct sockaddr *sa, socklen_t len,
	int64_t deadline)
{
	int fd = gort_socket(family, socktype, 0);
	if (fd < 0)
		return fd;
	int e = gort_connect(fd, sa, len, deadline);
	if (e < 0) {
		gort_close(fd);
		return e;
	}
	if (socktype == SOCK_STREAM && family != AF_UNIX) {
		int one = 1;   /* Go's default: no Nagle */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return fd;
}

int gort_dial(const char *network, const char *address, int64_t deadline)
{
	const struct network *nw = find_network(network);
	if (!nw || !address)
		return -EINVAL;
	if (nw->family == AF_UNIX) {
		struct sockaddr_un sun;
		socklen_t len;
		int e = unix_addr(address, &sun, &len);
		return e < 0 ? e : dial_one(AF_UNIX, nw->socktype, (struct sockaddr *)&sun, len, deadline);
	}
	struct addrinfo *res;
	int lit;
	int e = resolve(nw, address, 0, &res, &lit);
	if (e < 0)
		return e;
	int fd = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = dial_one(ai->ai_family, nw->socktype, ai->ai_addr, ai->ai_addrlen, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	release(res, lit);
	return fd;
}

static int format_addr(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN];
	int w;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		w = snprintf(buf, n, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		w = snprintf(buf, n, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
		size_t pl = len > offsetof(struct sockaddr_un, sun_path)
			? strnlen(sun->sun_path, len - offsetof(struct sockaddr_un, sun_path)) : 0;
		w = snprintf(buf, n, "%.*s", (int)pl, sun->sun_path);
	} else {
		return -EAFNOSUPPORT;
	}
	return w < 0 || (size_t)w >= n ? -ENOSPC : w;
}

int gort_localaddr(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return format_addr(&ss, len, buf, n);
}

int gort_peeraddr(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return format_addr(&ss, len, buf, n);
}
