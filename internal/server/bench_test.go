package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServerIncrement measures the increment path through the whole
// server over loopback TCP: the connection cap and its tracking, net/http,
// the API and the request log (to a discarded output), with keep-alive
// clients that send raw requests. Its second variant adds the standard
// library's write deadline (http.Server.WriteTimeout), armed and cleared on
// every request, to measure what the limiter's answer deadline saves
// (docs/benchmarks.md).
func BenchmarkServerIncrement(b *testing.B) {
	for _, bc := range []struct {
		name    string
		timeout time.Duration // Server.WriteTimeout
	}{
		{"server", 0},
		{"with-WriteTimeout", answerTimeout},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg, err := ConfigFromEnv(func(k string) string {
				return map[string]string{"PORT": "0", "HOST": "127.0.0.1"}[k]
			})
			if err != nil {
				b.Fatal(err)
			}
			m, err := New(context.Background(), cfg, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			m.srv.WriteTimeout = bc.timeout
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			defer func() { cancel(); <-done }()
			addr := strings.TrimPrefix(m.URL(), "http://")
			resp, err := http.Post(m.URL()+"/counters", "application/json", strings.NewReader(`{"name":"bench"}`))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			const req = "POST /counters/bench/increment HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n"
			b.ReportAllocs()
			b.SetParallelism(16) // 32 clients on 2 cores, as make bench's wrk -c32
			b.ResetTimer()
			cpu0 := processCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				for pb.Next() {
					if _, err := io.WriteString(c, req); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Error(fmt.Errorf("status %d", resp.StatusCode))
						return
					}
				}
			})
			// CPU time per request (server and clients, which are the
			// same in every variant) is steadier than wall time on a
			// shared machine.
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU returns the CPU time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
