#!/usr/bin/env python3
"""test_docs.py [FILE.md...] -- every shell command and code sample in the
docs runs as written.  `make test` runs it after the build folders' suites
(scripts/test.sh ... docs); `make test-docs` runs it alone.

  ```sh blocks     run with bash -e from the top of the tree, in order per
                   file; a block whose first line is
                   `# docs-test: skip <why>` is reported, not run
  ```c blocks      with a main(): compiled against build/native and run;
                   without: must be an excerpt of a file in the tree
                   (whitespace aside), or the check fails
  ```meson blocks  must be an excerpt of a file in the tree
  other blocks     (program output) are not checked

Prints one line per block and closes with "docs: N passed, M failed".
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def norm(text):
    return " ".join(text.split())


def tree_text():
    out = []
    for pattern in ("*/*.c", "*/*.h", "*/*.S", "*/*.sh", "*/*.py", "*.build", "*/meson.build", "include/*.h"):
        for path in glob.glob(os.path.join(TOP, pattern)):
            with open(path, errors="replace") as f:
                out.append(norm(f.read()))
    return "\n".join(out)


def libdw_libs(build):
    """What libgort.a needs for libdw (prof/symbolize.c), if it was built with it."""
    with open(os.path.join(build, "gort_config.h")) as f:
        if not re.search(r"#define GORT_HAVE_LIBDW 1", f.read()):
            return []
    return subprocess.run(["pkg-config", "--libs", "libdw"], capture_output=True, text=True,
                          check=True).stdout.split()


def run_c(code):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "sample.c")
        with open(src, "w") as f:
            f.write(code)
        exe = os.path.join(tmp, "sample")
        b = os.path.join(TOP, "build/native")
        cmd = ["cc", "-O2", "-g", "-fno-omit-frame-pointer", "-I", os.path.join(TOP, "include"), "-I", TOP,
               "-I", b, src, os.path.join(b, "libgort.a"), "-latomic_ops", "-lz", "-lpthread", "-o", exe]
        cmd[-2:-2] = libdw_libs(b)
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode:
            return "does not compile:\n" + r.stderr
        try:
            r = subprocess.run([exe], capture_output=True, text=True, timeout=60, cwd=tmp,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return "hung: still running after 60 s"
        if r.returncode:
            return "exits %d:\n%s%s" % (r.returncode, r.stdout, r.stderr)
    return None


def main(files):
    files = files or [os.path.join(TOP, "README.md")] + sorted(glob.glob(os.path.join(TOP, "docs/*.md")))
    corpus = tree_text()
    passed = failed = 0
    for path in files:
        with open(path) as f:
            doc = f.read()
        rel = os.path.relpath(path, TOP)
        for i, m in enumerate(FENCE.finditer(doc)):
            lang, body = m.group(1), m.group(2)
            line = doc.count("\n", 0, m.start()) + 1
            where = "%s:%d" % (rel, line)
            err = None
            if lang == "sh":
                first = body.strip().splitlines()[0] if body.strip() else ""
                if first.startswith("# docs-test: skip"):
                    print("skip %s (%s)" % (where, first[len("# docs-test: skip"):].strip()))
                    continue
                try:
                    r = subprocess.run(["bash", "-e", "-c", body], cwd=TOP, capture_output=True, text=True,
                                       stdin=subprocess.DEVNULL, timeout=600)
                    if r.returncode:
                        err = "exits %d:\n%s%s" % (r.returncode, r.stdout, r.stderr)
                except subprocess.TimeoutExpired:
                    err = "hung: still running after 600 s"
            elif lang == "c":
                if "main(" in body:
                    err = run_c(body)
                elif norm(body) not in corpus:
                    err = "neither a whole program nor an excerpt of the source"
            elif lang == "meson":
                if norm(body) not in corpus:
                    err = "not an excerpt of the source"
            else:
                continue
            if err:
                failed += 1
                err = err.strip()
                if len(err) > 3000:   # the end says why: keep the head and the tail
                    err = err[:1000] + "\n[...]\n" + err[-2000:]
                print("FAIL %s (%s): %s" % (where, lang, err))
            else:
                passed += 1
                print("ok   %s (%s)" % (where, lang))
    print("docs: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
