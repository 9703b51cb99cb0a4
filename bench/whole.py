#!/usr/bin/env python3
"""whole.py -- whole programs and Go's channel benchmarks, gort against Go.

    whole.py [--quick] [--runs N] [--procs LIST] [--md FILE] [--svg FILE]
             GORT_BINARY GO_BINARY [CASES...]

GORT_BINARY and GO_BINARY are bench_programs and bench_programs_go
(bench/programs.c, bench/go_src/programs.go): each runs one case a
process, `BINARY [--quick] CASE`, prints `case=<name> ops=<N>`, and exits
non-zero if its result is wrong.  CASES default to every case
GORT_BINARY --list names.  For each case and each count of Ps in LIST
(comma-separated; default 1, the CPUs this process may use, 4 and 8),
the two are run alternately N times each (default 5, or GORT_BENCH_RUNS)
with GORTMAXPROCS=GOMAXPROCS=P, so that both see the same machine.  Each
run measures the whole process:

    wall      seconds, time.monotonic() around the child
    cpu       seconds of user + system time (os.wait4's rusage; all threads)
    rss_kb    peak resident memory, KiB: the high-water mark ru_maxrss
              gives, as the program prints it (case=<name> value=<KiB>
              unit=peak_rss_kb, its VmHWM); ru_maxrss itself only if it
              does not, for a child's ru_maxrss starts at its parent's --
              this script's, some 15 MiB, more than many of the programs
    csw       context switches, voluntary + involuntary (ru_nvcsw + ru_nivcsw)

and the medians are the figures.  Then, if strace is installed, one more
run of each side under `strace -f -c` counts system calls: sys_per_op and
futex_per_op are that run's calls (all threads) over the ops it printed
(n/a without strace, or if the traced run takes longer than
GORT_BENCH_STRACE_TIMEOUT seconds, default 300).  One line per case and P:

    case=<name> procs=<P> wall_gort=.. wall_go=.. ratio=<gort/go>
        cpu_gort=.. cpu_go=.. cpu_ratio=.. rss_gort_kb=.. rss_go_kb=..
        csw_gort=.. csw_go=.. sys_per_op_gort=.. sys_per_op_go=..
        futex_per_op_gort=.. futex_per_op_go=..

(on one line).  --md FILE writes the same as a Markdown table, --svg FILE
a chart of the wall-time ratios.  These machines are shared and noisy:
the medians of alternating runs are the figures to quote, never one run.

--quick (make test) runs each side once per case and P with --quick, a
thousandth of the work, without strace, and checks that both sides ran
and that gort has every case Go has: the figures mean nothing.  A
GO_BINARY of "-" is a build folder without the Go counterparts: the gort
side runs alone and the comparison is skipped (exit status 77) -- unless
`go` is in PATH, when the folder was configured before Go was installed
and make bench would fail: an error.  (compare.py's rules.)
"""
import html
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

SKIP = 77   # meson's exit status for a skipped test
OPS = re.compile(r"^case=(\S+) ops=(\d+)$")
PEAK = re.compile(r"^case=(\S+) value=(\d+) unit=peak_rss_kb$")
TIMEOUT = 900          # seconds for one untraced run: a hang, not a slow case
QUICK_TIMEOUT = 60


def die(msg):
    sys.exit("whole.py: " + msg)


def spawn(cmd, procs, timeout):
    """Run cmd with P set, stdin /dev/null, in its own process group.
    Returns (status, wall, rusage, stdout, stderr, timed_out)."""
    env = dict(os.environ, GORTMAXPROCS=str(procs), GOMAXPROCS=str(procs))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
        ]
        killed = []

        def kill():
            killed.append(True)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        t0 = time.monotonic()
        try:
            pid = os.posix_spawnp(cmd[0], cmd, env, file_actions=actions, setpgroup=0)
        except OSError as e:
            die("cannot run %s: %s" % (cmd[0], e))
        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, ru = os.wait4(pid, 0)
        wall = time.monotonic() - t0
        timer.cancel()
        if killed:
            # strace's tracees, or anything else the child left behind
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out.seek(0)
        err.seek(0)
        return (status, wall, ru, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), bool(killed))


def status_text(status):
    if os.WIFSIGNALED(status):
        return "was killed by signal %d" % os.WTERMSIG(status)
    return "exited with status %d" % os.WEXITSTATUS(status)


def parse_ops(case, cmd, stdout):
    for line in stdout.splitlines():
        m = OPS.match(line.strip())
        if m and m.group(1) == case:
            return int(m.group(2))
    die("%s printed no case=%s ops=<N> line:\n%s" % (" ".join(cmd), case, stdout))


