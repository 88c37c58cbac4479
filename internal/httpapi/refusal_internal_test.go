package httpapi

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// TestRefusalLogAggregates: refusals at full speed make one line at once,
// then, when the interval is up, one per cause with the count since the
// previous line. The clock and the timer are the test's: it fires the
// timer itself.
func TestRefusalLogAggregates(t *testing.T) {
	var out strings.Builder
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var timers []func()
	var waits []time.Duration
	l := &refusalLog{
		log:      slog.New(slog.NewJSONHandler(&out, nil)),
		interval: time.Minute,
		now:      func() time.Time { return now },
		afterFunc: func(d time.Duration, f func()) {
			waits = append(waits, d)
			timers = append(timers, f)
		},
	}
	full := &counter.Error{Code: counter.Unavailable, Message: "client 1", Err: errors.New("full")}
	other := &counter.Error{Code: counter.Unavailable, Message: "client 2", Err: errors.New("other cause")}
	for i := range 1000 {
		if i%10 == 0 {
			l.note(other)
		} else {
			l.note(full)
		}
	}
	if got := strings.Count(out.String(), "\n"); got != 1 {
		t.Fatalf("%d lines before the interval is up, want 1 (the first refusal):\n%s", got, out.String())
	}
	if len(timers) != 1 || waits[0] != time.Minute {
		t.Fatalf("%d timers (waits %v), want one of a minute", len(timers), waits)
	}
	now = now.Add(time.Minute)
	timers[0]()
	got := out.String()
	for _, want := range []string{`"refused":1,"cause":"other cause"`, `"refused":900,"cause":"full"`, `"refused":99,"cause":"other cause"`} {
		if !strings.Contains(got, want) {
			t.Errorf("no line with %s in:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 3 {
		t.Errorf("%d lines, want 3:\n%s", n, got)
	}
	// Half an interval after that line, the next refusal waits for the rest.
	now = now.Add(30 * time.Second)
	l.note(full)
	if len(timers) != 2 || waits[1] != 30*time.Second {
		t.Errorf("after a refusal half an interval on: timers %d, waits %v; want a second one of 30s", len(timers), waits)
	}
}
