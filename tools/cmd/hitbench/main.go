// Command hitbench measures the hitcounter server under load beside a
// baseline in the same run and prints requests/s, p50 and p99 latency and
// the ratio to the baseline. `make bench` runs it; see docs/benchmarks.md.
//
// Load comes from wrk (Debian package wrk), one thread, so that the load
// generator and the server under test each get one of the machine's cores.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "serve-baseline" {
		ln, err := net.Listen("tcp", os.Args[2])
		if err == nil {
			err = serveBaseline(ln)
		}
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hitbench:", err)
		os.Exit(1)
	}
}

type options struct {
	serverBin   string
	duration    time.Duration
	rounds      int
	connections int
	endpoints   []string
	out         string
	targets     string  // file of target rows (recordTarget); "" for none
	dataDir     string  // where the file suite puts its data file ("" for the system's temporary directory)
	keyLimit    float64 // hot suite: per-key write units a second
	userAgent   string  // sent with every request; "" for none
}

// browserAgent is the User-Agent hitbench sends by default: a browser's,
// as the views a counter counts come with, so that the server's crawler
// check and visitor hash see what they see in use. wrk sends none.
const browserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func run() error {
	var o options
	var endpoints string
	flag.StringVar(&o.serverBin, "server", "", "path of the built hitcounter server binary (required)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each wrk run")
	flag.IntVar(&o.rounds, "rounds", 3, "alternating rounds per side; the median is reported")
	flag.IntVar(&o.connections, "c", 32, "concurrent connections")
	flag.StringVar(&endpoints, "endpoints", "increment,get,list", "endpoints to measure")
	flag.StringVar(&o.out, "out", "", "also append the markdown table to this file")
	flag.StringVar(&o.userAgent, "user-agent", browserAgent, "User-Agent of every request, to both sides (\"\": none, as wrk alone)")
	flag.Float64Var(&o.keyLimit, "key-limit", 20, "hot suite: the write units a second each key takes (reads: 3x)")
	flag.StringVar(&o.targets, "targets", "", "append each figure that has a project target, with the target and whether it holds, to this file")
	flag.StringVar(&o.dataDir, "data-dir", "", "directory for the file suite's data file: on the disk to measure, not a tmpfs (default: the system's temporary directory)")
	suite := flag.String("suite", "memory", "memory: server vs bare net/http; dynamodb: store and server vs a raw SDK loop; listing: increments alone vs while clients list, 200,000 counters; conns: server memory and /health while thousands of connections stall or idle; file: the durable file store vs the memory store; hot: one counter behind a per-key throttle, shards off vs on")
	flag.Parse()
	o.endpoints = strings.Split(endpoints, ",")
	if o.serverBin == "" {
		return errors.New("-server is required")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx := context.Background()
	suites := map[string]func(context.Context, options, io.Writer) error{
		"listing":  benchListing,
		"conns":    benchConns,
		"dynamodb": benchDynamoDB,
		"file":     benchFile,
		"hot":      benchHot,
	}
	if bench, ok := suites[*suite]; ok {
		report, closeReport, err := openReport(o.out)
		if err != nil {
			return err
		}
		defer closeReport()
		return bench(ctx, o, report)
	}
	if *suite != "memory" {
		return fmt.Errorf("unknown suite %q", *suite)
	}

	base, baseAddr, err := startServer(ctx, "baseline", func(addr string) []string { return []string{self, "serve-baseline", addr} },
		func(string) []string { return nil }, io.Discard)
	if err != nil {
		return err
	}
	defer base.stop()
	logFile, err := os.CreateTemp("", "hitbench-server-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	svc, svcAddr, err := startServer(ctx, "hitcounter", func(string) []string { return []string{o.serverBin} }, serverEnv("STORE=memory"), logFile)
	if err != nil {
		return err
	}
	defer svc.stop()
	if err := seed(baseAddr, true); err != nil {
		return fmt.Errorf("seed baseline: %w", err)
	}
	if err := seed(svcAddr, false); err != nil {
		return fmt.Errorf("seed server: %w", err)
	}

	fmt.Printf("hitbench: %d connections, %d x %s per side, alternating; wrk -t1; server logs every request to %s\n",
		o.connections, o.rounds, o.duration, logFile.Name())
	var table strings.Builder
	fmt.Fprintf(&table, "| endpoint | baseline req/s | server req/s | ratio (median of rounds) | CPU/request ratio | baseline p50 / p99 | server p50 / p99 |\n|---|---|---|---|---|---|---|\n")
	for _, ep := range o.endpoints {
		var bs, ss []result
		var ratios, cpuRatios []float64
		for round := range o.rounds {
			b, err := loadMeasured(ctx, base, baseAddr, ep, o)
			if err != nil {
				return fmt.Errorf("baseline %s: %w", ep, err)
			}
			s, err := loadMeasured(ctx, svc, svcAddr, ep, o)
			if err != nil {
				return fmt.Errorf("server %s: %w", ep, err)
			}
			fmt.Printf("  %-9s round %d: baseline %8.0f req/s (%5.1f µs CPU/req), server %8.0f req/s (%5.1f µs CPU/req): %.2fx\n",
				ep, round+1, b.rps, b.cpuPerReq, s.rps, s.cpuPerReq, s.rps/b.rps)
			bs, ss = append(bs, b), append(ss, s)
			ratios = append(ratios, s.rps/b.rps)
			cpuRatios = append(cpuRatios, b.cpuPerReq/s.cpuPerReq)
		}
		b, s := median(bs), median(ss)
		if ep == "increment" {
			if err := recordTarget(o.targets, "standalone server (memory, request log on) increment vs bare net/http, req/s", medianOf(ratios), true, 0.8); err != nil {
				return err
			}
		}
		fmt.Fprintf(&table, "| %s | %.0f | %.0f | **%.2fx** | %.2fx | %s / %s | %s / %s |\n", ep, b.rps, s.rps, medianOf(ratios),
			medianOf(cpuRatios), b.p50, b.p99, s.p50, s.p99)
	}
	peak, _ := peakRSS(svc.cmd.Process.Pid)
	lines, _ := countLines(logFile.Name())
	fmt.Printf("\n%s\nserver peak RSS (VmHWM): %s; request log lines written: %d\n", table.String(), peak, lines)
	if o.out != "" {
		f, err := os.OpenFile(o.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(f, "%s\nServer peak RSS (VmHWM) after the runs: %s.\n", table.String(), peak)
	}
	return nil
}

// result is one wrk run.
type result struct {
	rps       float64
	requests  int64 // answered, all 2xx (load fails otherwise)
	p50, p99  string
	non2xx    int
	cpuPerReq float64 // server CPU time (user+system) per request, µs
}

// loadMeasured runs load and also measures the CPU time the server process
// p spent per request: steadier than requests/s on a shared machine.
func loadMeasured(ctx context.Context, p *process, addr, endpoint string, o options) (result, error) {
	before, err := cpuTime(p.cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	r, err := load(ctx, addr, endpoint, o)
	if err != nil {
		return r, err
	}
	after, err := cpuTime(p.cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	r.cpuPerReq = (after - before).Seconds() * 1e6 / (r.rps * o.duration.Seconds())
	return r, nil
}

// cpuTime returns the user+system CPU time of a process, from /proc.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after ")".
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

func median(rs []result) result {
	slices.SortFunc(rs, func(a, b result) int {
		switch {
		case a.rps < b.rps:
			return -1
		case a.rps > b.rps:
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

var (
	rpsRE    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reqsRE   = regexp.MustCompile(`(\d+) requests in `)
	pctRE    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+(\S+)`)
	non2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
)

// load runs wrk against one endpoint of the server at addr.
func load(ctx context.Context, addr, endpoint string, o options) (result, error) {
	url := "http://" + addr
	script := ""
	switch endpoint {
	case "increment":
		url += "/counters/bench/increment"
		script = `wrk.method = "POST"`
	case "get":
		url += "/counters/bench"
	case "list":
		url += "/counters?limit=100"
	case "increment-server":
		url += "/counters/server/increment"
		script = `wrk.method = "POST"`
	default:
		return result{}, fmt.Errorf("unknown endpoint %q", endpoint)
	}
	args := []string{"-t1", "-c" + strconv.Itoa(o.connections), "-d" + strconv.Itoa(max(1, int(o.duration.Seconds()))) + "s", "--latency"}
	if o.userAgent != "" {
		args = append(args, "-H", "User-Agent: "+o.userAgent)
	}
	if script != "" {
		f, err := os.CreateTemp("", "hitbench-*.lua")
		if err != nil {
			return result{}, err
		}
		defer os.Remove(f.Name())
		_, _ = f.WriteString(script + "\n")
		f.Close()
		args = append(args, "-s", f.Name())
	}
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var r result
	m := rpsRE.FindSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("wrk output without Requests/sec: %s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := reqsRE.FindSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	for _, m := range pctRE.FindAllSubmatch(out, -1) {
		switch string(m[1]) {
		case "50":
			r.p50 = string(m[2])
		case "99":
			r.p99 = string(m[2])
		}
	}
	if m := non2xxRE.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
		return r, fmt.Errorf("%d non-2xx responses: %s", r.non2xx, out)
	}
	return r, nil
}

// seed creates the counter "bench" and 100 more for listing.
func seed(addr string, baseline bool) error {
	names := []string{"bench"}
	for i := range 100 {
		names = append(names, fmt.Sprintf("c%03d", i))
	}
	for _, name := range names {
		var resp *http.Response
		var err error
		if baseline {
			resp, err = http.Post("http://"+addr+"/counters?name="+name, "", nil)
		} else {
			resp, err = http.Post("http://"+addr+"/counters", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
		}
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("create %s: %s", name, resp.Status)
		}
	}
	return nil
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// startServer starts a server process listening on a free loopback
// address, which argv and env receive, and waits until it accepts
// connections. A port picked as free can be taken before the server binds
// it; the server then exits, and another port is tried.
func startServer(ctx context.Context, name string, argv func(addr string) []string, env func(port string) []string, out io.Writer) (*process, string, error) {
	const attempts = 5
	var err error
	for range attempts {
		addr := freeAddr()
		_, port, _ := net.SplitHostPort(addr)
		var p *process
		if p, err = startProcess(ctx, name, argv(addr), env(port), out); err != nil {
			return nil, "", err
		}
		if err = waitReady(addr, p); err == nil {
			return p, addr, nil
		}
		p.stop()
		if !errors.Is(err, errExited) {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("%s: %d attempts on new ports: %w", name, attempts, err)
}

// serverEnv is the environment of the standalone server on port, plus
// extra variables.
func serverEnv(extra ...string) func(port string) []string {
	return func(port string) []string {
		return append([]string{"PORT=" + port, "HOST=127.0.0.1"}, extra...)
	}
}

func startProcess(ctx context.Context, name string, argv, env []string, out io.Writer) (*process, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop interrupts the process, kills it after 5 s, and waits for it to
// exit. It may be called more than once.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// errExited reports that a server exited before it listened.
var errExited = errors.New("exited before listening")

// waitReady waits until addr accepts connections, for at most 10 s, or
// until p exits.
func waitReady(addr string, p *process) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return errExited
		case <-time.After(20 * time.Millisecond): // a listener sends no signal
		}
	}
	return fmt.Errorf("%s did not start listening", addr)
}

// peakRSS returns VmHWM from /proc.
func peakRSS(pid int) (string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no VmHWM")
}

func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(data, []byte("\n")), nil
}
