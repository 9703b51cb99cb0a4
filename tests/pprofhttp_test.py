#!/usr/bin/env python3
"""pprofhttp_test.py [WRAPPER...] TARGET -- the live endpoint
(prof/pprofhttp.c) as a user meets it: tests/pprofhttp_target.c serving
/debug/pprof/ on a loopback port the system picks, asked by curl, by raw
sockets, and by `go tool pprof` as one asks a Go program.

Each check names what it asserts; the first that fails ends the test with
the target's output.  Every wait has a limit (curl --max-time, socket
timeouts, subprocess timeouts), and nothing depends on how fast the
machine is: a CPU profile is asserted to hold the function that burns
CPU for ever, never a count; a state (the profiler taken, then given
back) is waited for by asking again, within a limit far above what it
needs.  curl is required (scripts/deps.sh test installs it); without Go,
the go tool pprof checks are skipped, and so they are under an emulator
(WRAPPER), where Go's tool could not reach a foreign profile's binary
anyway -- curl reaches the server all the same.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ARGS = sys.argv[1:]
if not ARGS:
    sys.exit("usage: pprofhttp_test.py [WRAPPER...] TARGET")
EMULATED = len(ARGS) > 1
SLOW = 10 if EMULATED else 1          # limits stretched under qemu
TMP = tempfile.mkdtemp(prefix="gort-pprofhttp-")
procs = []
checks = 0


class Target:
    def __init__(self, args, env=None):
        self.out = open(os.path.join(TMP, "target%d.log" % len(procs)), "w+")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(ARGS + args, stdout=self.out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=e)
        procs.append(self)

    def log(self):
        self.out.flush()
        with open(self.out.name) as f:
            return f.read()

    def wait_for(self, pattern, seconds=10):
        """The first match of pattern in what the target printed."""
        end = time.monotonic() + seconds * SLOW
        while time.monotonic() < end:
            m = re.search(pattern, self.log(), re.M)
            if m:
                return m
            if self.p.poll() is not None:
                fail("the target exited (status %s) before printing %r" % (self.p.returncode, pattern))
            time.sleep(0.05)
        fail("the target printed no %r within %d s" % (pattern, seconds * SLOW))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def fail(msg):
    print("FAIL: " + msg)
    for t in procs:
        print("--- %s:\n%s" % (" ".join(t.p.args), t.log()))
    cleanup()
    sys.exit(1)


def cleanup():
    for t in procs:
        t.kill()
    shutil.rmtree(TMP, ignore_errors=True)


def check(cond, what, detail=""):
    global checks
    if not cond:
        fail(what + ("\n" + detail if detail else ""))
    checks += 1
    print("ok: " + what)


def curl(url, *args, timeout=20):
    """(status, headers lowercased, body bytes) of one curl request."""
    hdr = os.path.join(TMP, "headers")
    r = subprocess.run(["curl", "-s", "--noproxy", "*", "--max-time", str(timeout * SLOW),
                        "-D", hdr, "-o", "-", *args, url],
                       capture_output=True, timeout=timeout * SLOW + 10)
    if r.returncode != 0:
        return None, {}, r.stderr
    with open(hdr, "rb") as f:
        # the last answer's: an interim "100 Continue" comes before it
        blocks = [b for b in f.read().decode("latin-1").split("\r\n\r\n") if b]
        lines = blocks[-1].split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, r.stdout


def raw(port, data, timeout=10, shut=False):
    """Send data on a new connection; everything the server answers
    before it closes (b"" if it closed without a word)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()


