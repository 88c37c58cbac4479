package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/ratelimit"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(0, 0)
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

// TestLimiterForgetsIdleClients checks that once the sweep interval has
// passed, the clients whose buckets have refilled are forgotten. A shard
// sweeps when one of its clients is seen, and which shard a client lands
// in depends on the Limiter's random hash seed, so new clients come until
// every shard has swept: until the Limiter tracks only them.
func TestLimiterForgetsIdleClients(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := ratelimit.New(10, 10)
	for i := range 1000 {
		l.Allow(fmt.Sprintf("early-%d", i), t0)
	}
	if got := l.Len(); got != 1000 {
		t.Fatalf("Len = %d, want 1000", got)
	}
	later := t0.Add(2 * time.Minute)
	// With 16 shards, about 54 clients reach every one on average; 10,000
	// that do not would be a broken sweep, not bad luck.
	const most = 10_000
	late := 0
	for l.Len() > late {
		if late == most {
			t.Fatalf("Len = %d after %d new clients, want only the new ones: idle clients are not forgotten", l.Len(), late)
		}
		l.Allow(fmt.Sprintf("late-%d", late), later)
		late++
	}
	if got := l.Len(); got != late {
		t.Errorf("Len after the sweeps = %d, want the %d new clients", got, late)
	}
}
