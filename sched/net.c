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
		free(res);   /* literal()'s or unix_addr()'s single block */
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

/* A path as the one address of a unix network, in literal()'s block. */
static int unix_addr(const struct network *nw, const char *path, struct addrinfo **res)
{
	size_t n = strlen(path);
	struct {
		struct addrinfo ai;
		struct sockaddr_un sun;
	} *r;
	if (n == 0 || n >= sizeof r->sun.sun_path)
		return -EINVAL;
	if (!(r = calloc(1, sizeof *r)))
		return -ENOMEM;
	r->sun.sun_family = AF_UNIX;
	memcpy(r->sun.sun_path, path, n);
	r->ai.ai_family = AF_UNIX;
	r->ai.ai_socktype = nw->socktype;
	r->ai.ai_addr = (struct sockaddr *)&r->sun;
	r->ai.ai_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	*res = &r->ai;
	return 0;
}

/* What listen and dial share: the network's name checked, and the
 * address turned into a list of socket addresses (release() it). */
static int addresses(const char *network, const char *address, int passive,
	const struct network **nw, struct addrinfo **res, int *lit)
{
	*nw = find_network(network);
	if (!*nw || !address)
		return -EINVAL;
	if ((*nw)->family == AF_UNIX) {
		*lit = 1;
		return unix_addr(*nw, address, res);
	}
	return resolve(*nw, address, passive, res, lit);
}

/* v6only: 1 or 0 to set IPV6_V6ONLY so, -1 to leave it. */
static int listen_on(const struct addrinfo *ai, int v6only)
{
	int fd = gort_socket(ai->ai_family, ai->ai_socktype, 0);
	if (fd < 0)
		return fd;
	int one = 1;
	if (ai->ai_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6 && v6only >= 0)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    (ai->ai_socktype == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int gort_listen(const char *network, const char *address)
{
	const struct network *nw;
	struct addrinfo *res;
	int lit;
	int e = addresses(network, address, 1, &nw, &res, &lit);
	if (e < 0)
		return e;
	int fd = -EADDRNOTAVAIL;
	/* An empty host on "tcp": one socket for both families, as Go
	 * listens on [::] with IPV6_V6ONLY off.  "tcp6" means IPv6 only. */
	if (nw->family == AF_UNSPEC && address[0] == ':')
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
			if (ai->ai_family == AF_INET6)
				fd = listen_on(ai, 0);
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = listen_on(ai, nw->family == AF_INET6 ? 1 : -1);
	release(res, lit);
	return fd;
}

static int dial_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd = gort_socket(ai->ai_family, ai->ai_socktype, 0);
	if (fd < 0)
		return fd;
	int e = gort_connect(fd, ai->ai_addr, ai->ai_addrlen, deadline);
	if (e < 0) {
		gort_close(fd);
		return e;
	}
	if (ai->ai_socktype == SOCK_STREAM && ai->ai_family != AF_UNIX) {
		int one = 1;   /* Go's default: no Nagle */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return fd;
}

int gort_dial(const char *network, const char *address, int64_t deadline)
{
	const struct network *nw;
	struct addrinfo *res;
	int lit;
	int e = addresses(network, address, 0, &nw, &res, &lit);
	if (e < 0)
		return e;
	int fd = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = dial_one(ai, deadline);
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
