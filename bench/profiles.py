#!/usr/bin/env python3
"""profiles.py -- gort's goroutine, block, mutex and heap profiles against
Go's, for the same program shapes (bench/profiles.c, bench/go_src/profiles.go).

    bench/profiles.py [--quick] GORT_BINARY GO_BINARY

Each side writes its profile; `go tool pprof -raw` decodes both; each
sample is charged to the first of the program's own functions on its stack
(recvLoop, lockLoop, siteA, ...) and to the operation at its leaf (a
channel receive, a mutex lock, ...), so that gort_chan_recv and Go's
runtime.chanrecv1 meet in one row.  Then the pause: the longest ping-pong
round trip while goroutine profiles of 100,000 goroutines are taken.

--quick (make test): everything once, tiny; checks only that both sides
run and that both files decode.
"""
import os
import re
import subprocess
import sys
import tempfile

OURS = {"recvLoop", "selectLoop", "holderLoop", "lockLoop", "wgLoop", "sleepLoop", "sendLoop",
        "parkedLoop", "selectWait", "siteA", "siteB", "main", "bench_main"}
OPS = [
    ("recv", ("gort_chan_recv", "runtime.chanrecv1", "runtime.chanrecv2")),
    ("send", ("gort_chan_send", "runtime.chansend1")),
    ("select", ("gort_select", "runtime.selectgo")),
    ("lock", ("gort_mutex_lock", "sync.(*Mutex).Lock")),
    ("unlock", ("gort_mutex_unlock", "sync.(*Mutex).Unlock")),
    ("wait", ("gort_waitgroup_wait", "sync.(*WaitGroup).Wait")),
]


def raw(path):
    """(types, samples, period): samples are (values, [function names, leaf
    first], {label: value})."""
    out = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True,
                         check=True).stdout
    lines = out.splitlines()
    types, samples, locs, period = [], [], {}, 0
    section = None
    cur = None
    for ln in lines:
        if ln.startswith("Period:"):
            period = int(ln.split()[1])
        if ln == "Samples:":
            section = "types"
            continue
        if ln == "Locations":
            section = "locs"
            continue
        if ln == "Mappings":
            section = None
            continue
        if section == "types":
            types = [t.split("/")[0] for t in ln.split()]
            section = "samples"
        elif section == "samples":
            m = re.match(r"\s*([-\d\s]+):\s*([\d\s]*)$", ln)
            if m:
                cur = ([int(v) for v in m.group(1).split()], [int(x) for x in m.group(2).split()], {})
                samples.append(cur)
            elif cur and ":[" in ln:
                k, v = ln.strip().split(":", 1)
                cur[2][k] = v.strip("[]")
        elif section == "locs":
            m = re.match(r"\s*(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", ln)
            if m:
                lid = int(m.group(1))
                locs[lid] = [m.group(2)]
            else:
                m = re.match(r"\s+(\S+) \S*:\d+ s=", ln)
                if m and locs:
                    locs[max(locs)].append(m.group(1))   # an inlined frame
    res = []
    for vals, ids, labels in samples:
        names = [f for i in ids for f in locs.get(i, ["?"])]
        res.append((vals, names, labels))
    return types, res, period


def classify(names):
    fn = next((n.replace("main.", "") for n in names if n.replace("main.", "") in OURS), "?")
    op = next((o for o, alias in OPS for n in names[:6] if n in alias), "-")
    return fn, op


def table(rows, head):
    w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    fmt = " | ".join("%%-%ds" % x for x in w)
    print(fmt % tuple(head))
    print("-|-".join("-" * x for x in w))
    for r in rows:
        print(fmt % tuple(r))
    print()


def sums(path, key_label=None):
    types, samples, period = raw(path)
    agg = {}
    for vals, names, labels in samples:
        k = classify(names)
        if key_label:
            k = k + (labels.get(key_label, ""),)
        a = agg.setdefault(k, [0] * len(vals))
        for i, v in enumerate(vals):
            a[i] += v
    return types, agg, period


# What must agree exactly: the counts the programs make certain (one
# contention per round where a wait is forced, every goroutine parked, no
# event for a sleep).  Delays and heap estimates vary with the machine and
# the sampling; the tables show them.
EXACT = {
    "block": [("recvLoop", "recv"), ("selectLoop", "select"), ("lockLoop", "lock"), ("wgLoop", "wait")],
    "mutex": [("holderLoop", "unlock")],
    "goroutine": [("parkedLoop", "recv", "parked"), ("selectWait", "select", "")],
}


