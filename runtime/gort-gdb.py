# gort-gdb.py -- gdb commands for gort programs (Go: runtime/runtime-gdb.py).
#
#     (gdb) source runtime/gort-gdb.py
#     (gdb) info goroutines
#       * 1 running   main ()
#         2 waiting   [chan receive] worker () at examples/workers.c:21
#     (gdb) goroutine 2 bt
#
# gdb knows threads, not goroutines: a parked goroutine is just a saved
# stack pointer in its struct g.  These commands read the runtime's own
# list of goroutines (gort_sched.allgs) and, for a parked one, walk its
# stack from the context its last switch saved (see sched/ctx_*.S for the
# layout), one frame record at a time.  x86-64 and aarch64.

import gdb

STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 5: "dead"}

# Where ctxswitch left the caller's frame pointer and return address,
# relative to the saved stack pointer.
SAVED = {"x86-64": (40, 48), "aarch64": (80, 88)}

# Frames of the runtime itself, skipped when saying where a goroutine is.
RUNTIME_PREFIXES = ("gort_sched_", "gort_chan_", "gort_select", "switch_out", "gort_mutex_",
                    "gort_waitgroup_", "gort_sleep", "gort_yield", "after_", "gort_runtime_")


def arch():
    name = gdb.selected_frame().architecture().name()
    return "aarch64" if "aarch64" in name else "x86-64"


def goroutines():
    g = gdb.parse_and_eval("gort_sched.allgs")
    while int(g) != 0:
        yield g
        g = g["alllink"]


def describe(pc):
    block = gdb.block_for_pc(pc)
    while block is not None and block.function is None:
        block = block.superblock
    name = block.function.print_name if block is not None and block.function else "?"
    sal = gdb.find_pc_line(pc)
    where = ""
    if sal.symtab is not None:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    return name, where


def parked_pcs(g, limit=64):
    """Return addresses up a parked goroutine's stack, innermost first."""
    fp_off, pc_off = SAVED[arch()]
    ptr = gdb.lookup_type("unsigned long").pointer()
    sp = int(g["sp"])
    lo, hi = int(g["stack_lo"]) - 256, int(g["stack_hi"])
    fp = int(gdb.Value(sp + fp_off).cast(ptr).dereference())
    pc = int(gdb.Value(sp + pc_off).cast(ptr).dereference())
    pcs = [pc]
    while len(pcs) < limit and lo <= fp < hi - 16 and fp % 8 == 0:
        nxt = int(gdb.Value(fp).cast(ptr).dereference())
        ret = int(gdb.Value(fp + 8).cast(ptr).dereference())
        if ret == 0 or (nxt != 0 and nxt <= fp):
            break
        pcs.append(ret)
        fp = nxt
    return pcs


def current_goid():
    try:
        m = gdb.parse_and_eval("gort_sched_m")
        if int(m) != 0 and int(m["curg"]) != 0:
            return int(m["curg"]["goid"])
    except gdb.error:
        pass
    return 0


class InfoGoroutines(gdb.Command):
    """info goroutines -- every live goroutine: id, status, wait reason, where."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        cur = current_goid()
        reasons = gdb.parse_and_eval("gort_sched_waitreasons")
        for g in goroutines():
            status = int(g["status"])
            if status in (0, 5):
                continue
            goid = int(g["goid"])
            text = STATUS.get(status, str(status))
            if status == 4:
                text += " [%s]" % reasons[int(g["waitreason"])].string()
            where = ""
            if status != 2:
                for pc in parked_pcs(g)[1:]:
                    name, at = describe(pc - 1)
                    if not name.startswith(RUNTIME_PREFIXES):
                        where = "%s ()%s" % (name, at)
                        break
            print("%s %4d %-28s %s" % ("*" if goid == cur else " ", goid, text, where))


class GoroutineCmd(gdb.Command):
    """goroutine N bt -- the backtrace of goroutine N."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if len(args) != 2 or args[1] != "bt":
            raise gdb.GdbError("usage: goroutine N bt")
        want = int(args[0])
        for g in goroutines():
            if int(g["goid"]) != want or int(g["status"]) == 5:
                continue
            if int(g["status"]) == 2:
                if want == current_goid():
                    gdb.execute("bt")
                    return
                raise gdb.GdbError("goroutine %d is running on another thread: "
                                   "switch to it with `thread`" % want)
            for i, pc in enumerate(parked_pcs(g)):
                name, at = describe(pc - 1)
                print("#%-2d 0x%016x in %s ()%s" % (i, pc, name, at))
            return
        raise gdb.GdbError("no goroutine %d" % want)


InfoGoroutines()
GoroutineCmd()
print("gort: `info goroutines` and `goroutine N bt` are ready")
