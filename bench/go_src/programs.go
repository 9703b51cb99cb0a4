// programs.go -- Go's side of bench/programs.c: the same whole programs and
// the same ports of Go's channel benchmarks, case for case and line for
// line (programs.c's header says what each case is and what its ops are).
// bench/whole.py runs the two one case per process and times the process.
//
//	bench_programs_go [--quick] CASE     (GOMAXPROCS sets the Ps)
//	bench_programs_go --list
//
// It prints `case=<name> ops=<N>`, `case=<name> value=<ns> unit=ns/op`
// (the time inside the process, from the case's start to its check) and
// `case=<name> value=<KiB> unit=peak_rss_kb` (VmHWM); a wrong result is a
// message on stderr and exit status 1.  --quick: every size a thousandth
// (at least 1), results still checked.
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

var quick bool

func size(n int) int {
	if quick {
		n /= 1000
		if n < 1 {
			n = 1
		}
	}
	return n
}

func fail(name, format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "bench_programs_go: %s: %s\n", name, fmt.Sprintf(format, a...))
	os.Exit(1)
}

// --- skynet: 1M goroutines in a 10-ary tree ---------------------------------

const skynetLeaves = 1000000

func skynet(c chan int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sum := 0
	for i := 0; i < div; i++ {
		subNum := num + i*(size/div)
		go skynet(rc, subNum, size/div, div)
	}
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func caseSkynet() int {
	n := size(skynetLeaves)
	c := make(chan int)
	go skynet(c, 0, n, 10)
	sum := <-c
	if want := n * (n - 1) / 2; sum != want {
		fail("skynet", "sum %d, want %d", sum, want)
	}
	return (10*n - 1) / 9 // goroutines: the leaves and the inner nodes
}

// --- whispers: a chain of 100k goroutines ------------------------------------

const whispersN = 100000

func whisper(left, right chan int) {
	left <- 1 + <-right
}

func caseWhispers() int {
	n := size(whispersN)
	leftmost := make(chan int)
	right := leftmost
	left := leftmost
	for i := 0; i < n; i++ {
		right = make(chan int)
		go whisper(left, right)
		left = right
	}
	go func(c chan int) { c <- 1 }(right)
	if v := <-leftmost; v != n+1 {
		fail("whispers", "%d, want %d", v, n+1)
	}
	return n
}

// --- prodcons: N producers, N consumers, one channel of 128 ------------------

const prodconsValues = 8000000

func prodcons(name string, np int) int {
	n := size(prodconsValues)
	c := make(chan int, 128)
	sums := make(chan int, np)
	var producers sync.WaitGroup
	producers.Add(np)
	for p := 0; p < np; p++ {
		go func(lo, hi int) {
			for i := lo; i < hi; i++ {
				c <- i
			}
			producers.Done()
		}(n*p/np, n*(p+1)/np)
	}
	for q := 0; q < np; q++ {
		go func() {
			sum := 0
			for v := range c {
				sum += v
			}
			sums <- sum
		}()
	}
	producers.Wait()
	close(c)
	sum := 0
	for q := 0; q < np; q++ {
		sum += <-sums
	}
	if want := n * (n - 1) / 2; sum != want {
		fail(name, "sum %d, want %d", sum, want)
	}
	return n
}

func caseProdcons1() int  { return prodcons("prodcons1", 1) }
func caseProdcons4() int  { return prodcons("prodcons4", 4) }
func caseProdcons16() int { return prodcons("prodcons16", 16) }

// --- mutex: 8 goroutines, one counter, one sync.Mutex ------------------------

const (
	mutexIncrements = 8000000
	mutexG          = 8
)

var (
	mu      sync.Mutex
	counter int
)

func caseMutex() int {
	n := size(mutexIncrements)
	var wg sync.WaitGroup
	wg.Add(mutexG)
	for g := 0; g < mutexG; g++ {
		go func(k int) {
			for i := 0; i < k; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}(n*(g+1)/mutexG - n*g/mutexG)
	}
	wg.Wait()
	if counter != n {
		fail("mutex", "counter %d, want %d", counter, n)
	}
	return n
}

// --- psum: divide and conquer, a goroutine per half --------------------------

const (
	psumN    = 1 << 27
	psumLeaf = 4096
)

func psum(lo, hi int, out chan int) {
	if hi-lo <= psumLeaf {
		s := 0
		for i := lo; i < hi; i++ {
			s += i
		}
		out <- s
		return
	}
	mid := lo + (hi-lo)/2
	c := make(chan int, 2)
	go psum(lo, mid, c)
	go psum(mid, hi, c)
	out <- <-c + <-c
}

func casePsum() int {
	n := size(psumN)
	out := make(chan int, 1)
	go psum(0, n, out)
	if sum, want := <-out, n*(n-1)/2; sum != want {
		fail("psum", "sum %d, want %d", sum, want)
	}
	return psumNodes(0, n)
}

// The goroutines psum(lo, hi) starts, itself included.
func psumNodes(lo, hi int) int {
	if hi-lo <= psumLeaf {
		return 1
	}
	mid := lo + (hi-lo)/2
	return 1 + psumNodes(lo, mid) + psumNodes(mid, hi)
}

// --- sieve: test/chan/sieve1.go to the 5,000th prime -------------------------

const sievePrimes = 5000

// Send the sequence 2, 3, 4, ... to channel 'ch'.
func Generate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i // Send 'i' to channel 'ch'.
	}
}

