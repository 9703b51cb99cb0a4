#!/usr/bin/env python3
"""http.py -- an HTTP server written with gort against Go's net/http,
under a real load generator (wrk), keep-alive, on loopback.

    http.py [--quick] [--runs N] [--conns C] [--threads T] [--seconds S]
            GORT_SERVER GO_SERVER [PATH...]

Each SERVER is a program that serves HTTP/1.1 on the address given as its
one argument (examples/httpd.c, bench/go_src/httpd.go), is given
127.0.0.1:0, and says "listening on 127.0.0.1:PORT" on stderr.  PATHs (default
"/") are the requests both must answer alike; the first is the one loaded.

First the two are checked to do the same work: each PATH is asked twice
on one kept-alive connection, and both servers must answer with the same
status line, the same header fields (Date's value aside: it is the
clock's) and the same body -- the same bytes but for the order of the
fields, which Go's net/http sorts.  A server that answers differently is
an error: its figures would not compare.

Then, N times (default 5, or GORT_BENCH_RUNS), alternately, each server is
started afresh, loaded by `wrk -t T -c C -d S --latency` (one
second of warm-up first, not counted), and stopped; the medians are
printed in compare.py's form,

    case=<name> gort=<median> go=<median> unit=<unit> ratio=<gort/go>

for requests per second, wrk's 50th and 99th percentile latencies, the
server's CPU time per request (all its threads, user and system: on a
shared machine the steadier figure, as a neighbour's load takes time from
both servers but costs neither CPU), and its threads at the end of the
load.  These machines are shared
and noisy: the median of alternating runs is the figure to quote.

--quick (make test): the check, then each server once under a second of
wrk with 4 connections if wrk is installed (scripts/deps.sh bench
installs it); the figures mean nothing.

Every server this starts is stopped (SIGTERM, then SIGKILL), whatever
happens; every wait is bounded.
"""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SKIP = 77          # meson's exit status for a skipped test
READY_TIMEOUT = 10  # seconds for a server to start listening


def die(msg):
    sys.exit("http.py: " + msg)


