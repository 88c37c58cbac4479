package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func increment(name string) counter.Write {
	return counter.Write{Op: counter.OpIncrement, Name: name, By: 1}
}

func TestKeyedRecordsExpire(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := memstore.New(memstore.WithClock(clk.now))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	key := counter.IdempotencyKey{Key: "k"}
	steps := []struct {
		after        time.Duration // since the first write
		wantCount    int64
		wantReplayed bool
	}{
		{0, 1, false},
		{counter.IdempotencyTTL - time.Millisecond, 1, true},
		{counter.IdempotencyTTL, 2, false}, // expired: a new write
		{counter.IdempotencyTTL + time.Hour, 2, true},
	}
	start := clk.t
	for _, st := range steps {
		clk.t = start.Add(st.after)
		o, err := s.Apply(ctx, increment("x").WithKey(key))
		replayed := o.Replayed
		if err != nil || o.Counter.Count != st.wantCount || replayed != st.wantReplayed {
			t.Errorf("after %v: keyed Apply = %d, replayed %t, %v; want %d, replayed %t", st.after, o.Counter.Count, replayed, err, st.wantCount, st.wantReplayed)
		}
	}
}

func TestKeyedRecordsBounded(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := memstore.New(memstore.WithClock(clk.now), memstore.WithMaxIdempotencyRecords(3))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	apply := func(key string) (counter.Result, error) {
		return s.Apply(ctx, increment("x").WithKey(counter.IdempotencyKey{Key: key}))
	}
	for i := range 3 {
		if _, err := apply(fmt.Sprint("k", i)); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		clk.t = clk.t.Add(time.Hour)
	}
	// Full: a new key is refused unapplied; replays and unkeyed writes go on.
	if _, err := apply("k3"); counter.ErrorCode(err) != counter.Unavailable {
		t.Fatalf("a new key with the records full: %v, want %s", err, counter.Unavailable)
	}
	if o, err := apply("k0"); err != nil || !o.Replayed || o.Counter.Count != 1 {
		t.Errorf("replay with the records full = %+v, %v; want count 1 replayed", o, err)
	}
	if c, err := s.Apply(ctx, counter.Increment("x", 1)); err != nil || c.Counter.Count != 4 {
		t.Errorf("unkeyed increment with the records full = %+v, %v; want count 4", c, err)
	}
	// Once the oldest record expires, it is dropped and a new key fits.
	clk.t = clk.t.Add(counter.IdempotencyTTL - 3*time.Hour)
	if o, err := apply("k3"); err != nil || o.Replayed || o.Counter.Count != 5 {
		t.Errorf("a new key after the oldest record expired = %+v, %v; want count 5 applied", o, err)
	}
	if _, err := apply("k4"); counter.ErrorCode(err) != counter.Unavailable {
		t.Errorf("a fourth live record: %v, want %s", err, counter.Unavailable)
	}
}

// TestKeyedRecordsSwept writes far more keyed writes than the bound, over
// more than a TTL: every one is accepted, because expired records are
// dropped as time passes.
func TestKeyedRecordsSwept(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	const bound = 100
	s := memstore.New(memstore.WithClock(clk.now), memstore.WithMaxIdempotencyRecords(bound))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	step := counter.IdempotencyTTL / (bound - 1)
	for i := range 50 * bound {
		if _, err := s.Apply(ctx, increment("x").WithKey(counter.IdempotencyKey{Key: fmt.Sprint(i)})); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		clk.t = clk.t.Add(step)
	}
}
