#!/usr/bin/env python3
"""trace_check.py TRACE.json -- the execution trace is well-formed Chrome
trace-event JSON, and on every track (each M, each P) the goroutine spans
never overlap: a thread runs one goroutine at a time.  Also checks that the
kinds of event a profiled concurrent program must produce are there."""
import collections
import json
import sys

with open(sys.argv[1]) as f:
    trace = json.load(f)
events = trace["traceEvents"]
tracks = collections.defaultdict(list)
kinds = collections.Counter()
for e in events:
    if e.get("ph") == "M":
        continue
    for key in ("name", "ph", "ts", "pid", "tid"):
        if key not in e:
            sys.exit("event without %s: %r" % (key, e))
    kinds[e.get("cat")] += 1
    if e["ph"] == "X":
        if e["dur"] < 0:
            sys.exit("negative span: %r" % e)
        tracks[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"], e["name"]))
spans = 0
for track, s in tracks.items():
    s.sort()
    for (a0, a1, an), (b0, b1, bn) in zip(s, s[1:]):
        # 1 ns of slack: timestamps are printed in microseconds to 3 places
        if b0 < a1 - 0.001:
            sys.exit("track %r: %s [%.3f, %.3f] overlaps %s [%.3f, %.3f]" % (track, an, a0, a1, bn, b0, b1))
    spans += len(s)
for want in ("run", "park", "ready", "profiling sample"):
    if not kinds[want]:
        sys.exit("no %r events; have %r" % (want, dict(kinds)))
print("ok: %d events, %d spans on %d tracks, none overlapping; %r" % (len(events), spans, len(tracks), dict(kinds)))
