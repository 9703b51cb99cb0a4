#!/usr/bin/env python3
"""callers.py -- do the profiles keep the callers of libc?  gort, gperftools, Go.

    callers.py [--quick] [--runs N] [--hz HZ] [--md FILE] GORT_BINARY GO_BINARY

GORT_BINARY is bench_callers (bench/callers.c), GO_BINARY bench_callers_go
(bench/go_src/callers.go).  Each runs five goroutines, one per kind of
call -- malloc/free, qsort with our comparator, clock_gettime, memcpy of
1 MiB, and a loop of our own (self) -- each wired to a thread of its own,
each under a start function root_<kind> that calls caller_<kind>, which
calls into libc (Go: mallocgc, sort.Slice, time.Now, memmove).  Three
profilers watch it, alternately, N runs each (default 5, or
GORT_BENCH_RUNS), at HZ (default 1000; the kernel's tick caps what any of
them gets, 250 Hz on this machine):

    gort         bench_callers gort HZ FILE: gort_prof_start, pprof out
    gperftools   bench_callers plain, with LD_PRELOAD=libprofiler.so,
                 CPUPROFILE=FILE, CPUPROFILE_FREQUENCY=HZ and
                 CPUPROFILE_PER_THREAD_TIMERS=1: the same binary, gort's
                 profiler off; gperftools unwinds with DWARF CFI through
                 libunwind.  Each kind's thread registers itself
                 (ProfilerRegisterThread) and gets a timer on its own CPU
                 clock, as gort's and Go's threads do
    itimer       the same without CPUPROFILE_PER_THREAD_TIMERS:
                 gperftools' default, one setitimer(ITIMER_PROF) for the
                 process, whose signal the kernel may give to any thread
                 -- a sleeping one too (its samples then show gort's idle
                 Ms in futex): its shares per kind scatter for that, not
                 for its unwinding
    go           bench_callers_go gort HZ FILE: runtime/pprof; Go's
                 unwinder always has frame pointers and knows its stacks:
                 the reference for a root under every sample

Every profile is read through `go tool pprof -raw` (gperftools' legacy
format too, symbolised from the binary), so the three are counted by one
piece of code.  A sample weighs its cpu/nanoseconds value.

What "true share" means here.  Each kind's goroutine reads its thread's
CPU clock (CLOCK_THREAD_CPUTIME_ID) just before and just after its one
call to caller_<kind>.  The goroutine is wired to that thread (gort_lock_thread,
runtime.LockOSThread), so nothing else ran on the thread in between: the
difference C_k is exactly the CPU time spent inside caller_<kind> and what
it calls, and every sample any of the profilers took in that time should
show caller_<kind>.  The program also prints C, the process's CPU time
(getrusage, all threads) over the span the profile covers: from
gort_prof_start or StartCPUProfile to their stop, and for gperftools,
which starts as the process is loaded, from the process's start.
Column gperftools samples only the threads that registered and the
initial thread: there C is those threads' CPU time (the program's
`callers registered` line).  gort weighs each sample by the CPU time it
stands for (its timers' overruns), so gort's profile is held to account
in nanoseconds: there C is the CPU time the whole profile stands for
(`callers sampled`, from gort_prof_stats), and E_k is C_k itself; the
others weigh a sample at the period asked, which the kernel's tick does
not deliver, so they are held to shares.  (Of the process's CPU time,
gort's profile stands for some 97%: its reader thread is no M, and each
thread's last part of a period goes unsampled.  Held to the process's
CPU time, every kind of a perfect gort profile would read 1.03.)  A
profile of total weight W then owes kind k the weight E_k = W * C_k / C,
and

    caller   weight of the samples whose stack holds caller_<kind>, / E_k
    root     weight of the samples whose stack holds root_<kind>, / E_k
    1-frame  weight of kind k's samples that have a single frame, / E_k:
             gort and Go only, whose samples carry the goroutine's label
             kind=<kind> (gperftools' have no labels: its row "all" only)
    label    weight of the samples labelled kind=<kind>, / E_k: that the
             true share is right, whatever the stacks say (gort and Go)
    own      of the samples labelled kind=<kind>, the share (by weight)
             whose stack holds caller_<kind>: the unwinder's figure
             alone, whatever the profiler's sampling did (gort and Go).
             Where label is off 1.00, this is the figure to read: Go's
             malloc kind, whose thread also runs the scheduler for its
             goroutine while the collector parks it -- CPU time of that
             thread, but no goroutine's and so no label's

1.00 is right for caller, root and label; 0.00 for 1-frame.  The row
"all" sums the five kinds (1-frame there: all one-frame samples over W).
Why this and not a fixed budget: the thread clock counts what ran, not
what was asked, so a kind slowed by a busy machine or by its profiler
still gets its true share; and the denominator is the profile's own
total, so the achieved rate (samples per CPU-second), which differs
between profilers, cancels.  Each run's shares are computed on their own;
the figures are the medians over runs, and `n` is the median number of
samples a kind was owed (its share of the error: about 1/sqrt(n)).

Then the cost of gort's SIGPROF handler per sample (bench_callers
handler): own frames only, and through qsort (the signals sent from the
comparator), at 4, 16, 32 and 64 frames.

--md FILE writes the tables as Markdown.  --quick (make test) runs each
side once with --quick, a thousandth of the work, and checks only that
every side ran and that its profile was read: the figures mean nothing.
A GO_BINARY of "-" is a build folder without the Go counterparts: the
script cannot read profiles without `go tool pprof`, and exits 77
(skipped) -- unless `go` is in PATH, when that folder was configured
before Go was installed: an error (compare.py's rule).  Without
gperftools (scripts/deps.sh bench installs it) its columns are n/a.
"""
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

