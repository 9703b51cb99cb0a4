// net.go -- Go's side of bench/net.c: a loopback echo ping-pong of 64-byte
// messages over N connections, with package net.  The same three parts
// (driver, --server N, --client N) joined by the same control channel on
// descriptor 3, the same cases and output format, the same histogram, so
// that bench/compare.py can put the two side by side; bench/net.c says
// why it is built this way.
//
//	bench_net_go [--quick] [N...]      (default: 1 100 1000 10000)
package main

import (
	"bufio"
	"fmt"
	"math/bits"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	msgSize     = 64
	dialTimeout = 10 * time.Second
	childAlarm  = 300 * time.Second // beyond the load: a child's last resort
)

var quick bool

func warmup() time.Duration {
	if quick {
		return 10 * time.Millisecond
	}
	return 500 * time.Millisecond
}

// GORT_BENCH_NET_SECONDS, as net.c reads it.
func measure() time.Duration {
	if quick {
		return 50 * time.Millisecond
	}
	secs, err := strconv.ParseFloat(os.Getenv("GORT_BENCH_NET_SECONDS"), 64)
	if err != nil || secs <= 0 || secs > 600 {
		secs = 2
	}
	return time.Duration(secs * 1e9)
}

func maxRounds(n int) int { return 100000000/n + 1000 }

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "bench_net_go: "+format+"\n", a...)
	os.Exit(1)
}

// --- what both children measure ---------------------------------------------

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(data), &size, &res)
	return res * int64(os.Getpagesize())
}

// This process's CPU time, user and system, in microseconds.
func cpuUs() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return (ru.Utime.Sec+ru.Stime.Sec)*1000000 + ru.Utime.Usec + ru.Stime.Usec
}

func nthreads() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	return len(ents)
}

// Go 1.19 raises the soft limit to the hard one by itself; this only says
// so, and checks, as the C side does.
func raiseNofile(need int) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		die("getrlimit: %v", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	if rl.Cur != ^uint64(0) && int(rl.Cur) < need {
		die("%d connections need %d descriptors; RLIMIT_NOFILE allows %d", need-64, need, rl.Cur)
	}
}

// The driver sets Pdeathsig; net.c's alarm(2) is a timer here, the Go way.
func childInit() {
	if os.Getppid() == 1 {
		os.Exit(1)
	}
	limit := childAlarm + measure()
	time.AfterFunc(limit, func() { die("still running after %v: a hang", limit) })
}

// --- the control channel --------------------------------------------------------

type ctl struct {
	c net.Conn
	r *bufio.Reader
}

func openCtl() *ctl {
	f := os.NewFile(3, "ctl")
	c, err := net.FileConn(f)
	if err != nil {
		die("control channel: %v", err)
	}
	f.Close()
	return &ctl{c, bufio.NewReader(c)}
}

func (k *ctl) getline() (string, bool) {
	s, err := k.r.ReadString('\n')
	if err != nil {
		return "", false
	}
	return strings.TrimSuffix(s, "\n"), true
}

func (k *ctl) printf(format string, a ...interface{}) {
	if _, err := fmt.Fprintf(k.c, format, a...); err != nil {
		die("control channel: cannot write: %v", err)
	}
}

// --- the server --------------------------------------------------------------

var openConns int32

func echo(c net.Conn) {
	buf := make([]byte, msgSize)
	for {
		n, err := c.Read(buf)
		if n <= 0 || err != nil {
			break
		}
		if w, err := c.Write(buf[:n]); w != n || err != nil {
			break
		}
	}
	c.Close()
	atomic.AddInt32(&openConns, -1)
}

func acceptor(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Temporary() {
				continue
			}
			die("accept: %v", err)
		}
		atomic.AddInt32(&openConns, 1)
		go echo(c)
	}
}

func serverMain() {
	k := openCtl()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		die("listen: %v", err)
	}
	go acceptor(l)
	k.printf("addr %s\n", l.Addr())
	maxThreads := 0
	for {
		line, ok := k.getline()
		if !ok {
			return
		}
		switch line {
		case "base":
			runtime.GC() // what the C side never has: garbage
			fallthrough
		case "stat":
			if t := nthreads(); t > maxThreads {
				maxThreads = t
			}
			k.printf("conns=%d rss=%d threads=%d cpu=%d\n", atomic.LoadInt32(&openConns), rssBytes(), maxThreads, cpuUs())
		default:
			die("control channel: unknown request %q", line)
		}
	}
}

