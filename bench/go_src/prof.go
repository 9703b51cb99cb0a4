// prof.go -- Go's side of bench/prof.c: the CPU overhead of runtime/pprof
// on one busy goroutine per P, at 100 and 1000 Hz, against unprofiled.
// --quick: one run at a thousandth of the work (make test: it runs; the
// figures mean nothing).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"syscall"
)

var sink uint64

//go:noinline
func busy(n int, wg *sync.WaitGroup) {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + uint64(i)
	}
	sink = x
	wg.Done()
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

var quick = len(os.Args) > 1 && os.Args[1] == "--quick"

func run(hz int) float64 {
	if hz > 0 {
		if hz != 100 {
			runtime.SetCPUProfileRate(hz) // StartCPUProfile then keeps this rate
		}
		if err := pprof.StartCPUProfile(io.Discard); err != nil {
			panic(err)
		}
	}
	procs := runtime.GOMAXPROCS(0)
	c0 := cpuSeconds()
	var wg sync.WaitGroup
	wg.Add(procs)
	n := 300000000
	if quick {
		n /= 1000
	}
	for i := 0; i < procs; i++ {
		go busy(n, &wg)
	}
	wg.Wait()
	c := cpuSeconds() - c0
	if hz > 0 {
		pprof.StopCPUProfile()
	}
	return c
}

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func main() {
	runs := 5
	if s := os.Getenv("GORT_BENCH_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	if quick {
		runs = 1
	}
	os.Stderr = nil // SetCPUProfileRate complains on every start; not news
	var off, p100, p1000 []float64
	for r := 0; r < runs; r++ {
		off = append(off, run(0))
		p100 = append(p100, run(100))
		p1000 = append(p1000, run(1000))
	}
	base := median(off)
	fmt.Printf("case=prof_overhead_100hz value=%.3g unit=%%\n", 100*(median(p100)/base-1))
	fmt.Printf("case=prof_overhead_1000hz value=%.3g unit=%%\n", 100*(median(p1000)/base-1))
}