KINDS = ["malloc", "qsort", "clock", "memcpy", "self"]
SIDES = ["gort", "gperftools", "itimer", "go"]
SKIP = 77   # meson's exit status for a skipped test

CPU_LINE = re.compile(r"^callers (?:kind=(\S+)|(total|registered|sampled)) cpu_ns=(\d+)$")
SAMPLE = re.compile(r"^\s*(\d+(?:\s+\d+)*):((?:\s+\d+)*)\s*$")
LABEL = re.compile(r"^\s+(\S+):\[(.*)\]\s*$")
LOCATION = re.compile(r"^\s*(\d+): 0x[0-9a-f]+ M=(\d+)\s*(.*)$")
MAPPING = re.compile(r"^\s*(\d+): 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+\s+(\S*)")


def die(msg):
    sys.exit("callers.py: " + msg)


def libprofiler():
    """gperftools' CPU profiler, for LD_PRELOAD, or None."""
    if os.environ.get("GORT_LIBPROFILER"):
        return os.environ["GORT_LIBPROFILER"]
    for pattern in ("/usr/lib/*/libprofiler.so.0", "/usr/lib/libprofiler.so.0",
                    "/usr/local/lib/libprofiler.so*"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, **(env or {})))
    if r.returncode:
        die("%s exited with status %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def cpu_times(out, cmd, which):
    """Each kind's CPU time, and the whole's: which is "total",
    "registered" (the threads gperftools' per-thread timers sample) or
    "sampled" (the CPU time gort's profile stands for)."""
    kinds, whole = {}, {}
    for line in out.splitlines():
        m = CPU_LINE.match(line.strip())
        if m and m.group(1):
            kinds[m.group(1)] = int(m.group(3))
        elif m:
            whole[m.group(2)] = int(m.group(3))
    if which not in whole or sorted(kinds) != sorted(KINDS):
        die("%s did not print a cpu_ns line for every kind and the %s:\n%s" % (cmd, which, out))
    return kinds, whole[which]


def read_profile(path, binary=None):
    """The samples of a profile: a list of (weight, count, frames, labels),
    frames leaf first, each frame a function name, or [object] for a
    location no symbol names."""
    cmd = ["go", "tool", "pprof", "-raw"] + ([binary] if binary else []) + [path]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL)
    if r.returncode:
        die("%s exited with status %d:\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    section, samples, locs, maps, last = None, [], {}, {}, None
    for line in r.stdout.splitlines():
        if line.startswith(("Samples:", "Locations", "Mappings")):
            section = line.split()[0].rstrip(":")
            continue
        if section == "Samples":
            m = SAMPLE.match(line)
            if m:
                values = [int(v) for v in m.group(1).split()]
                samples.append([values[-1], values[0], [int(i) for i in m.group(2).split()], {}])
                continue
            m = LABEL.match(line)
            if m and samples:
                samples[-1][3][m.group(1)] = m.group(2)
        elif section == "Locations":
            m = LOCATION.match(line)
            if m:
                last = int(m.group(1))
                locs[last] = [int(m.group(2)), [m.group(3).split()[0]] if m.group(3) else []]
            elif line.strip() and last is not None:
                locs[last][1].append(line.split()[0])   # an inlined caller
        elif section == "Mappings":
            m = MAPPING.match(line)
            if m:
                maps[int(m.group(1))] = os.path.basename(m.group(2)) or "?"
    out = []
    for weight, count, ids, labels in samples:
        frames = []
        for i in ids:
            mapping, names = locs.get(i, (0, []))
            frames += names or ["[%s]" % maps.get(mapping, "?")]
        out.append((weight, count, frames, labels))
    return out


def bare(name):
    return name[5:] if name.startswith("main.") else name


def shares(samples, kinds, total):
    """The figures of one run, {(kind, metric): value}."""
    W = sum(s[0] for s in samples)
    N = sum(s[1] for s in samples)
    got = {}
    if not W or not total:
        return got
    labelled = any(s[3] for s in samples)
    owed_all = caller_all = root_all = 0.0
    for k in KINDS:
        owed = W * kinds[k] / total
        caller = sum(s[0] for s in samples if "caller_" + k in map(bare, s[2]))
        root = sum(s[0] for s in samples if "root_" + k in map(bare, s[2]))
        got[(k, "n")] = N * kinds[k] / total
        got[(k, "caller")] = caller / owed if owed else float("nan")
        got[(k, "root")] = root / owed if owed else float("nan")
        if labelled:
            mine = [s for s in samples if s[3].get("kind") == k]
            got[(k, "label")] = sum(s[0] for s in mine) / owed if owed else float("nan")
            got[(k, "1-frame")] = sum(s[0] for s in mine if len(s[2]) == 1) / owed if owed else float("nan")
            wmine = sum(s[0] for s in mine)
            got[(k, "own")] = (sum(s[0] for s in mine if "caller_" + k in map(bare, s[2])) / wmine
                               if wmine else float("nan"))
        owed_all += owed
        caller_all += caller
        root_all += root
    got[("all", "n")] = N * sum(kinds.values()) / total
    got[("all", "caller")] = caller_all / owed_all if owed_all else float("nan")
    got[("all", "root")] = root_all / owed_all if owed_all else float("nan")
    got[("all", "1-frame")] = sum(s[0] for s in samples if len(s[2]) == 1) / W
    if labelled:
        mine = [s for s in samples if s[3].get("kind") in KINDS]
        got[("all", "label")] = sum(s[0] for s in mine) / owed_all
        wmine = sum(s[0] for s in mine)
        got[("all", "own")] = (sum(s[0] for s in mine if "caller_" + s[3]["kind"] in map(bare, s[2])) / wmine
                               if wmine else float("nan"))
    return got


def one_run(side, gort, go, args, hz, tmp, profiler):
    path = os.path.join(tmp, side + ".prof")
    if os.path.exists(path):
        os.unlink(path)
    which = "total"
    if side == "gort":
        cmd = [gort] + args + ["gort", str(hz), path]
        out, binary, which = run(cmd), None, "sampled"
    elif side in ("gperftools", "itimer"):
        cmd = [gort] + args + ["plain"]
        env = {"LD_PRELOAD": profiler, "CPUPROFILE": path, "CPUPROFILE_FREQUENCY": str(hz)}
        if side == "gperftools":
            env["CPUPROFILE_PER_THREAD_TIMERS"] = "1"
            which = "registered"
        out, binary = run(cmd, env), gort
    else:
        cmd = [go] + args + ["gort", str(hz), path]
        out, binary = run(cmd), None
    kinds, total = cpu_times(out, " ".join(cmd), which)
    if not os.path.exists(path):
        die("%s wrote no profile %s" % (" ".join(cmd), path))
    return shares(read_profile(path, binary), kinds, total)


def fmt(v, metric):
    if v is None or v != v:
        return "-"
    return "%.0f" % v if metric == "n" else "%.2f" % v


TABLES = [
    ("caller", "caller share: samples whose stack holds caller_<kind>, over the kind's true share (1.00 is right)"),
    ("root", "root share: samples with the goroutine's start function root_<kind> under them, over the true share (1.00)"),
    ("1-frame", "one-frame stacks, over the kind's true share (0.00 is right; per kind by label: gort and Go only)"),
    ("label", "label check: samples labelled kind=<kind>, over the true share (1.00: the true share is right)"),
    ("own", "caller share among the kind's own samples (labelled kind=<kind>; 1.00 is right)"),
    ("n", "samples a kind was owed (n; its error is about 1/sqrt(n))"),
]


def main(argv):
    runs = int(os.environ.get("GORT_BENCH_RUNS", "5"))
    quick, hz, md = False, 1000, None
    args = argv[1:]
    while args and args[0].startswith("--"):
        if args[0] == "--quick":
            quick, args = True, args[1:]
        elif args[0] in ("--runs", "--hz", "--md") and len(args) > 1:
            if args[0] == "--runs":
                runs = int(args[1])
            elif args[0] == "--hz":
                hz = int(args[1])
            else:
                md = args[1]
            args = args[2:]
        else:
            sys.exit(__doc__)
    if len(args) != 2:
        sys.exit(__doc__)
    gort, go = args
    if go == "-" or not shutil.which("go"):
        if shutil.which("go"):
            die("Go is installed (%s) but this build folder has no Go counterparts: it was "
                "configured before Go was; run meson setup --reconfigure on it" % shutil.which("go"))
        print("callers.py: no Go on this machine, and so no `go tool pprof` to read profiles with: "
              "skipped (scripts/deps.sh bench installs it)")
        sys.exit(SKIP)
    extra = ["--quick"] if quick else []
    if quick:
        runs = 1
    profiler = libprofiler()
    sides = [s for s in SIDES if s not in ("gperftools", "itimer") or profiler]
    if not profiler:
        print("callers.py: gperftools' libprofiler.so not found (Debian: libgoogle-perftools-dev); "
              "its columns are n/a")
    results = {}
    with tempfile.TemporaryDirectory(prefix="gort-callers-") as tmp:
        os.environ.setdefault("GOCACHE", os.path.join(tmp, "gocache"))
        for i in range(runs):
            for side in sides:
                for key, v in one_run(side, gort, go, extra, hz, tmp, profiler).items():
                    results.setdefault((side,) + key, []).append(v)
            print(f"# run {i + 1}/{runs} done", file=sys.stderr, flush=True)
        handler = run([gort] + extra + ["handler"])
    lines = []
    for metric, title in TABLES:
        lines.append("")
        lines.append(f"{title}; medians of {runs} runs at {hz} Hz asked")
        lines.append("| kind | " + " | ".join(SIDES) + " |")
        lines.append("|---|" + "---:|" * len(SIDES))
        for k in KINDS + ["all"]:
            row = []
            for side in SIDES:
                v = results.get((side, k, metric))
                row.append(fmt(statistics.median(v) if v else None, metric))
            lines.append(f"| {k} | " + " | ".join(row) + " |")
    lines.append("")
    lines.append("gort's SIGPROF handler, ns per sample (medians; own frames only, and through qsort)")
    lines.append("| case | ns |")
    lines.append("|---|---:|")
    for line in handler.splitlines():
        m = re.match(r"^case=(\S+) value=(\S+) unit=ns$", line.strip())
        if m:
            lines.append(f"| {m.group(1)} | {float(m.group(2)):.0f} |")
    text = "\n".join(lines).lstrip("\n") + "\n"
    sys.stdout.write(text)
    if md:
        with open(md, "w") as f:
            f.write("# Callers of libc in the profiles (bench/callers.py)\n\n" + text)


if __name__ == "__main__":
    main(sys.argv)
