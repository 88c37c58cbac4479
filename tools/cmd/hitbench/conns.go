package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/httpapi"
)

// Connection suite sizes: the cases of issue 10. idleClients stays under
// this machine's 20,000 descriptors, which hitbench's side of the
// connections needs too.
const (
	stalledClients = 3000
	idleClients    = 18000
	healthProbes   = 20
)

// connCase is one way of holding many connections open against a server.
type connCase struct {
	name    string
	clients int
	// open opens one client connection and leaves it held.
	open func(addr string, i int) (net.Conn, error)
}

var connCases = []connCase{
	{"stalled one byte short of a full body (8 KiB)", stalledClients, openStalledBody},
	{"stalled one byte short of a full header (16 KiB)", stalledClients, openStalledHeader},
	{"idle keep-alive after one request", idleClients, openIdle},
}

// benchConns holds, for each case, many connections open against a fresh
// standalone server (memory store, default connection cap) and measures
// the server's resident memory and how fast /health answers meanwhile.
func benchConns(ctx context.Context, o options, report io.Writer) error {
	var table strings.Builder
	table.WriteString("| clients hold | connections | server RSS growth | per connection | `/health` p50 / max meanwhile | shed by the cap | accept errors |\n|---|---|---|---|---|---|---|\n")
	for _, c := range connCases {
		row, err := benchConnCase(ctx, o, c)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		table.WriteString(row)
	}
	fmt.Printf("\n%s", table.String())
	_, err := io.WriteString(report, table.String())
	return err
}

func benchConnCase(ctx context.Context, o options, c connCase) (string, error) {
	logFile, err := os.CreateTemp("", "hitbench-conns-*.log")
	if err != nil {
		return "", err
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	svc, addr, err := startServer(ctx, "hitcounter", func(string) []string { return []string{o.serverBin} }, serverEnv("STORE=memory"), logFile)
	if err != nil {
		return "", err
	}
	defer svc.stop()
	if _, err := probeHealth(addr); err != nil { // the server's first request
		return "", err
	}
	pid := svc.cmd.Process.Pid
	before, err := residentKB(pid)
	if err != nil {
		return "", err
	}
	fmt.Printf("hitbench conns: %d clients, %s\n", c.clients, c.name)
	conns := make([]net.Conn, c.clients)
	defer func() {
		for _, conn := range conns {
			if conn != nil {
				conn.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := make(chan int)
	for range 64 {
		wg.Go(func() {
			for i := range next {
				conn, err := c.open(addr, i)
				if err != nil {
					select {
					case errs <- fmt.Errorf("client %d: %w", i, err):
					default:
					}
					continue
				}
				conns[i] = conn
			}
		})
	}
	for i := range c.clients {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return "", err
	default:
	}
	time.Sleep(time.Second) // let the server read what was sent
	after, err := residentKB(pid)
	if err != nil {
		return "", err
	}
	var lat []time.Duration
	for range healthProbes {
		d, err := probeHealth(addr)
		if err != nil {
			return "", fmt.Errorf("/health while the connections are held: %w", err)
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	for i, conn := range conns {
		conn.Close()
		conns[i] = nil
	}
	svc.stop()
	logs, err := os.ReadFile(logFile.Name())
	if err != nil {
		return "", err
	}
	shed := "-"
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(line, `"msg":"stopped"`) {
			if _, v, ok := strings.Cut(line, `"connections_shed":`); ok {
				shed = strings.TrimRight(v, "}")
			}
		}
	}
	acceptErrors := strings.Count(string(logs), "too many open files")
	growth := after - before
	row := fmt.Sprintf("| %s | %d | %.1f MB | %.1f KB | %s / %s | %s | %d |\n", c.name, c.clients,
		float64(growth)/1024, float64(growth)/float64(c.clients), lat[len(lat)/2].Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond), shed, acceptErrors)
	fmt.Print(row)
	return row, nil
}

// openStalledBody sends a create whose body stops one byte short of the
// largest the server accepts.
func openStalledBody(addr string, i int) (net.Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	body := fmt.Sprintf(`{"name":"stalled-%d"`, i)
	body += strings.Repeat(" ", httpapi.MaxBodyBytes-1-len(body))
	_, err = fmt.Fprintf(conn, "POST /counters HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", httpapi.MaxBodyBytes, body)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// openStalledHeader sends a request line and 16 KiB of header fields, then
// nothing more.
func openStalledHeader(addr string, _ int) (net.Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_, err = fmt.Fprintf(conn, "GET /health HTTP/1.1\r\nHost: bench\r\nX-Pad: %s\r\n", strings.Repeat("p", 16<<10-64))
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// openIdle makes one GET /health and keeps the connection open.
func openIdle(addr string, _ int) (net.Conn, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := healthOn(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// probeHealth times GET /health on a new connection, connecting included.
func probeHealth(addr string) (time.Duration, error) {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := healthOn(conn); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// healthOn sends GET /health on conn and reads a 200 answer.
func healthOn(conn net.Conn) error {
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/health: %s", resp.Status)
	}
	return nil
}

// residentKB returns a process's resident memory (VmRSS), in KiB.
func residentKB(pid int) (int, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"))
		}
	}
	return 0, errors.New("no VmRSS")
}