def main():
    if shutil.which("curl") is None:
        print("SKIP: curl is not installed (scripts/deps.sh test installs it)")
        sys.exit(77)
    go = shutil.which("go") if not EMULATED else None

    # --- the API, on a port the system picks -----------------------------
    t = Target(["serve", "127.0.0.1:0"])
    port = int(t.wait_for(r"^port (\d+)$").group(1))
    burn = t.wait_for(r"^burn (0x[0-9a-f]+)$").group(1)
    base = "http://127.0.0.1:%d/debug/pprof/" % port
    # a client that sends half a request and then nothing: the server must
    # hang up on it by itself (HEAD_TIMEOUT, 10 s); looked at last
    slow = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    slow.sendall(b"GET /debug/pprof/ HTTP/1.1\r\nHost: t\r\n")

    status, h, body = curl(base)
    check(status == 200 and h.get("content-type") == "text/html; charset=utf-8",
          "the index: 200, text/html (got %s, %s)" % (status, h.get("content-type")))
    html = body.decode()
    for name in ("allocs", "block", "cmdline", "goroutine", "heap", "mutex", "profile"):
        check("<a href='%s'>%s</a>" % (name, name) in html, "the index links %s" % name)
    check("Stack traces of all current goroutines" in html, "the index describes the profiles")

    got = raw(port, b"HEAD /debug/pprof/ HTTP/1.1\r\nHost: t\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"\r\n\r\n") and
          b"Content-Length: %d\r\n" % len(body) in got,
          "HEAD of the index: the GET's headers, no body", repr(got))

    # the CPU profile, as go tool pprof fetches it
    status, h, body = curl(base + "profile?seconds=1")
    check(status == 200 and h.get("content-type") == "application/octet-stream" and
          h.get("content-disposition") == 'attachment; filename="profile"' and
          body[:2] == b"\x1f\x8b" and int(h.get("content-length", -1)) == len(body),
          "/profile?seconds=1: 200, a gzip'd download named profile, of its Content-Length",
          "got %s, %s, %s, %d bytes" % (status, h.get("content-type"),
                                         h.get("content-disposition"), len(body)))
    if go:
        env = dict(os.environ, PPROF_TMPDIR=os.path.join(TMP, "pprof"),
                   GOCACHE=os.environ.get("GOCACHE", os.path.join(TMP, "gocache")),
                   HOME=TMP)
        r = subprocess.run([go, "tool", "pprof", "-raw", base + "profile?seconds=1"],
                           capture_output=True, text=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and "burn_for_pprof" in r.stdout,
              "go tool pprof -raw %sprofile?seconds=1 shows burn_for_pprof" % base,
              r.stdout[-3000:] + r.stderr[-2000:])
        r = subprocess.run([go, "tool", "pprof", "-raw", base + "profile?seconds=abc"],
                           capture_output=True, text=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
        check(r.returncode != 0 and 'invalid value for "seconds"' in r.stderr,
              "go tool pprof prints the server's message for seconds=abc (X-Go-Pprof)")
    else:
        print("skip: go tool pprof (%s)" % ("emulated" if EMULATED else "no Go"))

    # one CPU profiler: a /profile that finds it taken is 500 with Go's words,
    # and a client that goes away gives it back
    holder = None
    for _ in range(20):
        holder = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        holder.sendall(b"GET /debug/pprof/profile?seconds=60 HTTP/1.1\r\nHost: t\r\n\r\n")
        status, h, body = curl(base + "profile?seconds=1")
        if status == 500:
            break
        # the holder's request had not been reached yet, and ours took the
        # profiler first: the holder got the 500 (or will): try again
        holder.close()
        holder = None
    check(holder is not None and body == b"Could not enable CPU profiling: cpu profiling already in use\n"
          and h.get("x-go-pprof") == "1" and h.get("content-type") == "text/plain; charset=utf-8",
          "a second /profile at once: 500 \"Could not enable CPU profiling: cpu profiling "
          "already in use\" (got %s %r)" % (status, body))
    holder.close()   # the client goes away mid-profile, 59 s early
    end = time.monotonic() + 20 * SLOW
    while True:
        status, h, body = curl(base + "profile?seconds=1")
        if status != 500 or time.monotonic() > end:
            break
        time.sleep(0.1)
    check(status == 200 and body[:2] == b"\x1f\x8b",
          "a client gone mid-profile gives the profiler back: the next /profile is 200",
          "got %s %r" % (status, body[:100]))
    # and with curl giving up after a second, from its side
    r = subprocess.run(["curl", "-s", "--max-time", "1", base + "profile?seconds=60"],
                       capture_output=True, timeout=30)
    check(r.returncode == 28, "curl --max-time 1 gives up on /profile?seconds=60")
    end = time.monotonic() + 20 * SLOW
    while True:
        status, h, body = curl(base + "cmdline")
        s2, _, b2 = curl(base + "profile?seconds=1")
        if s2 != 500 or time.monotonic() > end:
            break
        time.sleep(0.1)
    check(s2 == 200 and status == 200, "after it, the server answers, and the profiler is free")

    status, h, body = curl(base + "profile?seconds=abc")
    check(status == 400 and body == b'invalid value for "seconds" - must be a positive integer\n',
          "seconds=abc: 400 invalid value for \"seconds\" (got %s %r)" % (status, body))
    status, h, body = curl(base + "profile?seconds=0")
    check(status == 400, "seconds=0: 400")
    status, h, body = curl(base + "profile?hz=0")
    check(status == 400, "hz=0: 400")

    # the other profiles: each a gzip'd download, as Go's; the heap's is
    # not built where gort may not replace malloc (a sanitizer's build)
    for name in ("goroutine", "heap", "allocs", "block", "mutex"):
        status, h, body = curl(base + name)
        if status == 501 and name in ("heap", "allocs"):
            check(body == b"gort: the %s profile is not available in this build\n" % name.encode(),
                  "/%s: 501 says the profile is not in this build (got %r)" % (name, body))
            continue
        check(status == 200 and h.get("content-type") == "application/octet-stream" and
              h.get("content-disposition") == 'attachment; filename="%s"' % name and
              body[:2] == b"\x1f\x8b",
              "/%s: 200, a gzip'd download named %s" % (name, name),
              "got %s, %s, %s, %r" % (status, h.get("content-type"), h.get("content-disposition"),
                                      body[:80]))
    if go:
        # the goroutine profile, as go tool pprof fetches it: the main
        # goroutine is in it, blocked in its channel receive, and the
        # server's own goroutines, labelled
        r = subprocess.run([go, "tool", "pprof", "-raw", base + "goroutine"],
                           capture_output=True, text=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and "goroutine/count" in r.stdout and "serve_main" in r.stdout and
              "gort_chan_recv" in r.stdout and "gort:[pprof-http]" in r.stdout,
              "go tool pprof -raw %sgoroutine shows main blocked in gort_chan_recv, and the "
              "server's goroutines labelled" % base, r.stdout[-3000:] + r.stderr[-2000:])

    status, h, body = curl(base + "nothing-here")
    check(status == 404 and b"Unknown profile" in body, "an unknown profile: 404 Unknown profile")
    status, h, body = curl("http://127.0.0.1:%d/elsewhere" % port)
    check(status == 404 and b"/debug/pprof/" in body,
          "a path outside /debug/pprof/: 404 that says where to look (%r)" % body)
    status, h, body = curl(base + "", "-X", "DELETE")
    check(status == 405 and h.get("allow") == "GET, HEAD", "DELETE: 405, Allow: GET, HEAD")
    status, h, body = curl(base + "trace")
    check(status == 501, "/trace: 501, not served")

    status, h, body = curl(base + "cmdline")
    # the program's own argv: under qemu-user too, which shows the guest's
    want = b"\0".join(a.encode() for a in ARGS[-1:] + ["serve", "127.0.0.1:0"])
    check(status == 200 and body == want and h.get("content-type") == "text/plain; charset=utf-8",
          "/cmdline: the argv, NUL-separated (got %r)" % body)
    status, h, body = curl(base + "symbol")
    check(status == 200 and body == b"num_symbols: 1\n", "GET /symbol: num_symbols: 1")
    status, h, body = curl(base + "symbol", "--data-binary", burn + "+0x1")
    check(status == 200 and (b"%s burn_for_pprof\n" % burn.encode()) in body,
          "POST /symbol names an address (got %r)" % body)
    # a client that asks before it sends its body (curl does past 1 MiB,
    # older ones past 1 KiB) must be told to go on, or it waits
    many = "+".join([burn] * 200)
    t0 = time.monotonic()
    status, h, body = curl(base + "symbol", "--data-binary", many, "-H", "Expect: 100-continue",
                           "--expect100-timeout", "30")
    check(status == 200 and body.count(b" burn_for_pprof\n") == 200,
          "POST /symbol of 200 addresses (Expect: 100-continue answered)",
          "%s %r" % (status, body[:200]))
    check(time.monotonic() - t0 < 25 * SLOW, "... without waiting out curl's expect timeout")

    # what a server must refuse, and then hang up
    got = raw(port, b"GE T /debug/pprof/ HTTP/1.1\r\nHost: t\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in got,
          "a malformed request line: 400, and the connection closed (%r)" % got[:60])
    got = raw(port, b"G(T /debug/pprof/ HTTP/1.1\r\nHost: t\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400 "), "a method that is no token: 400")
    got = raw(port, b"GET /debug/pprof/ HTTP/1.1\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400 "), "HTTP/1.1 without Host: 400")
    got = raw(port, b"GET /debug/pprof/ HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400 "), "a header without a colon: 400")
    got = raw(port, b"GET /debug/pprof/%zz HTTP/1.1\r\nHost: t\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 400 "), "a bad escape in the path: 400")
    got = raw(port, b"GET /debug/pprof/ HTTP/2.0\r\nHost: t\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 505 "), "HTTP/2.0 in text: 505")
    # 32 KiB, most of it never read: the answer must still arrive whole
    # (the server drains before it closes, or the kernel resets the
    # connection under the answer)
    got = raw(port, b"GET /debug/pprof/ HTTP/1.1\r\nHost: t\r\nX-Big: " + b"x" * 32768 + b"\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 431 ") and got.endswith(b"\r\n\r\n431 Request Header Fields Too Large\n"),
          "a head over 8 KiB: 431, whole", repr(got))
    got = raw(port, b"GET /debug/pprof/cmd", shut=True)
    check(got == b"", "half a request, then the client's end: closed without an answer")
    got = raw(port, b"GET /debug/%70prof/cmdline HTTP/1.0\r\n\r\n")
    check(got.startswith(b"HTTP/1.1 200 ") and got.endswith(want),
          "HTTP/1.0, and an escaped path: 200")
    status, h, body = curl(base)
    check(status == 200, "and after all that the server still answers")

    # at most 64 connections at once: the next is told so, not queued
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) for _ in range(64)]
    got = raw(port, b"GET /debug/pprof/ HTTP/1.1\r\nHost: t\r\n\r\n")
    for sock in idle:
        sock.close()
    check(got.startswith(b"HTTP/1.1 503 "), "a 65th connection at once: 503", repr(got[:80]))
    end = time.monotonic() + 20 * SLOW
    while True:
        got = raw(port, b"GET /debug/pprof/ HTTP/1.1\r\nHost: t\r\n\r\n")
        if not got.startswith(b"HTTP/1.1 503 ") or time.monotonic() > end:
            break
        time.sleep(0.1)
    check(got.startswith(b"HTTP/1.1 200 "), "and once they are gone, 200 again")

    slow.settimeout(30 * SLOW)
    try:
        left = slow.recv(100)
    except socket.timeout:
        left = None
    check(left == b"", "a client that stops halfway through its request is hung up on "
          "(within 30 s; the server's limit is 10 s)", repr(left))
    t.kill()

    # --- GORTPPROF=host:port, in a program with no other way out ----------
    t = Target(["stuck"], env={"GORTPPROF": "127.0.0.1:0"})
    m = t.wait_for(r"^gort: GORTPPROF=127\.0\.0\.1:0: serving http://(127\.0\.0\.1:\d+)/debug/pprof/$")
    t.wait_for(r"^stuck$")
    status, h, body = curl("http://%s/debug/pprof/" % m.group(1))
    check(status == 200 and t.p.poll() is None,
          "GORTPPROF: a program whose goroutines are all blocked for ever goes on serving")
    t.kill()
    t = Target(["stuck"])
    try:
        t.p.wait(timeout=30 * SLOW)
    except subprocess.TimeoutExpired:
        fail("without GORTPPROF, the stuck program did not die of its deadlock")
    check(t.p.returncode == 2 and "all goroutines are asleep - deadlock!" in t.log(),
          "without GORTPPROF the same program is reported deadlocked")

    # GORTPROF holds the profiler: /profile says so
    t = Target(["stuck"], env={"GORTPPROF": "127.0.0.1:0",
                               "GORTPROF": os.path.join(TMP, "whole.prof")})
    m = t.wait_for(r"serving http://(127\.0\.0\.1:\d+)/")
    status, h, body = curl("http://%s/debug/pprof/profile?seconds=1" % m.group(1))
    check(status == 500 and b"cpu profiling already in use" in body,
          "with GORTPROF running, /profile is 500 already in use")
    t.kill()

    # the server does not keep a program alive
    t = Target(["exit"], env={"GORTPPROF": "127.0.0.1:0"})
    try:
        t.p.wait(timeout=30 * SLOW)
    except subprocess.TimeoutExpired:
        fail("main returned, but the program with GORTPPROF did not end")
    check(t.p.returncode == 0 and "main returns" in t.log(),
          "GORTPPROF: when main returns, the program ends (status 0)")

    # a GORTPPROF that cannot be used is reported, and the program goes on
    for value, reason in (("nonsense", "not a host:port address"),
                          ("127.0.0.1:%d" % port_in_use(), "Address already in use")):
        t = Target(["exit"], env={"GORTPPROF": value})
        t.p.wait(timeout=30 * SLOW)
        check(t.p.returncode == 0 and ("gort: GORTPPROF=%s: %s" % (value, reason)) in t.log()
              and "main returns" in t.log(),
              "GORTPPROF=%s: \"%s\" on stderr, and the program runs" % (value, reason))

    cleanup()
    print("ok: %d checks" % checks)


_busy = []


def port_in_use():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    _busy.append(s)
    return s.getsockname()[1]


if __name__ == "__main__":
    try:
        main()
    except subprocess.TimeoutExpired as e:
        fail("timed out: %s" % e)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (type(e).__name__, e))
