package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

// ErrNoJava is returned by Start when java is not on PATH.
var ErrNoJava = errors.New("dynamolocal: java not found on PATH: install Java 17+ (apt-get install -y openjdk-17-jre-headless)")

// Options configure a DynamoDB Local server.
type Options struct {
	// Dir is where DynamoDB Local is installed; "" means CacheDir().
	Dir string
	// Port is the loopback port to listen on; 0 picks a free one.
	Port int
	// DBPath, if set, makes the server keep its data in files in this
	// directory (-dbPath), so it survives Kill and Restart; otherwise the
	// data lives in memory (-inMemory) and dies with the process.
	DBPath string
	// Log receives the server's output; nil keeps only the last few KB, for
	// error messages.
	Log io.Writer

	// pickPort picks the port when Port is 0; nil means freePort. Tests
	// make it collide.
	pickPort func() (int, error)
}

// Server is a running (or stopped) DynamoDB Local process.
type Server struct {
	java, dir string
	opts      Options
	endpoint  string
	external  bool // an endpoint from EndpointEnv: not ours to start or stop

	mu   sync.Mutex
	proc *process // nil when not running
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's error, set before done is closed
	out  *tail
}

// Start installs DynamoDB Local if needed, starts it and waits until it
// answers ListTables or ctx ends. Without java on PATH it returns ErrNoJava.
func Start(ctx context.Context, opts Options) (*Server, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, ErrNoJava
	}
	dir, err := Install(ctx, opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.DBPath != "" {
		if opts.DBPath, err = filepath.Abs(opts.DBPath); err != nil {
			return nil, fmt.Errorf("dynamolocal: %w", err)
		}
	}
	if opts.Port != 0 {
		s := newServer(java, dir, opts)
		if err := s.Start(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	// A port picked as free can be taken before java binds it; java then
	// exits ("Failed to bind"), and another port is tried.
	pick := opts.pickPort
	if pick == nil {
		pick = freePort
	}
	for attempt := 1; ; attempt++ {
		if opts.Port, err = pick(); err != nil {
			return nil, err
		}
		s := newServer(java, dir, opts)
		err := s.Start(ctx)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errExited) || attempt == startAttempts {
			return nil, err
		}
	}
}

// startAttempts bounds the ports Start tries when it picks them.
const startAttempts = 5

// errExited reports that the process ended before it answered.
var errExited = errors.New("dynamodb local exited before answering")

func newServer(java, dir string, opts Options) *Server {
	return &Server{java: java, dir: dir, opts: opts, endpoint: "http://127.0.0.1:" + strconv.Itoa(opts.Port)}
}

// Endpoint returns the server's URL, http://127.0.0.1:PORT.
func (s *Server) Endpoint() string { return s.endpoint }

// Port returns the server's port; it stays the same across restarts.
func (s *Server) Port() int { return s.opts.Port }

// Start starts a stopped or killed server again on the same port and waits
// until it answers. It fails if the server is running.
func (s *Server) Start(ctx context.Context) error {
	if s.external {
		return errExternal
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("dynamolocal: already running")
	}
	args := []string{
		"-Djava.library.path=" + filepath.Join(s.dir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(s.dir, "DynamoDBLocal.jar"),
		"-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(s.opts.Port),
	}
	if s.opts.DBPath != "" {
		args = append(args, "-dbPath", s.opts.DBPath)
	} else {
		args = append(args, "-inMemory")
	}
	cmd := exec.Command(s.java, args...)
	cmd.Dir = s.dir
	p := &process{cmd: cmd, done: make(chan struct{}), out: &tail{}}
	var w io.Writer = p.out
	if s.opts.Log != nil {
		w = io.MultiWriter(p.out, s.opts.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group, so Stop and Kill reach every process it
	// starts; and SIGKILL when this process dies, so nothing is orphaned
	// even if Stop is never called.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("dynamolocal: start java: %w", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p
	if err := s.waitReady(ctx, p); err != nil {
		s.signal(p, syscall.SIGKILL)
		s.proc = nil
		return err
	}
	return nil
}

// waitReady polls ListTables until it succeeds, the process exits or ctx
// ends (after at most a minute if ctx has no deadline).
func (s *Server) waitReady(ctx context.Context, p *process) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: s.endpoint}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	tick := time.NewTicker(50 * time.Millisecond) // the server sends no signal when it is ready
	defer tick.Stop()
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		_, err := client.ListTables(attempt, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v); output:\n%s", errExited, p.err, p.out)
		case <-ctx.Done():
			return fmt.Errorf("dynamodb local on %s did not answer (last error: %v): %w; output:\n%s", s.endpoint, err, ctx.Err(), p.out)
		case <-tick.C:
		}
	}
}

// Stop ends the server with SIGTERM (SIGKILL after 5 s) and waits for it to
// exit. It does nothing if the server is not running.
func (s *Server) Stop() error {
	return s.end(func(p *process) error {
		if err := s.signal(p, syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-p.done:
			return nil
		case <-time.After(5 * time.Second):
			return s.signal(p, syscall.SIGKILL)
		}
	})
}

// Kill ends the server at once with SIGKILL, as a crash would, and waits for
// it to exit. It does nothing if the server is not running.
func (s *Server) Kill() error {
	return s.end(func(p *process) error { return s.signal(p, syscall.SIGKILL) })
}

// end takes the running process, if any, and ends it with stop, holding the
// lock throughout so that no Start overlaps a process still exiting.
func (s *Server) end(stop func(*process) error) error {
	if s.external {
		return errExternal
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	return stop(p)
}

// Restart stops the server and starts it again on the same port. With
// Options.DBPath set, the data survives.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Start(ctx)
}

// signal sends sig to the process group of p; for SIGKILL it also waits
// until the process has exited.
func (s *Server) signal(p *process, sig syscall.Signal) error {
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("dynamolocal: kill: %w", err)
	}
	if sig == syscall.SIGKILL {
		<-p.done
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dynamolocal: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Processes are started from one OS thread that never exits, because
// Pdeathsig fires when the thread that started the child exits, not the
// process.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnReqs {
				r.errc <- r.cmd.Start()
			}
		}()
	})
	errc := make(chan error, 1)
	spawnReqs <- spawnReq{cmd, errc}
	return <-errc
}

// tail keeps the last 8 KB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = t.buf[len(t.buf)-8<<10:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
