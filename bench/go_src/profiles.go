// profiles.go -- bench/profiles.c in Go: the same program shapes, the same
// function names, profiled with runtime/pprof, for bench/profiles.py to
// compare frame by frame.  See profiles.c for the modes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const hold = time.Millisecond

var (
	rounds  = 50
	quick   = false
	wg      sync.WaitGroup
	rc      = make(chan struct{})
	sa, sb  = make(chan struct{}), make(chan struct{})
	mu      sync.Mutex
	never   = make(chan struct{}) // nobody sends on it
	never2  = make(chan struct{}) // nobody receives from it
	started int32
	sink    []byte
)

func size(n int) int {
	if quick {
		if n/1000 > 0 {
			return n / 1000
		}
		return 1
	}
	return n
}

//go:noinline
func recvLoop() {
	for i := 0; i < rounds; i++ {
		<-rc
	}
	wg.Done()
}

//go:noinline
func selectLoop() {
	for i := 0; i < rounds; i++ {
		select {
		case <-sa:
		case <-sb:
		}
	}
	wg.Done()
}

//go:noinline
func holderLoop(gc chan struct{}) {
	for i := 0; i < rounds; i++ {
		mu.Lock()
		gc <- struct{}{}
		time.Sleep(hold)
		mu.Unlock()
		<-gc
	}
	wg.Done()
}

//go:noinline
func lockLoop(gc chan struct{}) {
	for i := 0; i < rounds; i++ {
		<-gc
		mu.Lock()
		mu.Unlock()
		gc <- struct{}{}
	}
	wg.Done()
}

//go:noinline
func wgLoop() {
	for i := 0; i < rounds; i++ {
		var w sync.WaitGroup
		w.Add(1)
		go func() { time.Sleep(hold); w.Done() }()
		w.Wait()
	}
	wg.Done()
}

//go:noinline
func sleepLoop() {
	for i := 0; i < rounds; i++ {
		time.Sleep(hold)
	}
	wg.Done()
}

func sendLoop() {
	for i := 0; i < rounds; i++ {
		time.Sleep(hold)
		rc <- struct{}{}
	}
	for i := 0; i < rounds; i++ {
		time.Sleep(hold)
		if i%2 == 1 {
			sa <- struct{}{}
		} else {
			sb <- struct{}{}
		}
	}
	wg.Done()
}

func writeTo(name, file string) {
	f, err := os.Create(file)
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
}

//go:noinline
func parkedLoop() {
	atomic.AddInt32(&started, 1)
	<-never
}

//go:noinline
func selectWait() {
	atomic.AddInt32(&started, 1)
	select {
	case <-never:
	case never2 <- struct{}{}:
	}
}

func startParked(n, nsel int) {
	pprof.Do(context.Background(), pprof.Labels("kind", "parked"), func(context.Context) {
		for i := 0; i < n; i++ {
			go parkedLoop()
		}
	})
	for i := 0; i < nsel; i++ {
		go selectWait()
	}
	for atomic.LoadInt32(&started) < int32(n+nsel) {
		time.Sleep(100 * time.Microsecond)
	}
}

//go:noinline
func siteA() { sink = make([]byte, 3000) }

//go:noinline
func siteB() { sink = make([]byte, 1000) }

var maxrtt int64
var lastTake float64
var measuring int32

func maxRTTDuring(profiles int) (float64, float64) {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	atomic.StoreInt64(&maxrtt, 0)
	atomic.StoreInt32(&measuring, 1)
	done := make(chan struct{})
	go func() {
		for atomic.LoadInt32(&measuring) == 1 {
			t0 := time.Now()
			ping <- struct{}{}
			<-pong
			if d := int64(time.Since(t0)); d > atomic.LoadInt64(&maxrtt) {
				atomic.StoreInt64(&maxrtt, d)
			}
		}
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	var t []float64
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		if profiles > 0 {
			pprof.Lookup("goroutine").WriteTo(io.Discard, 0)
		} else {
			time.Sleep(time.Duration(lastTake * 1e6))
		}
		t = append(t, float64(time.Since(t0))/1e6)
		time.Sleep(10 * time.Millisecond)
	}
	atomic.StoreInt32(&measuring, 0)
	<-done
	close(ping)
	sort.Float64s(t)
	if profiles > 0 {
		lastTake = t[len(t)/2]
	}
	return float64(atomic.LoadInt64(&maxrtt)) / 1e3, lastTake
}

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--quick" {
		quick = true
		rounds = 2
		args = args[1:]
	}
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: profiles [--quick] block|mutex|goroutine|heap FILE | pause N")
		os.Exit(2)
	}
	file := "/dev/null"
	if len(args) > 1 {
		file = args[1]
	}
	switch args[0] {
	case "block":
		runtime.SetBlockProfileRate(1)
		gc := make(chan struct{})
		wg.Add(7)
		go recvLoop()
		go selectLoop()
		go sendLoop()
		go holderLoop(gc)
		go lockLoop(gc)
		go wgLoop()
		go sleepLoop()
		wg.Wait()
		writeTo("block", file)
	case "mutex":
		runtime.SetMutexProfileFraction(1)
		gc := make(chan struct{})
		wg.Add(2)
		go holderLoop(gc)
		go lockLoop(gc)
		wg.Wait()
		writeTo("mutex", file)
	case "goroutine":
		startParked(size(1000), size(100))
		writeTo("goroutine", file)
	case "heap":
		runtime.MemProfileRate = 512 * 1024
		n := size(200000)
		for i := 0; i < n; i++ {
			siteA()
			siteB()
		}
		runtime.GC()
		runtime.GC()
		writeTo("allocs", file)
	case "pause":
		n := 100000
		if len(args) > 1 {
			n, _ = strconv.Atoi(args[1])
		}
		n = size(n)
		startParked(n, 0)
		during, take := maxRTTDuring(1)
		base, _ := maxRTTDuring(0)
		fmt.Printf("case=goroutine_profile_%d value=%.2f unit=ms\n", n, take)
		fmt.Printf("case=max_roundtrip_during_%d value=%.1f unit=us\n", n, during)
		fmt.Printf("case=max_roundtrip_without_%d value=%.1f unit=us\n", n, base)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", args[0])
		os.Exit(2)
	}
}
