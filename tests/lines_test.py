#!/usr/bin/env python3
"""lines_test.py TARGET NM OBJDUMP libdw|no-libdw COMPILER -- files, lines, inline
frames and clean names in gort's profiles (prof/symbolize.c), as
`go tool pprof` shows them with the binary moved away.

TARGET is tests/lines_target.c built with -g -O2 by COMPILER (meson's id:
gcc, clang; only GCC names its clones burn_inl.constprop.N).  A copy of it is run
from a scratch folder and profiles CPU_MS of its own CPU time; then the
copy is removed, so that pprof has nothing but the profile, and:

  -raw           every location in the program's mapping has a file and a
                 line in every Line; mix, always inlined, is an inline
                 frame (a Location with Lines [mix, burn_inl]); the clone
                 burn_inl.constprop.0 is the function burn_inl, with its
                 raw name as the system name; the mapping says [FN][FL][LN][IN]
  -lines -top    lines_target.c:N lines, and mix marked (inline)
  -traces        mix (inline) above burn_inl, with -lines its file and line
  -list burn_inl the source of burn_inl with counts beside it

A second profile, written with gort_prof_write at chosen addresses (no
sampling luck), names the PLT stub rand_r@plt (or, where a sanitizer
intercepts rand_r, another stub objdump names) and the vDSO's
clock_gettime, found independently by objdump and nm -D.  Without libdw
only the names are asserted, and that no mapping claims lines.
Exits 77 (skipped) where Go is missing.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

CPU_MS = 1500   # ~375 samples at the kernel's 250 Hz: mix holds ~99% of them


def run(*cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


def fail(msg, out=""):
    sys.exit(f"FAIL: {msg}\n{out}")


def parse_raw(out):
    """-raw's Locations and Mappings: {id: (mapping, [(func, file, line, sysname)])}."""
    locs, maps, cur, section = {}, {}, None, None
    for ln in out.splitlines():
        if ln in ("Locations", "Mappings"):
            section = ln
            continue
        if section == "Locations":
            m = re.match(r"\s+(\d+): 0x[0-9a-f]+ M=(\d+)\s*(.*)$", ln)
            if m:
                cur = int(m.group(1))
                locs[cur] = (int(m.group(2)), [])
                rest = m.group(3)
            else:
                rest = ln.strip()
            if rest:
                f = re.match(r"(\S+) (\S*):(\d+) s=\d+(?:\((.*)\))?$", rest)
                if not f:
                    fail(f"unparsed -raw location line: {ln!r}", out)
                locs[cur][1].append((f.group(1), f.group(2), int(f.group(3)), f.group(4) or f.group(1)))
        elif section == "Mappings":
            m = re.match(r"(\d+): \S+ (\S+) ?(\S*) ?(.*)$", ln)
            if m:
                maps[int(m.group(1))] = (m.group(2), m.group(4))
    return locs, maps