// Copy the values from channel 'in' to channel 'out',
// removing those divisible by 'prime'.
func Filter(in <-chan int, out chan<- int, prime int) {
	for i := range in { // Loop over values received from 'in'.
		if i%prime != 0 {
			out <- i // Send 'i' to channel 'out'.
		}
	}
}

// The prime sieve: Daisy-chain Filter processes together.
func Sieve(primes chan<- int) {
	ch := make(chan int) // Create a new channel.
	go Generate(ch)      // Start Generate() as a subprocess.
	for {
		// Note that ch is different on each iteration.
		prime := <-ch
		primes <- prime
		ch1 := make(chan int)
		go Filter(ch, ch1, prime)
		ch = ch1
	}
}

// The nth prime by trial division: what the sieve must find.
func nthPrime(n int) int {
	p := 1
	for k := 0; k < n; {
		p++
		prime := true
		for d := 2; d*d <= p; d++ {
			if p%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			k++
		}
	}
	return p
}

func caseSieve() int {
	n := size(sievePrimes)
	primes := make(chan int)
	go Sieve(primes)
	x := 0
	for i := 0; i < n; i++ {
		x = <-primes
	}
	want := nthPrime(n)
	if n == sievePrimes && want != 48611 {
		fail("sieve", "trial division says the %dth prime is %d, not 48611", n, want)
	}
	if x != want {
		fail("sieve", "the %dth prime is %d, want %d", n, x, want)
	}
	return n
	// The sieve's goroutines block for ever now; main's return ends them.
}

// --- Go's channel benchmarks: $GOROOT/src/runtime/chan_test.go ----------------
//
// b.N is a fixed N per case, the same on both sides.  b.RunParallel is
// runParallel: GOMAXPROCS goroutines taking iterations from one shared
// counter, grain at a time, as testing.PB.Next does; the grain is fixed per
// case, what RunParallel would pick on this machine (about 100 us of
// iterations, at most 1e4).  A PB also counts the iterations it ran, which
// the checks add up.

type PB struct {
	globalN *uint64 // shared between all worker goroutines iteration counter
	grain   uint64  // acquire that many iterations from globalN at once
	cache   uint64  // local cache of acquired iterations
	bN      uint64  // total number of iterations to execute (b.N)
	ran     uint64  // iterations this PB handed out (for the check)
}

// Next reports whether there are more iterations to execute.
func (pb *PB) Next() bool {
	if pb.cache == 0 {
		n := atomic.AddUint64(pb.globalN, pb.grain)
		if n <= pb.bN {
			pb.cache = pb.grain
		} else if n < pb.bN+pb.grain {
			pb.cache = pb.bN + pb.grain - n
		} else {
			return false
		}
	}
	pb.cache--
	pb.ran++
	return true
}

func runParallel(name string, bN int, grain uint64, body func(*PB)) {
	n := uint64(0)
	ran := uint64(0)
	numProcs := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	wg.Add(numProcs)
	for p := 0; p < numProcs; p++ {
		go func() {
			defer wg.Done()
			pb := &PB{
				globalN: &n,
				grain:   grain,
				bN:      uint64(bN),
			}
			body(pb)
			atomic.AddUint64(&ran, pb.ran)
		}()
	}
	wg.Wait()
	if n <= uint64(bN) {
		fail(name, "RunParallel: body exited without pb.Next() == false")
	}
	if ran != uint64(bN) {
		fail(name, "RunParallel ran %d iterations, want %d", ran, bN)
	}
}

var (
	alwaysFalse = false
	workSink    = 0
)

func localWork(w int) {
	foo := 0
	for i := 0; i < w; i++ {
		foo /= (foo + 1)
	}
	if alwaysFalse {
		workSink += foo
	}
}

