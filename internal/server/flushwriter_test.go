package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stuckWriter blocks every Write until released, then records what it got.
type stuckWriter struct {
	release chan struct{}
	mu      sync.Mutex
	got     bytes.Buffer
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got.Write(p)
}

// brokenWriter fails with EPIPE until mended; it signals each line it was
// asked to write while broken.
type brokenWriter struct {
	mu     sync.Mutex
	broken bool
	failed chan struct{}
	got    bytes.Buffer
}

func (w *brokenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken {
		for range bytes.Count(p, []byte{'\n'}) {
			w.failed <- struct{}{}
		}
		return 0, syscall.EPIPE
	}
	return w.got.Write(p)
}

// logLines splits output into request lines and the sum of the dropped
// counts reported.
func logLines(t *testing.T, out string) (lines []string, dropped int) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var rec struct {
			Level   string `json:"level"`
			Msg     string `json:"msg"`
			Dropped int    `json:"dropped"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		if rec.Msg == "log lines dropped" {
			if rec.Level != "WARN" || rec.Dropped < 1 {
				t.Errorf("drop report %s, want level WARN and a positive count", line)
			}
			dropped += rec.Dropped
			continue
		}
		lines = append(lines, line)
	}
	return lines, dropped
}

func line(i int) []byte {
	return []byte(`{"msg":"request","n":` + strings.Repeat(" ", 60) + string(rune('0'+i%10)) + "}\n")
}

// TestLogNeverBlocks checks that writing lines does not wait on an output
// that does not accept them, that the lines beyond the buffer are dropped,
// and that their number is reported once the output accepts lines again.
func TestLogNeverBlocks(t *testing.T) {
	out := &stuckWriter{release: make(chan struct{})}
	fw := newFlushWriterSize(out, time.Millisecond, 1000)
	const n = 200 // 14 KB of lines for a 1 KB buffer
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := range n {
			if _, err := fw.Write(line(i)); err != nil {
				t.Errorf("Write: %v", err)
			}
		}
	}()
	select {
	case <-wrote:
	case <-time.After(time.Minute): // a hang detector, not a timing claim
		t.Fatal("Write blocked on an output that does not accept lines")
	}
	close(out.release)
	fw.Close()
	lines, dropped := logLines(t, out.got.String())
	if dropped == 0 {
		t.Errorf("no drop report; %d lines written of %d", len(lines), n)
	}
	if len(lines)+dropped != n {
		t.Errorf("%d lines written + %d reported dropped, want %d in all", len(lines), dropped, n)
	}
}

// TestLogDropsOnBrokenOutput checks that lines whose write failed are
// counted and reported when writing resumes.
func TestLogDropsOnBrokenOutput(t *testing.T) {
	out := &brokenWriter{broken: true, failed: make(chan struct{}, 100)}
	fw := newFlushWriterSize(out, time.Millisecond, 1<<20)
	const lost = 5
	for i := range lost {
		fw.Write(line(i))
	}
	for range lost { // each line was tried and failed
		<-out.failed
	}
	out.mu.Lock()
	out.broken = false
	out.mu.Unlock()
	fw.Write(line(9))
	fw.Close()
	lines, dropped := logLines(t, out.got.String())
	if len(lines) != 1 || dropped != lost {
		t.Errorf("got %d lines and %d reported dropped, want 1 and %d:\n%s", len(lines), dropped, lost, out.got.String())
	}
	if _, err := fw.Write(line(0)); err == nil {
		t.Error("Write after Close succeeded")
	}
}