def parse_peak(case, stdout):
    for line in stdout.splitlines():
        m = PEAK.match(line.strip())
        if m and m.group(1) == case:
            return int(m.group(2))
    return None


def measure(binary, case, procs, quick):
    cmd = [binary] + (["--quick"] if quick else []) + [case]
    status, wall, ru, out, err, killed = spawn(cmd, procs, QUICK_TIMEOUT if quick else TIMEOUT)
    if killed:
        die("%s (P=%d) still ran after %d s: killed" % (" ".join(cmd), procs,
                                                      QUICK_TIMEOUT if quick else TIMEOUT))
    if status:
        die("%s (P=%d) %s:\n%s%s" % (" ".join(cmd), procs, status_text(status), err, out))
    return {
        "ops": parse_ops(case, cmd, out),
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        # the program's own high-water mark if it says (VmHWM), else
        # ru_maxrss -- which starts at this script's (see the top)
        "rss_kb": parse_peak(case, out) or ru.ru_maxrss,
        "csw": ru.ru_nvcsw + ru.ru_nivcsw,
    }


def strace_counts(binary, case, procs):
    """(system calls per op, futex calls per op) from one run under
    strace -f -c, or (None, None)."""
    strace = shutil.which("strace")
    if not strace:
        return None, None
    timeout = float(os.environ.get("GORT_BENCH_STRACE_TIMEOUT", "300"))
    fd, path = tempfile.mkstemp(prefix="whole-strace-")
    os.close(fd)
    try:
        cmd = [strace, "-f", "-c", "-o", path, binary, case]
        status, _, _, out, err, killed = spawn(cmd, procs, timeout)
        if killed:
            print("# %s P=%d under strace: over %g s, killed (n/a)" % (binary, procs, timeout),
                  file=sys.stderr, flush=True)
            return None, None
        if status:
            die("%s (P=%d) %s:\n%s%s" % (" ".join(cmd), procs, status_text(status), err, out))
        ops = parse_ops(case, cmd, out)
        total = futex = None
        with open(path) as f:
            for line in f:
                fields = line.split()
                # % time, seconds, usecs/call, calls, [errors,] syscall
                if len(fields) < 5 or not fields[3].isdigit():
                    continue
                if fields[-1] == "total":
                    total = int(fields[3])
                elif fields[-1] == "futex":
                    futex = int(fields[3])
        if total is None:
            return None, None
        return total / ops, (futex or 0) / ops
    finally:
        os.unlink(path)


def cases_of(binary):
    status, _, _, out, err, _ = spawn([binary, "--list"], 1, QUICK_TIMEOUT)
    if status:
        die("%s --list %s:\n%s" % (binary, status_text(status), err))
    return [l.strip() for l in out.splitlines() if l.strip()]


def default_procs():
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count() or 1
    return sorted({1, ncpu, 4, 8})


def med(rows, key):
    v = [r[key] for r in rows]
    return statistics.median(v) if v else float("nan")


def fmt_num(v, spec):
    if v is None or v != v:
        return "n/a"
    return format(v, spec)


def ratio(a, b):
    if a is None or b is None or a != a or b != b or not b:
        return float("nan")
    return a / b


def summarise(case, procs, results, straced):
    g, o = results.get("gort", []), results.get("go", [])
    row = {"case": case, "procs": procs}
    for side, rows in (("gort", g), ("go", o)):
        row["wall_" + side] = med(rows, "wall")
        row["cpu_" + side] = med(rows, "cpu")
        row["rss_" + side] = med(rows, "rss_kb")
        row["csw_" + side] = med(rows, "csw")
        sys_op, futex_op = straced.get(side, (None, None))
        row["sys_" + side] = sys_op
        row["futex_" + side] = futex_op
    row["ratio"] = ratio(row["wall_gort"], row["wall_go"])
    row["cpu_ratio"] = ratio(row["cpu_gort"], row["cpu_go"])
    return row


def line(r):
    return ("case={case} procs={procs} wall_gort={wg} wall_go={wo} ratio={ra} "
            "cpu_gort={cg} cpu_go={co} cpu_ratio={cr} rss_gort_kb={rg} rss_go_kb={ro} "
            "csw_gort={sg} csw_go={so} sys_per_op_gort={yg} sys_per_op_go={yo} "
            "futex_per_op_gort={fg} futex_per_op_go={fo}").format(
        case=r["case"], procs=r["procs"],
        wg=fmt_num(r["wall_gort"], ".4g"), wo=fmt_num(r["wall_go"], ".4g"),
        ra=fmt_num(r["ratio"], ".3f"),
        cg=fmt_num(r["cpu_gort"], ".4g"), co=fmt_num(r["cpu_go"], ".4g"),
        cr=fmt_num(r["cpu_ratio"], ".3f"),
        rg=fmt_num(r["rss_gort"], ".0f"), ro=fmt_num(r["rss_go"], ".0f"),
        sg=fmt_num(r["csw_gort"], ".0f"), so=fmt_num(r["csw_go"], ".0f"),
        yg=fmt_num(r["sys_gort"], ".3g"), yo=fmt_num(r["sys_go"], ".3g"),
        fg=fmt_num(r["futex_gort"], ".3g"), fo=fmt_num(r["futex_go"], ".3g"))