class Server:
    """A server process on a loopback port the system picks; a context
    manager that always stops it."""

    def __init__(self, binary):
        self.binary = binary
        self.err = tempfile.TemporaryFile()
        # Port 0, and the port read back from the server's "listening on"
        # line: no race with anyone else for a port picked in advance.
        self.proc = subprocess.Popen([binary, "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.err)

    def __enter__(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            m = re.search(r"listening on (127\.0\.0\.1:(\d+))", self.stderr())
            if m:
                self.addr, self.port = m.group(1), int(m.group(2))
                return self
            if self.proc.poll() is not None:
                die("%s exited with status %d before listening:\n%s"
                    % (self.binary, self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                self.stop()
                die("%s said no 'listening on 127.0.0.1:PORT' within %d s" % (self.binary, READY_TIMEOUT))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.stop()

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def cpu_ns(self):
        """CPU time of every thread of the server so far, ns (schedstat's
        first field: exact, where /proc/PID/stat counts clock ticks)."""
        total = 0
        try:
            for t in os.listdir("/proc/%d/task" % self.proc.pid):
                with open("/proc/%d/task/%s/schedstat" % (self.proc.pid, t)) as f:
                    total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass   # a thread gone between the listing and the read
        return total

    def threads(self):
        try:
            return len(os.listdir("/proc/%d/task" % self.proc.pid))
        except OSError:
            return float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the check: same answers ---------------------------------------------------

def read_response(sock, buf):
    """One response from sock (buf: bytes already read past the last one):
    (status line, [header lines], body, rest)."""
    sock.settimeout(5)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            die("connection closed before a whole response header")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
    length = [v for k, v in fields if k.lower() == "content-length"]
    if not length:
        die("a response without Content-Length (a keep-alive server must say it):\n" + head.decode("latin-1"))
    n = int(length[0])
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            die("connection closed inside a response body")
        buf += chunk
    return lines[0], fields, buf[:n], buf[n:]


def answers(binary, paths):
    """What binary answers to each path, asked twice on one connection:
    [(path, status, sorted normalised fields, body, bytes)]."""
    out = []
    with Server(binary) as srv, socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        rest = b""
        for path in paths:
            for _ in range(2):
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, srv.addr)).encode())
                status, fields, body, rest = read_response(s, rest)
                norm = sorted((k.lower(), "<date>" if k.lower() == "date" else v) for k, v in fields)
                size = len(status) + sum(len(k) + len(v) + 4 for k, v in fields) + len(body)
                out.append((path, status, norm, body, size))
    return out


def check(gort, go, paths):
    a, b = answers(gort, paths), answers(go, paths)
    for x, y in zip(a, b):
        if x != y:
            die("the two servers answer GET %s differently -- they would not be doing the same work:\n"
                "  gort: %r\n  go:   %r" % (x[0], x[1:], y[1:]))
    print("# both servers answer %s alike (%d bytes for %s)" % (" ".join(paths), a[0][4], paths[0]),
          file=sys.stderr, flush=True)


# --- the load ------------------------------------------------------------------

UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def wrk(addr, path, threads, conns, seconds):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--latency",
           "--timeout", "5s", "http://%s%s" % (addr, path)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        die("%s ran over its time" % " ".join(cmd))
    if r.returncode:
        die("%s exited with status %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    m = re.search(r"^Requests/sec:\s+([\d.]+)", r.stdout, re.M)
    if not m:
        die("no Requests/sec from wrk:\n" + r.stdout)
    res = {"rps": float(m.group(1))}
    m = re.search(r"^\s+(\d+) requests in", r.stdout, re.M)
    res["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, r.stdout, re.M)
        res["p" + pct] = float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if bad:
        die("%s: %s non-2xx/3xx responses:\n%s" % (addr, bad.group(1), r.stdout))
    errs = re.search(r"Socket errors: (.*)", r.stdout)
    if errs:
        # wrk counts a connection the server closes as a read error: a
        # keep-alive server closes none, so any is worth knowing.
        print("# wrk against %s: socket errors: %s" % (addr, errs.group(1)), file=sys.stderr, flush=True)
    return res


def main(argv):
    runs = int(os.environ.get("GORT_BENCH_RUNS", "5"))
    quick, conns, threads, seconds = False, 100, 2, 3
    args = argv[1:]
    opts = {"--runs": "runs", "--conns": "conns", "--threads": "threads", "--seconds": "seconds"}
    while args and args[0].startswith("--"):
        if args[0] == "--quick":
            quick, args = True, args[1:]
        elif args[0] in opts and len(args) > 1:
            v = int(args[1])
            if opts[args[0]] == "runs":
                runs = v
            elif opts[args[0]] == "conns":
                conns = v
            elif opts[args[0]] == "threads":
                threads = v
            else:
                seconds = v
            args = args[2:]
        else:
            sys.exit(__doc__)
    if len(args) < 2:
        sys.exit(__doc__)
    gort, go, paths = args[0], args[1], args[2:] or ["/"]
    if go == "-":
        if shutil.which("go"):
            die("Go is installed (%s) but this build folder has no Go counterparts: it was configured "
                "before Go was; run meson setup --reconfigure on it" % shutil.which("go"))
        print("http.py: no Go on this machine: skipped (scripts/deps.sh bench installs it)")
        sys.exit(SKIP)
    check(gort, go, paths)
    if not shutil.which("wrk"):
        if quick:
            print("http.py: no wrk on this machine: the load is skipped, the check passed "
                  "(scripts/deps.sh bench installs wrk)")
            return
        die("wrk is not installed (scripts/deps.sh bench installs it)")
    if quick:
        runs, conns, threads, seconds = 1, 4, 1, 1
    results = {}
    for i in range(runs):
        for side, binary in (("gort", gort), ("go", go)):
            with Server(binary) as srv:
                if not quick:
                    wrk(srv.addr, paths[0], threads, conns, 1)   # warm-up, not counted
                cpu0 = srv.cpu_ns()
                res = wrk(srv.addr, paths[0], threads, conns, seconds)
                cpu1 = srv.cpu_ns()
                res["cpu"] = (cpu1 - cpu0) / 1e3 / res["requests"] if res["requests"] else float("nan")
                res["threads"] = srv.threads()
                if srv.proc.poll() is not None:
                    die("%s died under load (status %d):\n%s" % (binary, srv.proc.returncode, srv.stderr()))
            for k, v in res.items():
                results.setdefault((k, side), []).append(v)
            print("# run %d/%d %s: %.0f req/s, p50 %.0f us, p99 %.0f us, server CPU %.1f us/req"
                  % (i + 1, runs, side, res["rps"], res["p50"], res["p99"], res["cpu"]),
                  file=sys.stderr, flush=True)
    tag = "_c%d_t%d" % (conns, threads)
    for name, unit in (("rps", "req/s"), ("p50", "us"), ("p99", "us"), ("cpu", "us/req"),
                       ("threads", "threads")):
        g = statistics.median(results[(name, "gort")])
        o = statistics.median(results[(name, "go")])
        ratio = g / o if o else float("nan")
        print(f"case=http_{name}{tag} gort={g:.4g} go={o:.4g} unit={unit} ratio={ratio:.3f}")


if __name__ == "__main__":
    main(sys.argv)