// benchmarkChanProdCons; c carries each goroutine's count (a consumer's
// values received) instead of foo == 42, for the check.
func chanProdCons(name string, bN, chanSize, localWork int) int {
	const CallsPerSched = 1000
	procs := runtime.GOMAXPROCS(-1)
	N := int32(bN / CallsPerSched)
	want := int(N) * CallsPerSched
	c := make(chan int, 2*procs)
	myc := make(chan int, chanSize)
	for p := 0; p < procs; p++ {
		go func() {
			foo := 0
			for atomic.AddInt32(&N, -1) >= 0 {
				for g := 0; g < CallsPerSched; g++ {
					for i := 0; i < localWork; i++ {
						foo *= 2
						foo /= 2
					}
					myc <- 1
				}
			}
			myc <- 0
			c <- foo
		}()
		go func() {
			foo := 0
			got := 0
			for {
				v := <-myc
				if v == 0 {
					break
				}
				got++
				for i := 0; i < localWork; i++ {
					foo *= 2
					foo /= 2
				}
			}
			c <- foo + got
		}()
	}
	got := 0
	for p := 0; p < procs; p++ {
		got += <-c
		got += <-c
	}
	if got != want {
		fail(name, "consumers received %d values, want %d", got, want)
	}
	return bN
}

const (
	nChanProdCons0   = 3000000
	nChanProdCons10  = 6000000
	nChanProdCons100 = 10000000
)

func caseChanProdCons0() int {
	return chanProdCons("ChanProdCons0", size(nChanProdCons0), 0, 0)
}

func caseChanProdCons10() int {
	return chanProdCons("ChanProdCons10", size(nChanProdCons10), 10, 0)
}

func caseChanProdCons100() int {
	return chanProdCons("ChanProdCons100", size(nChanProdCons100), 100, 0)
}

// benchmarkChanSync; c carries each goroutine's batches done.
func chanSync(name string, bN, work int) int {
	const CallsPerSched = 1000
	procs := 2
	N := int32(bN / CallsPerSched / procs * procs)
	want := int(N)
	c := make(chan int, procs)
	myc := make(chan int)
	for p := 0; p < procs; p++ {
		go func() {
			done := 0
			for {
				i := atomic.AddInt32(&N, -1)
				if i < 0 {
					break
				}
				for g := 0; g < CallsPerSched; g++ {
					if i%2 == 0 {
						<-myc
						localWork(work)
						myc <- 0
						localWork(work)
					} else {
						myc <- 0
						localWork(work)
						<-myc
						localWork(work)
					}
				}
				done++
			}
			c <- done
		}()
	}
	done := 0
	for p := 0; p < procs; p++ {
		done += <-c
	}
	if done != want {
		fail(name, "%d batches done, want %d", done, want)
	}
	return bN
}

const nChanSync = 3000000

func caseChanSync() int { return chanSync("ChanSync", size(nChanSync), 0) }

const (
	nChanContended = 100000
	gChanContended = 17
)

func caseChanContended() int {
	bN := size(nChanContended)
	const C = 100
	myc := make(chan int, C*runtime.GOMAXPROCS(0))
	runParallel("ChanContended", bN, gChanContended, func(pb *PB) {
		for pb.Next() {
			for i := 0; i < C; i++ {
				myc <- 0
			}
			for i := 0; i < C; i++ {
				<-myc
			}
		}
	})
	if len(myc) != 0 {
		fail("ChanContended", "%d values left in the channel", len(myc))
	}
	return bN
}

const (
	nChanUncontended = 100000
	gChanUncontended = 18
)

func caseChanUncontended() int {
	bN := size(nChanUncontended)
	const C = 100
	runParallel("ChanUncontended", bN, gChanUncontended, func(pb *PB) {
		myc := make(chan int, C)
		for pb.Next() {
			for i := 0; i < C; i++ {
				myc <- 0
			}
			for i := 0; i < C; i++ {
				<-myc
			}
		}
		if len(myc) != 0 {
			fail("ChanUncontended", "%d values left in a channel", len(myc))
		}
	})
	return bN
}

const (
	nSelectUncontended = 5000000
	gSelectUncontended = 750
)

func caseSelectUncontended() int {
	bN := size(nSelectUncontended)
	runParallel("SelectUncontended", bN, gSelectUncontended, func(pb *PB) {
		myc1 := make(chan int, 1)
		myc2 := make(chan int, 1)
		myc1 <- 0
		for pb.Next() {
			select {
			case <-myc1:
				myc2 <- 0
			case <-myc2:
				myc1 <- 0
			}
		}
		if len(myc1)+len(myc2) != 1 {
			fail("SelectUncontended", "%d values in a worker's two channels, want 1",
				len(myc1)+len(myc2))
		}
	})
	return bN
}

