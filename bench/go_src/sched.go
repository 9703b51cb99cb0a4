// sched.go -- Go's side of bench/sched.c: the same cases, the same
// output format (case=<name> value=<number> unit=<unit>), so that
// bench/compare.py can put the two side by side.  The same arguments too:
// [--quick] [CASES], --quick running each case at a thousandth of its size.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var procsAll = runtime.GOMAXPROCS(0)

// quick: --quick, every size a thousandth (make test: it runs; the figures
// mean nothing).
var quick = len(os.Args) > 1 && os.Args[1] == "--quick"

func size(n int) int {
	if quick {
		return n / 1000
	}
	return n
}

func report(name string, v float64, unit string) {
	fmt.Printf("case=%s value=%.4g unit=%s\n", name, v, unit)
}

var nYield = size(2000000)

func benchYield() {
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < nYield; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	report("yield", float64(time.Since(t0).Nanoseconds())/(2*float64(nYield)), "ns/switch")
}

var nRound = size(1000000)

func benchChan() {
	runtime.GOMAXPROCS(1)
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < nRound; i++ {
			v := <-ping
			pong <- v
		}
	}()
	v := 0
	t0 := time.Now()
	for i := 0; i < nRound; i++ {
		ping <- v
		v = <-pong
	}
	report("chan_roundtrip", float64(time.Since(t0).Nanoseconds())/float64(nRound), "ns/roundtrip")
}

var nBuf = size(2000000)

func benchChanBuffered() {
	runtime.GOMAXPROCS(1)
	c := make(chan int, 128)
	var wg sync.WaitGroup
	wg.Add(1)
	t0 := time.Now()
	go func() {
		for i := 0; i < nBuf; i++ {
			c <- i
		}
		wg.Done()
	}()
	for i := 0; i < nBuf; i++ {
		<-c
	}
	report("chan_buffered", float64(time.Since(t0).Nanoseconds())/float64(nBuf), "ns/element")
	wg.Wait()
}

var nSpawn = size(1000000)

var ran int32

func nop() { atomic.AddInt32(&ran, 1) }

func benchSpawnExit() {
	runtime.GOMAXPROCS(1)
	atomic.StoreInt32(&ran, 0)
	t0 := time.Now()
	for i := 0; i < nSpawn; i++ {
		go nop()
		if i&255 == 255 {
			runtime.Gosched()
		}
	}
	for atomic.LoadInt32(&ran) != int32(nSpawn) {
		runtime.Gosched()
	}
	report("spawn_exit", float64(time.Since(t0).Nanoseconds())/float64(nSpawn), "ns/goroutine")
}

func benchSpawnJoin() {
	runtime.GOMAXPROCS(procsAll)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(nSpawn)
	for i := 0; i < nSpawn; i++ {
		go wg.Done()
	}
	wg.Wait()
	report("spawn_join", float64(time.Since(t0).Nanoseconds())/float64(nSpawn), "ns/goroutine")
}

var nSelect = size(1000000)

func benchSelect() {
	runtime.GOMAXPROCS(1)
	a, b := make(chan int, 1), make(chan int, 1)
	a <- 1
	b <- 1
	t0 := time.Now()
	for i := 0; i < nSelect; i++ {
		select {
		case <-a:
			a <- 1
		case <-b:
			b <- 1
		}
	}
	report("select2", float64(time.Since(t0).Nanoseconds())/float64(nSelect), "ns/select")
}

var nPark = size(1000000)

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(data), &size, &res)
	return res * int64(os.Getpagesize())
}

func benchParked() {
	runtime.GOMAXPROCS(procsAll)
	gate := make(chan struct{})
	var parked int32
	var wg sync.WaitGroup
	runtime.GC()
	before := rssBytes()
	wg.Add(nPark)
	for i := 0; i < nPark; i++ {
		go func() {
			atomic.AddInt32(&parked, 1)
			<-gate
			wg.Done()
		}()
	}
	for atomic.LoadInt32(&parked) != int32(nPark) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	after := rssBytes()
	report("parked_rss", float64(after-before)/float64(nPark), "bytes/goroutine")
	close(gate)
	wg.Wait()
}

func main() {
	only, args := "", os.Args[1:]
	if quick {
		args = args[1:]
	}
	if len(args) > 0 {
		only = args[0]
	}
	cases := []struct {
		name string
		fn   func()
	}{
		{"yield", benchYield},
		{"chan_roundtrip", benchChan},
		{"chan_buffered", benchChanBuffered},
		{"spawn_exit", benchSpawnExit},
		{"spawn_join", benchSpawnJoin},
		{"select2", benchSelect},
		{"parked_rss", benchParked},
	}
	for _, c := range cases {
		if only == "" || strings.Contains(only, c.name) {
			c.fn()
		}
	}
}
