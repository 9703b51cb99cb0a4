#!/usr/bin/env python3
"""cfi_check.py READELF [WRAPPER...] CFI_DUMP

Holds gort's unwind rows (runtime/cfi.c, printed by cfi_dump) up against
binutils' reading of the same .eh_frame (readelf --debug-dump=frames-interp),
for the dump's own executable and its libc, at every row readelf prints:
the CFA rule, where the return address is, and where the caller's frame
pointer is must agree wherever gort keeps a rule.  Where gort does not keep
one (an expression other than the PLT's, a register saved in a register),
its row must say "unknown", so that the walk falls back to frame pointers
rather than follow a wrong rule.  Under qemu (WRAPPER is the emulator with
its -L prefix) the guest's paths are looked up under that prefix.
"""
import re
import subprocess
import sys

SP = {"rsp", "sp", "r29"}
FP = {"rbp", "x29", "r30"}


def readelf_rows(readelf, path):
    """Every row of path's .eh_frame: {address: (cfa, fpcell, racell)}, and
    each FDE's range (start, end)."""
    # (readelf exits 1 when it cannot follow a .gnu_debuglink: the frames
    # are read all the same)
    out = subprocess.run([readelf, "--debug-dump=frames-interp", path], check=False,
                         capture_output=True, text=True).stdout
    cie_first = {}   # CIE offset -> its initial row
    rows, fdes = {}, []
    cols, cur, cur_cie, pending, section = None, None, None, None, None
    for line in out.splitlines():
        if line.startswith("Contents of the "):
            # .eh_frame only: a .debug_frame is what a debugger reads
            section = line.split()[3]
            continue
        if section != ".eh_frame":
            continue
        m = re.match(r"^([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+) (CIE|FDE)(?: cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+))?", line)
        if m:
            if pending is not None:        # an FDE with no rows of its own
                rows[pending[0]] = cie_first.get(pending[1])
            pending = None
            if m.group(3) == "CIE":
                cur, cur_cie = "cie", m.group(1)
            else:
                cur = "fde"
                start, end = int(m.group(5), 16), int(m.group(6), 16)
                fdes.append((start, end))
                pending = (start, m.group(4))
            cols = None
            continue
        if line.strip().startswith("LOC"):
            cols = line.split()[1:]
            continue
        m = re.match(r"^([0-9a-f]+) +(\S+)(.*)$", line)
        if not m or cols is None:
            continue
        # a register saved in a register reads "r10 (r10)": one cell
        cells = [m.group(2)] + re.sub(r"(r\d+) \((\w+)\)", r"\1(\2)", m.group(3)).split()
        d = dict(zip(cols, cells))
        fpcell = next((d[c] for c in cols if c in FP), "u")
        row = (d["CFA"], fpcell, d.get("ra", "u"))
        if cur == "cie":
            cie_first[cur_cie] = row
        else:
            addr = int(m.group(1), 16)
            if addr < fdes[-1][1]:       # readelf may print a row at the end
                rows[addr] = row
            pending = None
    if pending is not None:
        rows[pending[0]] = cie_first.get(pending[1])
    return rows, fdes


def expected(row):
    """What gort must say of readelf's row: a set of acceptable
    (cfa, cfa_off, ra, ra_off, fp, fp_off), or None for "unknown"."""
    cfa, fp, ra = row
    m = re.match(r"^(\w+)\+(-?\d+)$", cfa)
    if not m or (m.group(1) not in SP and m.group(1) not in FP):
        return None
    kind = "sp" if m.group(1) in SP else "fp"
    off = int(m.group(2))
    ras = []
    if ra.startswith("c"):
        ras = [("at", int(ra[1:]))]
    elif ra in ("u", "s"):
        ras = [("reg", 0), ("none", 0)]   # readelf prints "u" for both
    else:
        return None
    if fp.startswith("c"):
        fps = [("at", int(fp[1:]))]
    elif fp in ("u", "s"):
        fps = [("same", 0), ("lost", 0)]
    else:
        fps = [("lost", 0)]
    return {(kind, off, a, ao, f, fo) for a, ao in ras for f, fo in fps}


def main():
    readelf, dump = sys.argv[1], sys.argv[-1]
    wrapper = sys.argv[2:-1]
    prefix = ""
    if "-L" in wrapper:
        prefix = wrapper[wrapper.index("-L") + 1]
    out = subprocess.run(wrapper + [dump], check=True, capture_output=True, text=True).stdout
    objs, cur = {}, None
    for line in out.splitlines():
        if line.startswith("object "):
            cur = line[7:]
            objs[cur] = []
            continue
        a, cfa, co, ra, ro, fp, fo = line.split()
        objs[cur].append((int(a, 16), cfa, int(co), ra, int(ro), fp, int(fo)))
    if len(objs) < 2:
        print("FAIL: cfi_dump printed %d objects, want the executable and libc" % len(objs))
        return 1
    failed = 0
    for path, ours in objs.items():
        host = path
        if prefix and not path.startswith(prefix):
            import os
            if os.path.exists(prefix + path):
                host = prefix + path
        theirs, fdes = readelf_rows(readelf, host)
        ours.sort()
        addrs = [r[0] for r in ours]
        import bisect
        checked = unknown = byexpr = bad = 0
        for addr in sorted(theirs):
            row = theirs[addr]
            if row is None:
                continue
            i = bisect.bisect_right(addrs, addr) - 1
            got = ours[i][1:] if i >= 0 else ("none", 0, "at", 0, "same", 0)
            want = expected(row)
            checked += 1
            if got[0] == "unknown":
                # never wrong, only less: the walk takes frame pointers
                ok = True
                unknown += 1
            elif want is None:
                # an expression: only the x86-64 PLT's is known
                ok = got[0] == "plt"
                byexpr += 1
            else:
                g = got
                ok = (g[0], g[1], g[2], g[3] if g[2] == "at" else 0,
                      g[4], g[5] if g[4] == "at" else 0) in want
            if not ok:
                bad += 1
                if bad <= 10:
                    print("FAIL: %s at %#x: readelf says CFA=%s fp=%s ra=%s; gort's row: %s" %
                          (path, addr, row[0], row[1], row[2], " ".join(map(str, got))))
        print("%s: %d rows checked, %d FDEs: %d agree, %d by the PLT's expression, %d left to "
              "frame pointers, %d disagree" % (path, checked, len(fdes), checked - bad - unknown - byexpr,
                                                byexpr, unknown, bad))
        if checked < 100:
            print("FAIL: %s: too few rows to check (%d)" % (path, checked))
            failed = 1
        if unknown > checked // 50:
            print("FAIL: %s: more than 2%% of its rows are left to frame pointers" % path)
            failed = 1
        failed |= bad > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