def check(mode, res, quick):
    good = True
    rounds = 2 if quick else 50
    for k in EXACT.get(mode, []):
        g, o = res["gort"][1].get(k, [0])[0], res["go"][1].get(k, [0])[0]
        want = rounds if mode in ("block", "mutex") else o
        if g != want or (mode != "goroutine" and o != want) or o == 0:
            print("MISMATCH %s %s: gort %d, go %d, want %d" % (mode, " ".join(k), g, o, want))
            good = False
    if mode == "block":
        for side in ("gort", "go"):
            if any(k[0] == "sleepLoop" for k in res[side][1]):
                print("MISMATCH block: %s has events in sleepLoop (sleeps are not block events)" % side)
                good = False
    return good


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def main():
    args = sys.argv[1:]
    quick = args and args[0] == "--quick"
    if quick:
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    gort, go = args
    q = ["--quick"] if quick else []
    tmp = tempfile.mkdtemp(prefix="gort-profiles-")
    ok = True
    for mode, label in (("block", None), ("mutex", None), ("goroutine", "kind"), ("heap", None)):
        res = {}
        for side, exe in (("gort", gort), ("go", go)):
            f = os.path.join(tmp, "%s-%s.prof" % (side, mode))
            out = run([exe] + q + [mode, f])
            if out.startswith("unavailable "):
                break   # not in this build (the heap profile under a sanitizer)
            res[side] = sums(f, label)
        if "gort" not in res:
            print("%s: not available in this build of gort; skipped" % mode)
            continue
        ok &= check(mode, res, quick)
        if quick:
            continue
        keys = sorted(set(res["gort"][1]) | set(res["go"][1]))
        types = res["go"][0]
        print("## %s (%s)" % (mode, ", ".join(types)))
        if mode == "heap":
            rows = []
            for k in keys:
                if k[0] not in ("siteA", "siteB"):
                    continue
                g, o = res["gort"][1].get(k, [0] * 4), res["go"][1].get(k, [0] * 4)
                truth = (3000 if k[0] == "siteA" else 1000) * 200000
                rows.append([k[0], "%d MB" % (truth >> 20), "%d" % g[0], "%.1f MB" % (g[1] / 2**20),
                             "%d" % o[0], "%.1f MB" % (o[1] / 2**20)])
            table(rows, ["site", "allocated", "gort alloc_objects", "gort alloc_space",
                         "go alloc_objects", "go alloc_space"])
            ga = res["gort"][1].get(("siteA", "-"), [0, 1])[1] / max(1, res["gort"][1].get(("siteB", "-"), [0, 1])[1])
            oa = res["go"][1].get(("siteA", "-"), [0, 1])[1] / max(1, res["go"][1].get(("siteB", "-"), [0, 1])[1])
            print("alloc_space siteA/siteB: gort %.3f, go %.3f (allocated: 3)\n" % (ga, oa))
            continue
        rows = []
        for k in keys:
            g, o = res["gort"][1].get(k), res["go"][1].get(k)
            def cell(v, i):
                if v is None:
                    return "-"
                return "%.1f ms" % (v[i] / 1e6) if types[i] == "delay" else str(v[i])
            rows.append([" ".join(x for x in k if x)] + [cell(g, i) for i in range(len(types))] +
                        [cell(o, i) for i in range(len(types))])
        table(rows, ["where (function, op)"] + ["gort " + t for t in types] + ["go " + t for t in types])
    if not quick:
        print("## the pause: 100,000 goroutines parked, goroutine profiles taken while a pair ping-pongs")
        rows = []
        keys = ("goroutine_profile_100000", "max_roundtrip_during_100000", "max_roundtrip_without_100000",
                "hold_p50_100000", "hold_p999_100000", "longest_hold_100000", "membarrier_100000",
                "recorded_by_scheduler_100000")
        for side, exe in (("gort", gort), ("go", go)):
            vals = dict(re.findall(r"case=(\S+) value=(\S+)", run([exe, "pause", "100000"])))
            rows.append([side] + [vals.get(k, "-") for k in keys])
        table(rows, ["", "profile (ms, median of 5)", "longest round trip during (us)",
                     "... as long without (us)", "G held, median (us)", "p99.9 (us)", "longest (us)",
                     "membarrier (us)",
                     "Gs recorded by the scheduler"])
    else:
        for exe in (gort, go):
            run([exe, "--quick", "pause", "100000"])
        print("profiles.py --quick: both sides ran, every profile decoded%s" % ("" if ok else ", MISMATCHES above"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
