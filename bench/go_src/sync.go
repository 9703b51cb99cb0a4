// sync.go -- Go's side of bench/sync.c: the same cases, the same output
// format (case=<name> value=<number> unit=<unit>), the same arguments
// ([--quick] [CASES]).  Go has no weighted semaphore in its standard
// library, so "semaphore" here is the idiom Go programs use instead, a
// buffered channel; and no goroutine-local values, so no local_getset.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

var procsAll = runtime.GOMAXPROCS(0)
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

func runAll(n int, fn func()) float64 {
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			fn()
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds())
}

var rw sync.RWMutex
var counter int

func benchRWRead() {
	runtime.GOMAXPROCS(procsAll)
	n := size(2000000)
	ns := runAll(procsAll, func() {
		for i := 0; i < n; i++ {
			rw.RLock()
			rw.RUnlock()
		}
	})
	report("rwmutex_read", ns/float64(n), "ns/op")
}

func benchRWMixed() {
	runtime.GOMAXPROCS(procsAll)
	n := size(2000000 / 4)
	counter = 0
	ns := runAll(procsAll, func() {
		for i := 0; i < n; i++ {
			if i%10 == 0 {
				rw.Lock()
				counter++
				rw.Unlock()
			} else {
				rw.RLock()
				rw.RUnlock()
			}
		}
	})
	if counter != procsAll*((n+9)/10) {
		panic("rwmutex_mixed: wrong count")
	}
	report("rwmutex_mixed", ns/float64(n), "ns/op")
}

func benchCond() {
	runtime.GOMAXPROCS(1)
	n := size(500000)
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	turn := 0
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for me := 0; me < 2; me++ {
		go func(me int) {
			mu.Lock()
			for i := 0; i < n; i++ {
				for turn != me {
					cond.Wait()
				}
				turn = 1 - me
				cond.Signal()
			}
			mu.Unlock()
			wg.Done()
		}(me)
	}
	wg.Wait()
	report("cond_pingpong", float64(time.Since(t0).Nanoseconds())/(2*float64(n)), "ns/turn")
}

func benchSemaphore() {
	runtime.GOMAXPROCS(procsAll)
	n := size(500000)
	sem := make(chan struct{}, procsAll)
	g := 4 * procsAll
	ns := runAll(g, func() {
		for i := 0; i < n; i++ {
			sem <- struct{}{}
			<-sem
		}
	})
	report("semaphore", ns/(float64(n)*float64(g)), "ns/op")
}

func benchCtx(name string, timeout time.Duration) {
	runtime.GOMAXPROCS(1)
	n := size(1000000)
	bg := context.Background()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		var cancel context.CancelFunc
		if timeout != 0 {
			_, cancel = context.WithTimeout(bg, timeout)
		} else {
			_, cancel = context.WithCancel(bg)
		}
		cancel()
	}
	report(name, float64(time.Since(t0).Nanoseconds())/float64(n), "ns/op")
}

func benchSelectTimeout() {
	runtime.GOMAXPROCS(1)
	n := size(1000000)
	c := make(chan int, 1)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		c <- 1
		t := time.NewTimer(time.Hour)
		select {
		case <-c:
		case <-t.C:
			panic("timeout")
		}
		t.Stop()
	}
	report("select_timeout", float64(time.Since(t0).Nanoseconds())/float64(n), "ns/op")
}

func benchAfter() {
	runtime.GOMAXPROCS(1)
	n := size(200000)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		<-time.After(0)
	}
	report("after_recv", float64(time.Since(t0).Nanoseconds())/float64(n), "ns/op")
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
		{"rwmutex_read", benchRWRead},
		{"rwmutex_mixed", benchRWMixed},
		{"cond_pingpong", benchCond},
		{"semaphore", benchSemaphore},
		{"ctx_cancel", func() { benchCtx("ctx_cancel", 0) }},
		{"ctx_timeout", func() { benchCtx("ctx_timeout", time.Hour) }},
		{"select_timeout", benchSelectTimeout},
		{"after_recv", benchAfter},
	}
	for _, c := range cases {
		if only == "" || strings.Contains(only, c.name) {
			c.fn()
		}
	}
}
