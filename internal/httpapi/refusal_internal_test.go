package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// lineSink collects log lines and signals each.
type lineSink struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func (s *lineSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.lines = append(s.lines, string(p))
	s.mu.Unlock()
	s.added <- struct{}{}
	return len(p), nil
}

// TestRefusalLogAggregates: refusals at full speed make one line at once,
// then one per interval and cause with the count since the previous line.
func TestRefusalLogAggregates(t *testing.T) {
	sink := &lineSink{added: make(chan struct{}, 100)}
	l := &refusalLog{log: slog.New(slog.NewJSONHandler(sink, nil)), interval: 100 * time.Millisecond}
	full := &counter.Error{Code: counter.Unavailable, Message: "client 1", Err: errors.New("full")}
	other := &counter.Error{Code: counter.Unavailable, Message: "client 2", Err: errors.New("other cause")}
	for i := range 1000 {
		if i%10 == 0 {
			l.note(other)
		} else {
			l.note(full)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for want := 3; ; { // the first at once; then one per cause
		sink.mu.Lock()
		n := len(sink.lines)
		sink.mu.Unlock()
		if n >= want {
			break
		}
		select {
		case <-sink.added:
		case <-ctx.Done():
			t.Fatalf("%d lines after 10 s, want %d", n, want)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	got := strings.Join(sink.lines, "")
	for _, want := range []string{`"refused":1,"cause":"other cause"`, `"refused":900,"cause":"full"`, `"refused":99,"cause":"other cause"`} {
		if !strings.Contains(got, want) {
			t.Errorf("no line with %s in:\n%s", want, got)
		}
	}
	if len(sink.lines) != 3 {
		t.Errorf("%d lines, want 3:\n%s", len(sink.lines), got)
	}
}
