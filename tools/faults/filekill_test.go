package faults_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The file store's fault tests run the real server binary as a process of
// its own, so that it can be killed with SIGKILL, as the kernel's OOM
// killer or a container runtime would.

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// serverBinary builds cmd/hitcounter once per test binary, static (no cgo)
// as the image ships it, and returns its path.
func serverBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "faults-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "hitcounter")
		cmd := exec.Command("go", "build", "-o", built.path, "github.com/hitcounter/hitcounter/cmd/hitcounter")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// serverProcess is one run of the server binary.
type serverProcess struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{} // closed when it has exited
	err  error         // how it exited, once done is closed
}

// startProcess runs argv (the server binary, possibly under another
// program) with env plus HOST, PORT and the file store on dataPath, and
// waits until GET /health answers 200. port 0 picks a free one; a port
// taken between picking and binding is picked again, unless it was asked
// for (a restart on the same address), which is then tried again.
func startProcess(t *testing.T, argv []string, dataPath string, port int, env ...string) *serverProcess {
	t.Helper()
	var last string
	for attempt := range 20 {
		p := port
		if p == 0 {
			p = freePort(t)
		}
		sp := &serverProcess{logs: &syncBuffer{}, done: make(chan struct{}), url: "http://127.0.0.1:" + strconv.Itoa(p)}
		sp.cmd = exec.Command(argv[0], argv[1:]...)
		sp.cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+strconv.Itoa(p), "STORE=file", "DATA_PATH="+dataPath)
		sp.cmd.Env = append(sp.cmd.Env, env...)
		sp.cmd.Stdout, sp.cmd.Stderr = io.Discard, sp.logs
		// A group of its own, so that kill reaches a traced server too.
		sp.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := sp.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { sp.err = sp.cmd.Wait(); close(sp.done) }()
		t.Cleanup(func() { sp.kill() })
		if sp.awaitHealthy(30 * time.Second) {
			return sp
		}
		last = sp.logs.String()
		if attempt > 0 && port != 0 {
			time.Sleep(100 * time.Millisecond) // the old socket lets go of the port
		}
	}
	t.Fatalf("the server did not start: %s", last)
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// awaitHealthy polls GET /health until 200, the process exits, or within
// passes; it reports whether the server is up.
func (sp *serverProcess) awaitHealthy(within time.Duration) bool {
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(within); time.Now().Before(deadline); {
		if res, err := client.Get(sp.url + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-sp.done:
			return false
		case <-time.After(20 * time.Millisecond): // a port gives no signal when it opens
		}
	}
	return false
}

// kill sends SIGKILL to the process and what it started, and waits for
// it to end.
func (sp *serverProcess) kill() {
	select {
	case <-sp.done:
		return
	default:
	}
	_ = syscall.Kill(-sp.cmd.Process.Pid, syscall.SIGKILL)
	<-sp.done
}

// stop sends SIGTERM to the server (under strace, to the process strace
// traces: strace then exits as it does) and returns how the process
// exited (nil: status 0).
func (sp *serverProcess) stop(t *testing.T) error {
	t.Helper()
	pid := sp.cmd.Process.Pid
	if children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		if f := strings.Fields(string(children)); len(f) > 0 {
			pid, _ = strconv.Atoi(f[0])
		}
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-sp.done:
		return sp.err
	case <-time.After(30 * time.Second):
		sp.kill()
		return errors.New("still running 30 s after SIGTERM")
	}
}

// TestFileStoreKill kills the server with SIGKILL under load from 16
// clients and starts it again on the same file. Without Idempotency-Key:
// no acknowledged increment is lost (the count after the restart is at
// least the highest count a 200 returned, and at least the number of
// 200s) and none counted twice (no two 200s returned the same count; the
// count is at most the 200s plus the requests the kill left unanswered).
// With keys, each client retrying its key across the kill until it gets a
// 200: the count is exactly the number of keys, so no keyed write was
// applied twice, and the ones whose answer the kill swallowed are
// answered again from their records after the restart.
func TestFileStoreKill(t *testing.T) {
	bin := serverBinary(t)
	t.Run("unkeyed", func(t *testing.T) { testFileKillUnkeyed(t, bin) })
	t.Run("keyed", func(t *testing.T) { testFileKillKeyed(t, bin) })
}

const killWorkers = 16