def main():
    target, nm, objdump, flavour, compiler = sys.argv[1:6]
    libdw = flavour == "libdw"
    gcc = compiler == "gcc"   # clang specialises without renaming: no clone to fold
    if not shutil.which("go"):
        print("prof-lines: SKIPPED: no `go` on this machine (make test installs it)")
        sys.exit(77)

    syms = run(nm, target)
    clone = re.search(r"^([0-9a-f]+) t (burn_inl\.constprop\.\d+)$", syms, re.M)
    if gcc and not clone:
        fail("the compiler made no burn_inl.constprop clone: the test would prove nothing", syms)
    if not gcc:
        clone = re.search(r"^([0-9a-f]+) t (burn_inl)$", syms, re.M)
    if re.search(r" t mix$", syms, re.M):
        fail("mix was not inlined everywhere", syms)
    # rand_r's stub, or (where a sanitizer intercepts rand_r in the
    # executable) any other stub objdump names
    stubs = re.findall(r"^([0-9a-f]+) <([^>@]+)@plt>:", run(objdump, "-d", target), re.M)
    plt = dict((n, int(a, 16)) for a, n in stubs)
    if not plt:
        fail("objdump finds no PLT stub in the target")
    stub = "rand_r" if "rand_r" in plt else stubs[0][1]

    tmp = tempfile.mkdtemp(prefix="gort-lines-")
    try:
        exe = os.path.join(tmp, "lines_target")
        shutil.copy(target, exe)
        cpu, at, vdso = (os.path.join(tmp, n) for n in ("cpu.prof", "at.prof", "vdso.so"))
        run(exe, "run", cpu, str(CPU_MS))
        run(exe, "vdso", vdso)
        dyn = run(nm, "-D", "--defined-only", vdso)
        vfun = re.search(r"^([0-9a-f]+) T (__vdso_clock_gettime)\b", dyn, re.M)
        if not vfun:
            fail("nm -D finds no __vdso_clock_gettime in the vDSO", dyn)
        run(exe, "at", at, "exe+0x%x" % (plt[stub] + 4),
            "exe+0x%x" % (int(clone.group(1), 16) + 1), "vdso+0x%x" % (int(vfun.group(1), 16) + 1))
        # The binary goes away: whatever pprof shows comes from the profile.
        os.rename(exe, exe + ".moved")
        os.remove(exe + ".moved")
        env = dict(os.environ, PPROF_BINARY_PATH=tmp, PPROF_TOOLS=tmp)

        def pprof(*args, prof=cpu):
            return run("go", "tool", "pprof", *args, prof, env=env)

        raw = pprof("-raw")
        locs, maps = parse_raw(raw)
        mine = [i for i, (fn, _) in maps.items() if fn == exe]
        if len(mine) != 1:
            fail(f"no single mapping for {exe}", raw)
        mid = mine[0]
        inmine = {i: lines for i, (m, lines) in locs.items() if m == mid}
        # A sanitizer's runtime is linked into the executable, and has no
        # DWARF: its code is not code built with -g.
        foreign = [i for i, lines in inmine.items()
                   if lines and re.match(r"(__interceptor_|__asan|__ubsan|__sanitizer|_ZN\d+__(asan|ubsan|sanitizer))",
                                         lines[-1][0])]
        withline = [i for i, lines in inmine.items()
                    if lines and all(f and n > 0 for _, f, n, _ in lines)]
        inlined = [i for i, lines in inmine.items()
                   if len(lines) >= 2 and lines[0][0] == "mix" and lines[1][0] == "burn_inl"]
        named = sorted({l[0] for lines in inmine.values() for l in lines})
        print(f"locations in {os.path.basename(exe)}: {len(inmine)} ({len(foreign)} in a sanitizer's "
              f"runtime), with file and line: {len(withline)}, with mix inlined in burn_inl: {len(inlined)}")
        print(f"functions: {' '.join(named)}")
        if any("constprop" in n for n in named):
            fail("a clone suffix is left in a function name", raw)
        if "burn_inl" not in named:
            fail("burn_inl.constprop.0 is not named burn_inl", raw)
        if gcc and not any(l[0] == "burn_inl" and l[3].startswith("burn_inl.constprop.")
                           for lines in inmine.values() for l in lines):
            fail("burn_inl's system name is not its raw symbol", raw)
        flags = maps[mid][1]
        if libdw:
            if len(withline) != len(inmine) - len(foreign) or set(withline) & set(foreign):
                fail("a location in the -g program has no line", raw)
            if not inlined:
                fail("no location has mix as an inline frame of burn_inl", raw)
            # the mapping's flags say what holds for all of it
            want = "[FN]" if foreign else "[FN][FL][LN][IN]"
            if flags != want:
                fail(f"the program's mapping says {flags!r}, not {want}", raw)

            top = pprof("-lines", "-top")
            if not re.search(r"mix \S*lines_target\.c:\d+ \(inline\)", top):
                fail("-lines -top shows no mix lines_target.c:N (inline)", top)
            if not re.search(r"burn_inl \S*lines_target\.c:\d+", top + pprof("-lines", "-top", "-cum")):
                fail("-lines -top shows no burn_inl lines_target.c:N", top)
            traces = pprof("-traces")
            if not re.search(r"mix \(inline\)\n\s+burn_inl\n", traces):
                fail("-traces shows no mix (inline) above burn_inl", traces)
            traces = pprof("-traces", "-lines")
            if not re.search(r"mix \S*lines_target\.c:\d+ \(inline\)\n\s+burn_inl \S*lines_target\.c:\d+\n",
                             traces):
                fail("-traces -lines shows no mix file:line (inline) above burn_inl file:line", traces)
            lst = pprof("-list", "^burn_inl$")
            if not re.search(r"ROUTINE =+ burn_inl in \S*lines_target\.c", lst) or \
                    not re.search(r"^\s+\S+\s+\d+(\.\d+)?m?s\s+\d+:\s+acc \+= mix\(acc \+ i\);", lst, re.M):
                fail("-list burn_inl shows no source with counts", lst)
        else:
            if re.search(r"\[(FL|LN|IN)\]", flags):
                fail(f"without libdw the mapping claims {flags!r}", raw)

        araw = pprof("-raw", prof=at)
        alocs, amaps = parse_raw(araw)
        anames = [lines[0][0] if lines else "" for _, (m, lines) in sorted(alocs.items())]
        print(f"at chosen addresses: {' '.join(anames)}", flush=True)
        if anames[0] != stub + "@plt":
            fail(f"the PLT stub is not named {stub}@plt", araw)
        if anames[1] != "burn_inl":
            fail("the clone is not named burn_inl", araw)
        if anames[2] not in ("__vdso_clock_gettime", "clock_gettime"):
            fail("the vDSO's clock_gettime is not named", araw)
        if not any(fn == "[vdso]" for fn, _ in amaps.values()):
            fail("no mapping is named [vdso]", araw)
        # the spec's default sample type, numeric label and comment
        for want in ("objects/count[dflt]", "bytes:[4096 bytes]", "Comment: lines_target: one sample per address"):
            if want not in araw:
                fail(f"-raw of the written profile lacks {want!r}", araw)
        print("ok: files, lines, inline frames, clean names, PLT and vDSO in the profile")
    finally:
        if not os.environ.get("LINES_KEEP"):   # LINES_KEEP=1: leave the profiles to look at
            shutil.rmtree(tmp, ignore_errors=True)


main()