// --- the latency histogram: net.c's buckets --------------------------------------

const (
	hsub     = 32
	hbuckets = 2*hsub + (40-6)*hsub
)

var hist [hbuckets]uint32

func bucket(v uint64) int {
	if v < 2*hsub {
		return int(v)
	}
	b := 63 - bits.LeadingZeros64(v)
	i := 2*hsub + (b-6)*hsub + int((v>>(b-5))&(hsub-1))
	if i >= hbuckets {
		i = hbuckets - 1
	}
	return i
}

func bucketMid(i int) float64 {
	if i < 2*hsub {
		return float64(i)
	}
	b, sub := (i-2*hsub)/hsub+6, (i-2*hsub)%hsub
	lo, width := float64(uint64(hsub+sub)<<(b-5)), float64(uint64(1)<<(b-5))
	return lo + width/2
}

func histTotal() uint64 {
	var n uint64
	for i := range hist {
		n += uint64(atomic.LoadUint32(&hist[i]))
	}
	return n
}

func histQuantile(q float64) float64 {
	total, seen := histTotal(), uint64(0)
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	if want < 1 {
		want = 1
	}
	for i := range hist {
		seen += uint64(atomic.LoadUint32(&hist[i]))
		if seen >= want {
			return bucketMid(i)
		}
	}
	return bucketMid(hbuckets - 1)
}

// --- the client ---------------------------------------------------------------

var (
	nconns, rounds            int
	ready, finished           sync.WaitGroup
	gate                      = make(chan struct{})
	measuring, stop, failures uint32
	failOnce                  sync.Once
)

func roundtrip(c net.Conn, msg, buf []byte) error {
	if _, err := c.Write(msg); err != nil {
		return err
	}
	for got := 0; got < msgSize; {
		n, err := c.Read(buf[got:])
		if err != nil {
			return err
		}
		got += n
	}
	return nil
}

func fail(what string, err error) {
	atomic.AddUint32(&failures, 1)
	failOnce.Do(func() { fmt.Fprintf(os.Stderr, "bench_net_go: %s: %v\n", what, err) })
}

func pinger(c *net.TCPConn) {
	msg, buf := make([]byte, msgSize), make([]byte, msgSize)
	for i := range msg {
		msg[i] = 'x'
	}
	err := roundtrip(c, msg, buf)
	if err != nil {
		fail("first echo", err)
	}
	ready.Done()
	<-gate
	for i := 0; err == nil && i < rounds && atomic.LoadUint32(&stop) == 0; i++ {
		t0 := time.Now()
		if err = roundtrip(c, msg, buf); err != nil {
			fail("echo", err)
			break
		}
		if atomic.LoadUint32(&measuring) != 0 {
			atomic.AddUint32(&hist[bucket(uint64(time.Since(t0)))], 1)
		}
	}
	c.SetLinger(0) // a reset, not a FIN: see net.c
	c.Close()
	finished.Done()
}

type statReply struct {
	conns, rss int64
	threads    int
	cpu        int64 // microseconds
}

func ask(k *ctl, what string) statReply {
	var s statReply
	k.printf("%s\n", what)
	line, ok := k.getline()
	if !ok {
		die("control channel: no answer to %s", what)
	}
	if n, _ := fmt.Sscanf(line, "conns=%d rss=%d threads=%d cpu=%d", &s.conns, &s.rss, &s.threads, &s.cpu); n != 4 {
		die("control channel: bad answer %q", line)
	}
	return s
}

func report(what string, n int, v float64, unit string) {
	fmt.Printf("case=echo_%s_c%d value=%.4g unit=%s\n", what, n, v, unit)
}

