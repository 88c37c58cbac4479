package localapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// RIEModule and RIEVersion pin the Lambda Runtime Interface Emulator that
// InstallRIE installs.
const (
	RIEModule  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// InstallRIE returns the path of the pinned aws-lambda-rie binary under
// cacheDir, installing it with `go install` first if it is missing.
func InstallRIE(ctx context.Context, cacheDir string) (string, error) {
	bin := filepath.Join(cacheDir, "rie-"+RIEVersion)
	path := filepath.Join(bin, "aws-lambda-rie")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", RIEModule+"@"+RIEVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("localapi: go install %s@%s: %w\n%s", RIEModule, RIEVersion, err, out)
	}
	return path, nil
}

// errInstanceDied reports that an emulator process ended; the pool replaces it.
var errInstanceDied = errors.New("emulator process exited")

// instance is one aws-lambda-rie process running one bootstrap. It takes one
// invocation at a time (the emulator fails on concurrent ones).
type instance struct {
	url  string // the invoke URL
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	gen  int64         // the pool's generation when it started (pool.recycle)
}

// startAttempts bounds how often startInstance tries new ports: a port
// picked as free can be taken (by a connection's local end, say) before the
// emulator binds it, and the emulator then exits at once.
const startAttempts = 5

// errExitedEarly reports that a process ended before it listened.
var errExitedEarly = errors.New("exited before listening")

// startInstance starts rie running bootstrap with env, both listening on
// loopback ports from pick, and waits until the emulator accepts
// connections. If the emulator exits first (a port was taken between the
// pick and its bind), it tries again on new ports.
func startInstance(ctx context.Context, rie, bootstrap string, env []string, log io.Writer, pick portPicker) (*instance, error) {
	var err error
	for range startAttempts {
		var in *instance
		in, err = tryInstance(ctx, rie, bootstrap, env, log, pick)
		if !errors.Is(err, errExitedEarly) {
			return in, err
		}
	}
	return nil, fmt.Errorf("localapi: emulator for %s, %d attempts on new ports: %w", bootstrap, startAttempts, err)
}

func tryInstance(ctx context.Context, rie, bootstrap string, env []string, log io.Writer, pick portPicker) (*instance, error) {
	ports, err := pick(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	runtimeAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		bootstrap)
	cmd.Env = env
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localapi: start %s: %w", rie, err)
	}
	in := &instance{
		url:  "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		cmd:  cmd,
		done: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		close(in.done)
	}()
	// Both: the emulator may listen on one and then fail to bind the other.
	for _, addr := range []string{invokeAddr, runtimeAddr} {
		if err := waitListening(ctx, addr, in.done); err != nil {
			in.stop()
			return nil, fmt.Errorf("localapi: emulator for %s: %w", bootstrap, err)
		}
	}
	return in, nil
}

