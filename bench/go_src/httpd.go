// httpd.go -- Go's side of examples/httpd.c, for bench/http.py: the same
// server on net/http, doing the same work, so that the two can be loaded
// side by side.
//
//	httpd_go [ADDRESS]   serve on ADDRESS (default 127.0.0.1:8080) until
//	                     SIGINT or SIGTERM, then shut down cleanly
//
// The same paths with the same answers, byte for byte but for the order of
// the header fields (net/http sorts them): GET and HEAD of "/" (hello from
// gort) and "/count" (this connection's and the server's requests), 405
// for other methods there, 404 elsewhere, and net/http's own 400s for what
// it cannot parse.  The same time limits as httpd.c: a kept-alive
// connection may idle for 60 s, a request must arrive within 10 s of its
// first byte, an answer go out within 10 s -- net/http's IdleTimeout,
// ReadTimeout and WriteTimeout, each a deadline on every request, as
// httpd.c's are.  The same "listening on" line, which bench/http.py reads
// to learn the port when ADDRESS asks for any.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// What httpd.c's server counts: every request answered, on any connection.
var requests uint32

type connKey struct{}

// reply writes an answer as httpd.c makes it: plain text with its length.
// Date is net/http's own, made per answer, as httpd.c makes its own.
func reply(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body)) // net/http drops it for HEAD, and keeps the length
}

func handle(w http.ResponseWriter, r *http.Request) {
	total := atomic.AddUint32(&requests, 1)
	mine := r.Context().Value(connKey{}).(*uint32)
	*mine++ // one goroutine serves a connection's requests, one at a time
	root, count := r.URL.Path == "/", r.URL.Path == "/count"
	switch {
	case !root && !count:
		reply(w, http.StatusNotFound, "404 Not Found\n")
	case r.Method != "GET" && r.Method != "HEAD":
		w.Header().Set("Allow", "GET, HEAD")
		reply(w, http.StatusMethodNotAllowed, "405 Method Not Allowed\n")
	case root:
		reply(w, http.StatusOK, "hello from gort\n")
	default:
		reply(w, http.StatusOK, fmt.Sprintf("request %d on this connection, %d on the server\n", *mine, total))
	}
}

func main() {
	addr := "127.0.0.1:8080"
	if len(os.Args) > 2 || (len(os.Args) == 2 && len(os.Args[1]) > 0 && os.Args[1][0] == '-') {
		fmt.Fprintln(os.Stderr, "usage: httpd_go [ADDRESS]   (default 127.0.0.1:8080)")
		os.Exit(2)
	}
	if len(os.Args) == 2 {
		addr = os.Args[1]
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "httpd: listen %s: %v\n", addr, err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:      http.HandlerFunc(handle),
		IdleTimeout:  60 * time.Second,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, new(uint32))
		},
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	stopped := make(chan struct{})
	go func() {
		name := "SIGTERM"
		if <-sigs == syscall.SIGINT {
			name = "SIGINT"
		}
		fmt.Fprintf(os.Stderr, "httpd: %s, shutting down\n", name)
		srv.Shutdown(context.Background()) // as httpd.c: idle ones now, busy ones after their answer
		close(stopped)
	}()
	fmt.Fprintf(os.Stderr, "httpd: listening on %s\n", l.Addr())
	if err := srv.Serve(l); err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "httpd: %v\n", err)
		os.Exit(1)
	}
	<-stopped
	fmt.Fprintf(os.Stderr, "httpd: shut down after %d requests\n", atomic.LoadUint32(&requests))
}
