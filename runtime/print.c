/*
 * print.c -- the runtime's own printf, for fatal errors, panics, tracebacks
 * and the profiler's debug traps.
 *
 * Async-signal-safe: no malloc, no stdio, no locks.  It formats into a
 * buffer on the caller's stack and hands it to write(2), which is why a
 * signal handler or a dying thread may use it while stdio's lock is held
 * by the code it interrupted.  (Go's runtime has print/println for the
 * same reason: runtime/print.go.)
 *
 * Conversions: %s %c %d %u %x %p %%, with the length modifiers l, ll, z,
 * a field width (%8x, %08x, %-8s) and # for a 0x prefix.  Nothing else.
 */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "runtime/runtime.h"

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void pad(struct out *o, int n, char c)
{
	while (n-- > 0)
		put(o, c);
}

static void putnum(struct out *o, unsigned long long v, unsigned base, int neg,
	int width, char fill, int left)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	int len = n;
	if (!left)
		pad(o, width - len, fill);
	while (n)
		put(o, tmp[--n]);
	if (left)
		pad(o, width - len, ' ');
}

size_t gort_runtime_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = { buf, cap, 0 };
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put(&o, *f);
			continue;
		}
		f++;
		int left = 0, width = 0, lng = 0, alt = 0;
		char fill = ' ';
		if (*f == '#') {
			alt = 1;
			f++;
		}
		if (*f == '-') {
			left = 1;
			f++;
		}
		if (*f == '0') {
			fill = '0';
			f++;
		}
		while (*f >= '0' && *f <= '9')
			width = width * 10 + (*f++ - '0');
		for (;; f++) {
			if (*f == 'l')
				lng++;
			else if (*f == 'z')
				lng = sizeof(size_t) == sizeof(long long) ? 2 : 1;
			else
				break;
		}
		unsigned long long u;
		long long s;
		switch (*f) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int n = 0;
			while (str[n])
				n++;
			if (!left)
				pad(&o, width - n, ' ');
			for (int i = 0; i < n; i++)
				put(&o, str[i]);
			if (left)
				pad(&o, width - n, ' ');
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd':
			s = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
			putnum(&o, s < 0 ? -(unsigned long long)s : (unsigned long long)s, 10, s < 0,
				width, fill, left);
			break;
		case 'u':
		case 'x':
			u = lng >= 2 ? va_arg(ap, unsigned long long)
				: lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			if (alt && *f == 'x') {
				put(&o, '0');
				put(&o, 'x');
			}
			putnum(&o, u, *f == 'u' ? 10 : 16, 0, width, fill, left);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			putnum(&o, (uintptr_t)va_arg(ap, void *), 16, 0, width, fill, left);
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			f--;
			break;
		default:
			put(&o, '%');
			put(&o, *f);
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}

size_t gort_runtime_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = gort_runtime_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void gort_runtime_write(int fd, const char *s, size_t n)
{
	int saved = errno;
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		s += w;
		n -= (size_t)w;
	}
	errno = saved;
}

void gort_runtime_printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	size_t n = gort_runtime_vfmt(buf, sizeof buf, fmt, ap);
	va_end(ap);
	gort_runtime_write(2, buf, n < sizeof buf ? n : sizeof buf - 1);
}
