// callers.go -- Go's side of bench/callers.c: five goroutines, each wired
// to its thread (runtime.LockOSThread), each spending a fixed amount of
// work in one kind of call, under runtime/pprof.  Go's unwinder always has
// frame pointers and knows its own stacks, so this is the reference for
// "a goroutine's root under every sample".  The kinds are Go's nearest
// equivalents, not the same code:
//
//	malloc   caller_malloc: make([]byte, 16..4096) kept in 64 slots, so
//	         that it escapes: mallocgc, and the collector behind it (whose
//	         background workers run on other goroutines, outside the
//	         kind's CPU time and outside its samples alike)
//	qsort    caller_qsort: sort.Slice of 2048 ints, the less func ours
//	clock    caller_clock: time.Now (the vDSO, as in C)
//	memcpy   caller_memcpy: copy of 1 MiB slices (runtime.memmove)
//	self     caller_self: the same loop as in C
//
// Each kind's CPU time is its thread's CPU clock read before and after the
// call (clock_gettime(CLOCK_THREAD_CPUTIME_ID), a raw system call: the
// syscall package has no wrapper), and the whole is the process's CPU time
// from StartCPUProfile to StopCPUProfile; the output is callers.c's:
//
//	callers kind=<kind> cpu_ns=<n>
//	callers total cpu_ns=<n>
//
//	bench_callers_go [--quick] gort HZ PROFILE
//
// ("gort" for the same command line as callers.c's mode: profile
// ourselves.)  --quick: a thousandth of the work.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var sink uint64

var quick = len(os.Args) > 1 && os.Args[1] == "--quick"

func size(n int) int {
	if quick {
		if n/1000 > 0 {
			return n / 1000
		}
		return 1
	}
	return n
}

func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return (ru.Utime.Sec+ru.Stime.Sec)*1000000000 + (ru.Utime.Usec+ru.Stime.Usec)*1000
}

var slots [64][]byte

//go:noinline
func caller_malloc(n int) {
	x := uint32(1)
	for i := 0; i < n; i++ {
		x = x*1664525 + 1013904223
		k := (x >> 8) % 64
		slots[k] = make([]byte, 16+(x>>20)%4080)
		slots[k][0] = byte(i)
	}
	slots = [64][]byte{}
}

var sorted [2048]int32

//go:noinline
func caller_qsort(n int) {
	x := uint32(2)
	v := sorted[:]
	for i := 0; i < n; i++ {
		for k := range v {
			x = x*1664525 + 1013904223
			v[k] = int32(x)
		}
		sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
	}
	sink = uint64(v[0])
}

//go:noinline
func caller_clock(n int) {
	var sum uint64
	for i := 0; i < n; i++ {
		sum += uint64(time.Now().Nanosecond())
	}
	sink = sum
}

var bufA, bufB [1 << 20]byte

//go:noinline
func caller_memcpy(n int) {
	for i := 0; i < n; i++ {
		bufA[i%len(bufA)] = byte(i)
		if i%2 == 1 {
			copy(bufA[:], bufB[:])
		} else {
			copy(bufB[:], bufA[:])
		}
	}
	sink = uint64(bufA[0]) + uint64(bufB[1])
}

//go:noinline
func caller_self(n int) {
	x := uint64(3)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + uint64(i)
	}
	sink = x
}

type kind struct {
	name  string
	fn    func(int)
	n     int
	cpuNs int64
}

// About 0.6 s of CPU each, as in callers.c: the counts differ where Go's
// call costs more (an allocation that escapes, time.Now's two clocks,
// memmove).
var kinds = []*kind{
	{name: "malloc", fn: caller_malloc, n: 500000},
	{name: "qsort", fn: caller_qsort, n: 3000},
	{name: "clock", fn: caller_clock, n: 10000000},
	{name: "memcpy", fn: caller_memcpy, n: 9000},
	{name: "self", fn: caller_self, n: 480000000},
}

var wg sync.WaitGroup

func runKind(k *kind) {
	runtime.LockOSThread()
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("kind", k.name)))
	t0 := threadCPU()
	k.fn(size(k.n))
	k.cpuNs = threadCPU() - t0
	runtime.UnlockOSThread()
	wg.Done()
}

//go:noinline
func root_malloc(k *kind) { runKind(k) }

//go:noinline
func root_qsort(k *kind) { runKind(k) }

//go:noinline
func root_clock(k *kind) { runKind(k) }

//go:noinline
func root_memcpy(k *kind) { runKind(k) }

//go:noinline
func root_self(k *kind) { runKind(k) }

func main() {
	args := os.Args[1:]
	if quick {
		args = args[1:]
	}
	if len(args) != 3 || args[0] != "gort" {
		fmt.Fprintln(os.Stderr, "usage: bench_callers_go [--quick] gort HZ PROFILE")
		os.Exit(2)
	}
	hz, err := strconv.Atoi(args[1])
	if err != nil {
		panic(err)
	}
	f, err := os.Create(args[2])
	if err != nil {
		panic(err)
	}
	os.Stderr = nil // SetCPUProfileRate's complaint at StartCPUProfile is not news
	runtime.SetCPUProfileRate(hz)
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	c0 := processCPU()
	roots := []func(*kind){root_malloc, root_qsort, root_clock, root_memcpy, root_self}
	wg.Add(len(kinds))
	for i, k := range kinds {
		go roots[i](k)
	}
	wg.Wait()
	total := processCPU() - c0
	pprof.StopCPUProfile()
	f.Close()
	for _, k := range kinds {
		fmt.Printf("callers kind=%s cpu_ns=%d\n", k.name, k.cpuNs)
	}
	fmt.Printf("callers total cpu_ns=%d\n", total)
}