def write_md(path, rows, runs, quick, strace):
    with open(path, "w") as f:
        f.write("# Whole programs and Go's channel benchmarks: gort against Go\n\n")
        f.write("Written by `bench/whole.py`%s on %s (%s, %d CPUs): medians of %d "
                "alternating run%s per side; wall and CPU in seconds, peak RSS in MiB, "
                "context switches per run; system and futex calls per op from one run under "
                "`strace -f -c`%s. A ratio under 1 means gort took less.\n\n" % (
                    " --quick (figures meaningless)" if quick else "",
                    time.strftime("%Y-%m-%d"), platform.machine(),
                    len(os.sched_getaffinity(0)), runs, "" if runs == 1 else "s",
                    "" if strace else " (not run: n/a)"))
        f.write("| case | P | wall gort | wall Go | gort/Go | CPU gort | CPU Go | CPU gort/Go "
                "| RSS gort | RSS Go | csw gort | csw Go | sys/op gort | sys/op Go "
                "| futex/op gort | futex/op Go |\n")
        f.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for r in rows:
            rss = [None if v != v else v / 1024 for v in (r["rss_gort"], r["rss_go"])]
            f.write("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" % (
                r["case"], r["procs"],
                fmt_num(r["wall_gort"], ".3f"), fmt_num(r["wall_go"], ".3f"),
                fmt_num(r["ratio"], ".2f"),
                fmt_num(r["cpu_gort"], ".3f"), fmt_num(r["cpu_go"], ".3f"),
                fmt_num(r["cpu_ratio"], ".2f"),
                fmt_num(rss[0], ".1f"), fmt_num(rss[1], ".1f"),
                fmt_num(r["csw_gort"], ".0f"), fmt_num(r["csw_go"], ".0f"),
                fmt_num(r["sys_gort"], ".3g"), fmt_num(r["sys_go"], ".3g"),
                fmt_num(r["futex_gort"], ".3g"), fmt_num(r["futex_go"], ".3g")))


COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"]


