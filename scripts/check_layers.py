#!/usr/bin/env python3
"""check_layers.py SRCDIR [--nm NM ARCHIVE...] -- gort's packages depend
one way (docs/HACKING.md, "Layers").  Run by `make test` (suite layers).

The packages, lowest first, are PACKAGES below.  A package may use itself
and the packages before it, never one after it:

  includes  a .c, .h or .S file in a package's folder may include
            "pkg/..." only for a pkg at or below its own ("gort.h" and
            the generated "gort_config.h" are everybody's);
  symbols   (with --nm) an object of a package may leave undefined only
            gort_ symbols that its own package or a lower one defines
            (any other name is libc's, or another library's).  This is
            what the include check cannot see: a header that declares a
            higher package's function without including its header.

Each violation is printed as "file:line: ..." (or "object: ..."), and the
check exits 1 if there is any.
"""
import os
import re
import subprocess
import sys

PACKAGES = ["atomic", "runtime", "sched", "prof"]   # the order, lowest first
RANK = {p: i for i, p in enumerate(PACKAGES)}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def check_includes(top):
    bad, nfiles = [], 0
    for pkg in PACKAGES:
        folder = os.path.join(top, pkg)
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h", ".S")):
                continue
            nfiles += 1
            path = os.path.join(folder, name)
            with open(path, errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    if inc.startswith("."):   # "../sched/sched.h": from the file's folder
                        inc = os.path.normpath(os.path.join(pkg, inc))
                    dep = inc.split("/")[0] if "/" in inc else pkg
                    if dep in RANK and RANK[dep] > RANK[pkg]:
                        bad.append('%s/%s:%d: #include "%s": package %s is above %s' % (
                            pkg, name, lineno, m.group(1), dep, pkg))
    return bad, nfiles


def package_of_object(member):
    # meson names the object of pkg/file.c "pkg_file.c.o"
    base = os.path.basename(member)
    pkg = base.split("_", 1)[0]
    return pkg if pkg in RANK else None


def check_symbols(nm, archives):
    out = subprocess.run([nm, "-A", "-P"] + archives, capture_output=True, text=True, check=True).stdout
    defined, undefined = {}, []
    for line in out.splitlines():
        # archive[member]: name type value size
        m = re.match(r"^[^\[]*\[([^\]]+)\]:\s+(\S+)\s+(\S)", line)
        if not m:
            continue
        member, sym, kind = m.groups()
        pkg = package_of_object(member)
        if pkg is None:
            return ["%s: cannot tell which package this object belongs to" % member], 0
        if kind == "U":
            undefined.append((member, pkg, sym))
        elif kind.isupper() and sym.startswith("gort_"):
            # gort's own globals carry its prefix (HACKING.md, "Naming");
            # malloc and friends, interposed by the malloc trap, are libc's
            defined.setdefault(sym, pkg)
    bad = []
    for member, pkg, sym in undefined:
        dep = defined.get(sym)
        if dep is not None and RANK[dep] > RANK[pkg]:
            bad.append("%s: uses %s, defined in package %s, above %s" % (
                os.path.basename(member), sym, dep, pkg))
    return bad, len(set(m for m, _, _ in undefined))


def main(argv):
    if len(argv) != 2 and (len(argv) < 5 or argv[2] != "--nm"):
        sys.stderr.write(__doc__)
        return 2
    top = argv[1]
    bad, nfiles = check_includes(top)
    print("includes: %d files in %s" % (nfiles, ", ".join(PACKAGES)))
    if nfiles == 0:
        bad.append("no source files found under %s" % top)
    if len(argv) > 2:
        archives = argv[4:]
        sbad, nobjs = check_symbols(argv[3], archives)
        print("symbols: %d objects in %s" % (nobjs, ", ".join(os.path.basename(a) for a in archives)))
        if nobjs == 0 and not sbad:
            sbad.append("no objects in %s" % " ".join(archives))
        bad += sbad
    for b in bad:
        print("FAIL: " + b)
    print("layers: %s (%s)" % ("ok" if not bad else "%d violations" % len(bad), " -> ".join(PACKAGES)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
