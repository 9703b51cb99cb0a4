#!/usr/bin/env python3
"""compare.py -- run a gort benchmark and its Go counterpart side by side.

    compare.py [--quick] [--runs N] GORT_BINARY GO_BINARY [ARGS...]

Both programs print `case=<name> value=<number> unit=<unit>` lines.  The
two are run alternately, N times each (default 5, or GORT_BENCH_RUNS), so
that both see the same machine; the medians are printed as

    case=<name> gort=<median> go=<median> unit=<unit> ratio=<gort/go>

These machines are shared and noisy: the median of several alternating
runs is the figure to quote, never one run.  A case only gort prints
(bench_preempt's _asyncpreemptoff rows: Go has no such mode that ends)
shows go=nan ratio=nan.

--quick (make test) runs each side once with --quick, a thousandth of the
work, and checks only that both run and that every Go case has its gort
case: the figures mean nothing.  A GO_BINARY of "-" is a build folder
without the Go counterparts: the gort side runs alone and the comparison
is skipped (exit status 77) -- unless `go` is in PATH, when the folder was
configured before Go was installed and make bench would fail: an error.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys

LINE = re.compile(r"^case=(\S+) value=(\S+) unit=(\S+)$")
SKIP = 77   # meson's exit status for a skipped test


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode:
        sys.exit("compare.py: %s exited with status %d:\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    cases = []
    for line in r.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            cases.append((m.group(1), float(m.group(2)), m.group(3)))
    if not cases:
        sys.exit("compare.py: %s printed no case=<name> line:\n%s" % (" ".join(cmd), r.stdout))
    return cases


def main(argv):
    runs = int(os.environ.get("GORT_BENCH_RUNS", "5"))
    quick = False
    args = argv[1:]
    while args and args[0] in ("--quick", "--runs"):
        if args[0] == "--quick":
            quick, args = True, args[1:]
        elif len(args) > 1:
            runs, args = int(args[1]), args[2:]
        else:
            sys.exit(__doc__)
    if len(args) < 2:
        sys.exit(__doc__)
    gort, go, args = args[0], args[1], args[2:]
    if quick:
        runs, args = 1, ["--quick"] + args
    sides = (("gort", gort), ("go", go)) if go != "-" else (("gort", gort),)
    results, units, order = {}, {}, []
    for i in range(runs):
        for side, binary in sides:
            for name, value, unit in run([binary] + args):
                if name not in units:
                    order.append(name)
                units[name] = unit
                results.setdefault((name, side), []).append(value)
        print(f"# run {i + 1}/{runs} done", file=sys.stderr, flush=True)
    for name in order:
        g = statistics.median(results.get((name, "gort"), [float("nan")]))
        o = statistics.median(results.get((name, "go"), [float("nan")]))
        ratio = g / o if o else float("nan")
        print(f"case={name} gort={g:.4g} go={o:.4g} unit={units[name]} ratio={ratio:.3f}")
    if go == "-":
        if shutil.which("go"):
            sys.exit("compare.py: Go is installed (%s) but this build folder has no Go counterparts: "
                     "it was configured before Go was; run meson setup --reconfigure on it"
                     % shutil.which("go"))
        print("compare.py: no Go on this machine: the Go side is skipped (scripts/deps.sh bench installs it)")
        sys.exit(SKIP)
    missing = [n for n in order if (n, "go") in results and (n, "gort") not in results]
    if missing:
        sys.exit("compare.py: cases Go has and gort has not: " + " ".join(missing))


if __name__ == "__main__":
    main(sys.argv)