const (
	nSelectSyncContended = 1000000
	gSelectSyncContended = 130
)

func caseSelectSyncContended() int {
	bN := size(nSelectSyncContended)
	myc1 := make(chan int)
	myc2 := make(chan int)
	myc3 := make(chan int)
	done := make(chan int)
	runParallel("SelectSyncContended", bN, gSelectSyncContended, func(pb *PB) {
		go func() {
			for {
				select {
				case myc1 <- 0:
				case myc2 <- 0:
				case myc3 <- 0:
				case <-done:
					return
				}
			}
		}()
		for pb.Next() {
			select {
			case <-myc1:
			case <-myc2:
			case <-myc3:
			}
		}
	})
	close(done)
	return bN
}

const (
	nSelectAsyncContended = 5000000
	gSelectAsyncContended = 780
)

func caseSelectAsyncContended() int {
	bN := size(nSelectAsyncContended)
	procs := runtime.GOMAXPROCS(0)
	myc1 := make(chan int, procs)
	myc2 := make(chan int, procs)
	runParallel("SelectAsyncContended", bN, gSelectAsyncContended, func(pb *PB) {
		myc1 <- 0
		for pb.Next() {
			select {
			case <-myc1:
				myc2 <- 0
			case <-myc2:
				myc1 <- 0
			}
		}
	})
	if len(myc1)+len(myc2) != procs {
		fail("SelectAsyncContended", "%d values in the two channels, want %d",
			len(myc1)+len(myc2), procs)
	}
	return bN
}

const (
	nChanCreation = 6000000
	gChanCreation = 1100
)

func caseChanCreation() int {
	bN := size(nChanCreation)
	runParallel("ChanCreation", bN, gChanCreation, func(pb *PB) {
		for pb.Next() {
			myc := make(chan int, 1)
			myc <- 0
			<-myc
		}
	})
	return bN
}

const (
	nChanSem = 20000000
	gChanSem = 3000
)

func caseChanSem() int {
	bN := size(nChanSem)
	type Empty struct{}
	myc := make(chan Empty, runtime.GOMAXPROCS(0))
	runParallel("ChanSem", bN, gChanSem, func(pb *PB) {
		for pb.Next() {
			myc <- Empty{}
			<-myc
		}
	})
	if len(myc) != 0 {
		fail("ChanSem", "%d values left in the channel", len(myc))
	}
	return bN
}

var cases = []struct {
	name string
	fn   func() int
}{
	{"skynet", caseSkynet},
	{"whispers", caseWhispers},
	{"prodcons1", caseProdcons1},
	{"prodcons4", caseProdcons4},
	{"prodcons16", caseProdcons16},
	{"mutex", caseMutex},
	{"psum", casePsum},
	{"sieve", caseSieve},
	{"ChanProdCons0", caseChanProdCons0},
	{"ChanProdCons10", caseChanProdCons10},
	{"ChanProdCons100", caseChanProdCons100},
	{"ChanSync", caseChanSync},
	{"ChanContended", caseChanContended},
	{"ChanUncontended", caseChanUncontended},
	{"SelectSyncContended", caseSelectSyncContended},
	{"SelectAsyncContended", caseSelectAsyncContended},
	{"SelectUncontended", caseSelectUncontended},
	{"ChanCreation", caseChanCreation},
	{"ChanSem", caseChanSem},
}

// The peak resident set, KiB: VmHWM of /proc/self/status (programs.c's
// peak_rss_kb says why not ru_maxrss).
func peakRSSKB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb int
		if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
			return kb
		}
	}
	return -1
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bench_programs_go [--quick] CASE | --list")
	os.Exit(2)
}

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--quick" {
		quick, args = true, args[1:]
	}
	if len(args) != 1 {
		usage()
	}
	if args[0] == "--list" {
		for _, c := range cases {
			fmt.Println(c.name)
		}
		return
	}
	for _, c := range cases {
		if c.name == args[0] {
			t0 := time.Now()
			ops := c.fn()
			ns := time.Since(t0).Nanoseconds()
			fmt.Printf("case=%s ops=%d\n", c.name, ops)
			fmt.Printf("case=%s value=%.4g unit=ns/op\n", c.name, float64(ns)/float64(ops))
			if kb := peakRSSKB(); kb >= 0 {
				fmt.Printf("case=%s value=%d unit=peak_rss_kb\n", c.name, kb)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "bench_programs_go: no case %q (--list names them)\n", args[0])
	os.Exit(2)
}
