#!/usr/bin/env python3
"""compare.py -- run a gort benchmark and its Go counterpart side by side.

    compare.py [--runs N] GORT_BINARY GO_BINARY [ARGS...]

Both programs print `case=<name> value=<number> unit=<unit>` lines.  The
two are run alternately, N times each (default 5, or GORT_BENCH_RUNS), so
that both see the same machine; the medians are printed as

    case=<name> gort=<median> go=<median> unit=<unit> ratio=<gort/go>

These machines are shared and noisy: the median of several alternating
runs is the figure to quote, never one run.
"""
import os
import re
import statistics
import subprocess
import sys

LINE = re.compile(r"^case=(\S+) value=(\S+) unit=(\S+)$")


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if m:
            yield m.group(1), float(m.group(2)), m.group(3)


def main(argv):
    runs = int(os.environ.get("GORT_BENCH_RUNS", "5"))
    if len(argv) > 2 and argv[1] == "--runs":
        runs = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 3:
        sys.exit(__doc__)
    gort, go, args = argv[1], argv[2], argv[3:]
    results, units, order = {}, {}, []
    for i in range(runs):
        for side, binary in (("gort", gort), ("go", go)):
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


if __name__ == "__main__":
    main(sys.argv)
