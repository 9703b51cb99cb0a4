// preempt.go -- Go's side of bench/preempt.c: how late a sleeping
// goroutine wakes while CPU-bound goroutines that never call the runtime
// hold the Ps.  The same cases (1 P or all Ps; no hogs, a hog per P, or
// two), the same 100 sleeps of 10 ms (at most 4 s a case), the same
// nearest-rank percentiles and output format (case=<name> value=<number>
// unit=<unit>), so that bench/compare.py can put the two side by side.
//
//	bench_preempt_go [--quick]
//
// gort's asyncpreemptoff rows have no counterpart here: with
// GODEBUG=asyncpreemptoff=1 no goroutine could run to stop these hogs.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	sleep     = 10 * time.Millisecond
	samples   = 100
	caseLimit = 4 * time.Second
)

var (
	procsAll = runtime.GOMAXPROCS(0)
	quick    = len(os.Args) > 1 && os.Args[1] == "--quick"
	stop     int32
	sink     uint32
)

// No call between two polls of stop: atomic.LoadInt32 and the arithmetic
// are compiled inline, so only an asynchronous preemption takes the P.
func hog(seed uint32, wg *sync.WaitGroup) {
	x := seed + 1
	for atomic.LoadInt32(&stop) == 0 {
		for i := 0; i < 4096; i++ {
			x = x*1664525 + 1013904223
		}
		sink = x
	}
	wg.Done()
}

// The nearest-rank percentile: the smallest sample with p of them at or
// below it.
func percentileMs(v []time.Duration, p float64) float64 {
	k := int(p*float64(len(v)) + 0.999999)
	if k < 1 {
		k = 1
	}
	if k > len(v) {
		k = len(v)
	}
	return float64(v[k-1].Nanoseconds()) / 1e6
}

func runCase(name string, all bool, hogsPerP int) {
	procs := 1
	if all {
		procs = procsAll
	}
	n := samples
	if quick {
		n = samples / 1000
		if n < 1 {
			n = 1
		}
	}
	runtime.GOMAXPROCS(procs)
	atomic.StoreInt32(&stop, 0)
	var wg sync.WaitGroup
	wg.Add(hogsPerP * procs)
	for i := 0; i < hogsPerP*procs; i++ {
		go hog(uint32(i), &wg)
	}
	late := make([]time.Duration, 0, n)
	end := time.Now().Add(caseLimit)
	for len(late) < n && time.Now().Before(end) {
		t0 := time.Now()
		time.Sleep(sleep)
		late = append(late, time.Since(t0)-sleep)
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	fmt.Printf("case=late_p50_%s value=%.4g unit=ms\n", name, percentileMs(late, 0.50))
	fmt.Printf("case=late_p99_%s value=%.4g unit=ms\n", name, percentileMs(late, 0.99))
}

func main() {
	if len(os.Args) > 2 || len(os.Args) == 2 && !quick {
		fmt.Fprintln(os.Stderr, "usage: bench_preempt_go [--quick]")
		os.Exit(2)
	}
	cases := []struct {
		name string
		all  bool
		hogs int
	}{
		{"1p_idle", false, 0}, {"1p_1x", false, 1}, {"1p_2x", false, 2},
		{"allp_idle", true, 0}, {"allp_1x", true, 1}, {"allp_2x", true, 2},
	}
	for _, c := range cases {
		runCase(c.name, c.all, c.hogs)
	}
}