func testFileKillUnkeyed(t *testing.T, bin string) {
	const name = "hits"
	path := filepath.Join(t.TempDir(), "hits.db")
	srv := startProcess(t, []string{bin}, path, 0)
	createCounter(t, srv.url, name)
	l := startLoad(t, srv.url+"/counters/"+name+"/increment", killWorkers, 10*time.Second, 0)
	awaitAcked(t, l, 200, 300*time.Millisecond)
	srv.kill()
	outcomes := l.finish()

	var acked, unanswered int64
	counts := map[int64]int{}
	var highest int64
	var failures errorList
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			unanswered++ // in flight at the kill, or sent after it
		case o.res.status == http.StatusOK:
			c, err := decodeCounter(o.res, name)
			if err != nil {
				failures.add(err)
				continue
			}
			acked++
			counts[c.Count]++
			highest = max(highest, c.Count)
		default:
			failures.add(fmt.Errorf("got %v, want 200", o.res))
		}
	}
	failures.check(t, "increments before the kill")

	srv = startProcess(t, []string{bin}, path, 0)
	final := settledCounter(t, srv.url, name)
	t.Logf("acknowledged %d, unanswered %d, highest count acknowledged %d; count after the restart %d", acked, unanswered, highest, final.Count)
	fmt.Printf("faults: file-kill unkeyed acknowledged=%d unanswered=%d final=%d\n", acked, unanswered, final.Count)
	if final.Count < highest || final.Count < acked {
		t.Errorf("count %d after the restart, but %d increments were acknowledged, up to count %d: acknowledged increments were lost", final.Count, acked, highest)
	}
	if final.Count > acked+unanswered {
		t.Errorf("count %d after the restart, above the %d acknowledged plus the %d unanswered: increments were counted twice", final.Count, acked, unanswered)
	}
	for c, n := range counts {
		if n > 1 {
			t.Errorf("%d increments were acknowledged with the same count %d", n, c)
		}
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("SIGTERM after the restart: %v, want exit status 0", err)
	}
}

func testFileKillKeyed(t *testing.T, bin string) {
	const name = "keyed-hits"
	path := filepath.Join(t.TempDir(), "hits.db")
	srv := startProcess(t, []string{bin}, path, 0)
	createCounter(t, srv.url, name)
	port, _ := strconv.Atoi(srv.url[len("http://127.0.0.1:"):])
	l := startKeyedLoad(t, srv.url+"/counters/"+name+"/increment", name, killWorkers, 10*time.Second, false)
	l.awaitAcked(t, 200, time.Minute)
	srv.kill()
	killedAt := l.acked.Load()
	// The clients retry against the same address while it is down.
	srv = startProcess(t, []string{bin}, path, port)
	l.awaitAcked(t, killedAt+200, time.Minute)
	l.finish()
	l.failures.check(t, "keyed increments")

	final := settledCounter(t, srv.url, name)
	t.Logf("%d keys acknowledged (%d after the restart), %d of them replayed, %d requests unanswered; count %d",
		l.acked.Load(), l.acked.Load()-killedAt, l.replayed.Load(), l.noAnswer.Load(), final.Count)
	fmt.Printf("faults: file-kill keyed acknowledged=%d replayed=%d unanswered=%d final=%d\n", l.acked.Load(), l.replayed.Load(), l.noAnswer.Load(), final.Count)
	if final.Count != l.acked.Load() {
		t.Errorf("count %d after the restart, want exactly the %d keys acknowledged", final.Count, l.acked.Load())
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("SIGTERM after the restart: %v, want exit status 0", err)
	}
}

// TestFileStoreDamagedRefused: a data file cut short is refused at start
// with a message that says so, and left as it was.
func TestFileStoreDamagedRefused(t *testing.T) {
	bin := serverBinary(t)
	path := filepath.Join(t.TempDir(), "hits.db")
	srv := startProcess(t, []string{bin}, path, 0)
	for i := range 50 {
		createCounter(t, srv.url, fmt.Sprint("c", i))
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT=0", "STORE=file", "DATA_PATH="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("start on a truncated file: %v (%s), want exit status 1", err, out)
	}
	if !bytesContain(out, "the data file is damaged") || !bytesContain(out, "truncated") {
		t.Errorf("start on a truncated file said %q, want that it is damaged and truncated", out)
	}
	if after, _ := os.Stat(path); after.Size() != info.Size()/2 {
		t.Errorf("the refused file is %d bytes, was %d: it was changed", after.Size(), info.Size()/2)
	}
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }
