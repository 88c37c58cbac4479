package ratelimit_test

import (
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/ratelimit"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	l := ratelimit.New(2, 3) // 2/s, bursts of 3
	for i := range 3 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a", t0)
	if ok {
		t.Fatal("4th request in the same instant allowed, want refused")
	}
	if wait != 500*time.Millisecond {
		t.Errorf("wait = %v, want 500ms", wait)
	}
	if ok, _ := l.Allow("b", t0); !ok {
		t.Error("another client refused: buckets must be per client")
	}
	if ok, _ := l.Allow("a", t0.Add(499*time.Millisecond)); ok {
		t.Error("allowed before a token refilled")
	}
	if ok, _ := l.Allow("a", t0.Add(500*time.Millisecond)); !ok {
		t.Error("refused after a token refilled")
	}
	// Long idle: the bucket holds at most the burst.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("a", later); !ok {
			t.Fatalf("after idling, request %d refused", i+1)
		}
	}
	if ok, _ := l.Allow("a", later); ok {
		t.Error("idle time accumulated more than the burst")
	}
}

func TestLimiterForgetsIdleClients(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	l := ratelimit.New(10, 10)
	for i := range 1000 {
		l.Allow(string(rune('a'+i%26))+time.Duration(i).String(), t0)
	}
	if l.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", l.Len())
	}
	for i := range 100 { // touch every shard after the sweep interval
		l.Allow("late"+time.Duration(i).String(), t0.Add(2*time.Minute))
	}
	if got := l.Len(); got > 100 {
		t.Errorf("Len after sweep = %d, want the 100 recent clients only", got)
	}
}