def write_svg(path, rows, runs, quick):
    """A horizontal bar per case and P: gort's wall time over Go's, on a
    linear scale from 0, with lines at 1.0 (as fast) and 0.5 (twice as
    fast); a bar longer than the scale is cut and marked."""
    procs = sorted({r["procs"] for r in rows})
    colour = {p: COLOURS[i % len(COLOURS)] for i, p in enumerate(procs)}
    finite = [r["ratio"] for r in rows if r["ratio"] == r["ratio"]]
    top = max([1.5] + finite) * 1.05
    top = min(top, 4.0)
    label_w, chart_w, bar_h, gap, case_gap = 190, 560, 12, 2, 8
    head, foot = 74, 40
    y = head
    out = []
    cases = []
    for r in rows:
        if r["case"] not in cases:
            cases.append(r["case"])
    body = []
    for case in cases:
        group = [r for r in rows if r["case"] == case]
        body.append('<text x="%d" y="%d" class="case">%s</text>' % (
            label_w - 46, y + len(group) * (bar_h + gap) / 2 + 4, html.escape(case)))
        for r in group:
            p = r["procs"]
            body.append('<text x="%d" y="%d" class="p">P=%d</text>' % (label_w - 6, y + bar_h - 2, p))
            v = r["ratio"]
            if v == v:
                w = min(v, top) / top * chart_w
                body.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                    label_w, y, w, bar_h, colour[p]))
                cut = v > top
                body.append('<text x="%.1f" y="%d" class="v">%s%.2f</text>' % (
                    label_w + w + 3, y + bar_h - 2, "&#9654; " if cut else "", v))
            else:
                body.append('<text x="%d" y="%d" class="v">n/a</text>' % (label_w + 3, y + bar_h - 2))
            y += bar_h + gap
        y += case_gap
    height = y + foot
    width = label_w + chart_w + 70

    def x_of(v):
        return label_w + v / top * chart_w

    out.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
               'viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">' % (width, height, width, height))
    out.append('<style>.case{text-anchor:end;font-weight:bold}.p{text-anchor:end;fill:#555}'
               '.v{fill:#222;font-size:10px}.t{text-anchor:middle;fill:#555;font-size:10px}</style>')
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.append('<text x="%d" y="20" font-size="14" font-weight="bold">gort / Go wall time, '
               'whole process (median of %d alternating run%s)%s</text>' % (
                   10, runs, "" if runs == 1 else "s", ", --quick: meaningless" if quick else ""))
    lx = 10
    out.append('<text x="%d" y="40" fill="#555">shorter is faster for gort; the line at 1.0 is '
               'as fast as Go, the dashed line at 0.5 twice as fast</text>' % lx)
    lx = label_w
    for p in procs:
        out.append('<rect x="%d" y="50" width="10" height="10" fill="%s"/>'
                   '<text x="%d" y="59">P=%d</text>' % (lx, colour[p], lx + 14, p))
        lx += 60
    # ticks every 0.5
    t = 0.0
    while t <= top + 1e-9:
        x = x_of(t)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (x, head - 4, x, y))
        out.append('<text x="%.1f" y="%d" class="t">%g</text>' % (x, y + 14, t))
        t += 0.5
    out.extend(body)
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-width="1.5"/>' % (
        x_of(1.0), head - 6, x_of(1.0), y))
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-dasharray="4,3"/>' % (
        x_of(0.5), head - 6, x_of(0.5), y))
    cut = any(v > top for v in finite)
    out.append('<text x="%d" y="%d" class="t">gort / Go, wall time%s</text>' % (
        label_w + chart_w / 2, y + 30,
        " (bars past %.2f are cut: &#9654;)" % top if cut else ""))
    out.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main(argv):
    runs = int(os.environ.get("GORT_BENCH_RUNS", "5"))
    quick, procs, md, svg = False, None, None, None
    args = argv[1:]
    while args and args[0].startswith("--"):
        opt = args[0]
        if opt == "--quick":
            quick, args = True, args[1:]
            continue
        if opt not in ("--runs", "--procs", "--md", "--svg") or len(args) < 2:
            sys.exit(__doc__)
        val, args = args[1], args[2:]
        if opt == "--runs":
            runs = int(val)
        elif opt == "--procs":
            procs = sorted({int(p) for p in val.split(",") if p})
        elif opt == "--md":
            md = val
        else:
            svg = val
    if len(args) < 2:
        sys.exit(__doc__)
    gort, go, wanted = args[0], args[1], args[2:]
    runs = max(1, runs)
    if quick:
        runs = 1
    procs = procs or default_procs()
    have_go = go != "-"
    gort_cases = cases_of(gort)
    go_cases = cases_of(go) if have_go else []
    missing = [c for c in go_cases if c not in gort_cases]
    if missing:
        die("cases Go has and gort has not: " + " ".join(missing))
    cases = wanted or gort_cases
    unknown = [c for c in cases if c not in gort_cases]
    if unknown:
        die("no such case in %s: %s" % (gort, " ".join(unknown)))
    strace = shutil.which("strace") and not quick
    sides = (("gort", gort), ("go", go)) if have_go else (("gort", gort),)
    rows = []
    for case in cases:
        for p in procs:
            results = {}
            for _ in range(runs):
                for side, binary in sides:
                    if side == "go" and case not in go_cases:
                        continue
                    results.setdefault(side, []).append(measure(binary, case, p, quick))
            straced = {}
            if strace:
                for side, binary in sides:
                    if side == "go" and case not in go_cases:
                        continue
                    straced[side] = strace_counts(binary, case, p)
            r = summarise(case, p, results, straced)
            rows.append(r)
            print(line(r), flush=True)
    if md:
        write_md(md, rows, runs, quick, bool(strace))
    if svg:
        write_svg(svg, rows, runs, quick)
    if not have_go:
        if shutil.which("go"):
            die("Go is installed (%s) but this build folder has no Go counterparts: "
                "it was configured before Go was; run meson setup --reconfigure on it"
                % shutil.which("go"))
        print("whole.py: no Go on this machine: the Go side is skipped (scripts/deps.sh bench installs it)")
        sys.exit(SKIP)
    if quick:
        ran = {(r["case"], r["procs"]) for r in rows
               if r["wall_gort"] == r["wall_gort"] and r["wall_go"] == r["wall_go"]}
        absent = [c for c in cases if c in go_cases and any((c, p) not in ran for p in procs)]
        if absent:
            die("cases that did not run on both sides: " + " ".join(absent))


if __name__ == "__main__":
    main(sys.argv)
