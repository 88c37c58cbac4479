package faults_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// buildServer builds cmd/hitcounter into a temporary directory.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hitcounter")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/hitcounter").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestStdoutReaderGone runs the real server binary with its log (stdout) on
// a pipe, then closes the pipe's read end, as when `make run | head` ends.
// The server must go on answering, and exit cleanly when told to, instead of
// dying of SIGPIPE at its next log write.
func TestStdoutReaderGone(t *testing.T) {
	bin := buildServer(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "HOST=127.0.0.1", "STORE=memory")
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// The first log line says where the server listens.
	first, err := bufio.NewReader(r).ReadString('\n')
	var listening struct{ Msg, URL string }
	if err != nil || json.Unmarshal([]byte(first), &listening) != nil || listening.Msg != "listening" || listening.URL == "" {
		t.Fatalf("first log line %q (%v), want the listening line with its url; stderr: %s", first, err, stderr.String())
	}
	r.Close()

	// Enough requests that their log lines (about 150 bytes each) pass the
	// 64 KiB that wake the log's flusher: a write to the broken pipe.
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for i := range 1000 {
		resp, err := client.Get(listening.URL + "/health")
		if err != nil {
			t.Fatalf("request %d after the log reader left: %v; stderr: %s", i, err, stderr.String())
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}

	// Shutdown writes the last lines to the broken pipe too.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("server exit: %v; stderr: %s", waitErr, stderr.String())
		}
	case <-time.After(30 * time.Second): // a hang detector
		t.Fatal("server did not exit after SIGTERM")
	}
}