func clientMain() {
	k := openCtl()
	line, ok := k.getline()
	var addr string
	if !ok || !strings.HasPrefix(line, "addr ") {
		die("control channel: no address from the server")
	}
	addr = strings.TrimPrefix(line, "addr ")
	rounds = maxRounds(nconns)
	conns := make([]*net.TCPConn, nconns)
	cthreads := nthreads()

	base := ask(k, "base")
	for i := range conns {
		c, err := net.DialTimeout("tcp4", addr, dialTimeout)
		if err != nil {
			die("dial %s (connection %d): %v", addr, i+1, err)
		}
		conns[i] = c.(*net.TCPConn)
	}
	ready.Add(nconns)
	finished.Add(nconns)
	for _, c := range conns {
		go pinger(c)
	}
	ready.Wait()
	if n := atomic.LoadUint32(&failures); n != 0 {
		die("%d connections failed their first echo", n)
	}

	var idle statReply
	until := time.Now().Add(10 * time.Second)
	for idle = ask(k, "stat"); idle.conns != int64(nconns) && time.Now().Before(until); idle = ask(k, "stat") {
		time.Sleep(10 * time.Millisecond)
	}
	if idle.conns != int64(nconns) {
		die("the server has %d connections of %d", idle.conns, nconns)
	}
	time.Sleep(100 * time.Millisecond)
	idle = ask(k, "stat")

	close(gate)
	time.Sleep(warmup())
	start := ask(k, "stat")
	cpu0 := cpuUs()
	t0 := time.Now()
	atomic.StoreUint32(&measuring, 1)
	time.Sleep(measure())
	atomic.StoreUint32(&measuring, 0)
	elapsed := time.Since(t0)
	cpu1 := cpuUs()
	if t := nthreads(); t > cthreads {
		cthreads = t
	}
	after := ask(k, "stat")
	atomic.StoreUint32(&stop, 1)
	finished.Wait()
	if n := atomic.LoadUint32(&failures); n != 0 {
		die("%d connections failed", n)
	}
	if t := nthreads(); t > cthreads {
		cthreads = t
	}

	report("rps", nconns, float64(histTotal())/elapsed.Seconds(), "req/s")
	report("p50", nconns, histQuantile(0.50)/1e3, "us")
	report("p99", nconns, histQuantile(0.99)/1e3, "us")
	report("threads", nconns, float64(after.threads), "threads")
	report("cthreads", nconns, float64(cthreads), "threads")
	report("idle_rss", nconns, float64(idle.rss-base.rss)/float64(nconns), "bytes/conn")
	report("cpu", nconns, float64(after.cpu-start.cpu+cpu1-cpu0)/float64(histTotal()), "us/req")
}

// --- the driver -------------------------------------------------------------------

func spawn(args []string, end *os.File) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		die("%v", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{end} // descriptor 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		die("start %s: %v", exe, err)
	}
	return cmd
}

// Wait for cmd until the limit; kill it past that.  false if it failed or
// had to be killed.
func reap(cmd *exec.Cmd, limit time.Duration) (bool, string) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		return false, fmt.Sprintf("ran over %v and was killed", limit)
	}
}

func drive(n int) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		die("socketpair: %v", err)
	}
	srv, cli := os.NewFile(uintptr(fds[0]), "srv"), os.NewFile(uintptr(fds[1]), "cli")
	flag := []string{}
	if quick {
		flag = []string{"--quick"}
	}
	ns := strconv.Itoa(n)
	sp := spawn(append([]string{"--server", ns}, flag...), srv)
	cp := spawn(append([]string{"--client", ns}, flag...), cli)
	srv.Close()
	cli.Close()
	limit := time.Duration(120+n/100)*time.Second + measure()
	if quick {
		limit = 60 * time.Second
	}
	cok, cwhy := reap(cp, limit)
	sok, swhy := reap(sp, 10*time.Second)
	if !cok {
		die("the client (%d connections) failed: %s", n, cwhy)
	}
	if !sok {
		die("the server (%d connections) failed: %s", n, swhy)
	}
}

func main() {
	args := os.Args[1:]
	if len(args) > 1 && (args[0] == "--server" || args[0] == "--client") {
		server := args[0] == "--server"
		nconns, _ = strconv.Atoi(args[1])
		quick = len(args) > 2 && args[2] == "--quick"
		if nconns < 1 {
			die("%s N: N must be at least 1", args[0])
		}
		childInit()
		raiseNofile(nconns + 64)
		if server {
			serverMain()
		} else {
			clientMain()
		}
		return
	}
	if len(args) > 0 && args[0] == "--quick" {
		quick, args = true, args[1:]
	}
	ns := []int{1, 100, 1000, 10000}
	if quick {
		ns = []int{1, 10}
	}
	if len(args) > 0 {
		ns = ns[:0]
		for _, a := range args {
			n, _ := strconv.Atoi(a)
			ns = append(ns, n)
		}
	}
	for _, n := range ns {
		drive(n)
	}
}