// invoke sends one event and returns the emulator's answer: the function's
// response, or its error object ({"errorMessage","errorType"}), with
// functionError set in that case.
func (in *instance) invoke(ctx context.Context, client *http.Client, payload []byte) (body []byte, functionError bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, bytes.NewReader(payload))
	if err != nil {
		return nil, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		select {
		case <-in.done:
			return nil, false, errInstanceDied
		default:
			return nil, false, err
		}
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, err
	}
	// A function error comes back as 200 with an error object; an init
	// error (the runtime reported one, or exited) as 502 with one.
	functionError = resp.Header.Get("X-Amz-Function-Error") != "" || isErrorObject(body)
	if resp.StatusCode != http.StatusOK && !functionError {
		return nil, false, fmt.Errorf("emulator answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, functionError, nil
}

// alive reports whether the process is still running.
func (in *instance) alive() bool {
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

// stop ends the emulator and the runtime it started: SIGTERM to the
// process group, SIGKILL if it has not exited within a second.
func (in *instance) stop() {
	if !in.alive() {
		return
	}
	pgid := in.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-in.done
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // the bootstrap, if it outlived the emulator
}

// pool holds the idle instances of one function and starts replacements
// for the ones that die, or that a recycle retired.
type pool struct {
	name string
	idle chan *instance
	// start launches a new instance.
	start func(ctx context.Context) (*instance, error)

	mu  sync.Mutex
	all map[*instance]bool
	gen int64 // recycles so far: an instance of an older generation is retired when next taken
}

func newPool(ctx context.Context, name string, size int, start func(context.Context) (*instance, error)) (*pool, error) {
	p := &pool{name: name, idle: make(chan *instance, size), start: start, all: map[*instance]bool{}}
	for range size {
		in, err := p.launch(ctx)
		if err != nil {
			p.close()
			return nil, err
		}
		p.idle <- in
	}
	return p, nil
}

func (p *pool) launch(ctx context.Context) (*instance, error) {
	in, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	in.gen = p.gen
	p.all[in] = true
	p.mu.Unlock()
	return in, nil
}

// current reports whether in is alive and of the pool's generation.
func (p *pool) current(in *instance) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return in.alive() && in.gen == p.gen
}

// recycle retires every instance the pool has, as Lambda recycles a
// function's execution environments: the idle ones are stopped now, the
// busy ones when their invocation ends, and each is replaced by a fresh
// one (a cold start) when next needed.
func (p *pool) recycle() {
	p.mu.Lock()
	p.gen++
	p.mu.Unlock()
	for range cap(p.idle) {
		select {
		case in := <-p.idle:
			p.forget(in)
			p.idle <- deadInstance()
		default: // the others are busy
			return
		}
	}
}

// invoke runs payload on an idle instance, waiting for one if all are busy
// (requests queue, as they would for a function at its concurrency limit).
func (p *pool) invoke(ctx context.Context, client *http.Client, payload []byte) ([]byte, bool, error) {
	var in *instance
	select {
	case in = <-p.idle:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if !p.current(in) {
		p.forget(in)
		var err error
		if in, err = p.launch(ctx); err != nil {
			p.idle <- deadInstance() // keep the pool's size; the next caller retries
			return nil, false, err
		}
	}
	body, fnErr, err := in.invoke(ctx, client, payload)
	switch {
	case err != nil && !in.alive():
		// The runtime crashed (e.g. os.Exit in the function): replace it.
		p.forget(in)
		if fresh, lerr := p.launch(context.WithoutCancel(ctx)); lerr == nil {
			in = fresh
		} else {
			in = deadInstance()
		}
	case !p.current(in):
		// Retired by a recycle during the invocation: the next caller
		// starts a fresh one.
		p.forget(in)
		in = deadInstance()
	}
	p.idle <- in
	return body, fnErr, err
}

func (p *pool) forget(in *instance) {
	in.stop()
	p.mu.Lock()
	delete(p.all, in)
	p.mu.Unlock()
}

// close stops every instance of the pool.
func (p *pool) close() {
	p.mu.Lock()
	all := p.all
	p.all = map[*instance]bool{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for in := range all {
		wg.Go(in.stop)
	}
	wg.Wait()
}

// deadInstance is a placeholder for an instance that could not be started.
func deadInstance() *instance {
	done := make(chan struct{})
	close(done)
	return &instance{done: done}
}

// waitListening polls addr until it accepts a TCP connection, the process
// exits (exited is closed) or ctx ends.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errExitedEarly
		case <-ctx.Done():
			return fmt.Errorf("not listening on %s: %w", addr, ctx.Err())
		case <-time.After(5 * time.Millisecond): // nothing to wait on but the port
		}
	}
}

// portPicker returns n distinct loopback ports, free when it was called.
type portPicker func(n int) ([]int, error)

// freePorts returns n distinct free loopback ports. Nothing holds them once
// it returns: whoever binds them must retry with others if that fails.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("localapi: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
