package memstore_test

import (
	"context"
	"errors"
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

// TestKeyedRecordsPerClient: a client at its bound has new keys refused,
// with how long until its oldest record expires, while others go on; the
// bound of all holds too, with how long until the oldest of all expires.
func TestKeyedRecordsPerClient(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := memstore.New(memstore.WithClock(clk.now), memstore.WithMaxIdempotencyRecords(5), memstore.WithMaxIdempotencyRecordsPerClient(2))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	start := clk.t
	// Keys are told apart by their principal, not their client: each
	// client here uses keys of its own.
	apply := func(client, key string) (counter.Result, error) {
		clk.t = clk.t.Add(time.Minute)
		return s.Apply(ctx, increment("x").WithKey(counter.IdempotencyKey{Key: client + key, Client: client}))
	}
	steps := []struct {
		client, key string
		wantErr     bool
		wantRetry   time.Duration // when refused: until the oldest record in the way expires
	}{
		{"a", "1", false, 0},
		{"a", "2", false, 0},
		{"a", "3", true, counter.IdempotencyTTL - 2*time.Minute}, // a's first was a minute after start
		{"b", "1", false, 0},
		{"a", "1", false, 0}, // a replay needs no room
		{"b", "2", false, 0},
		{"c", "1", false, 0}, // five records: all there may be
		{"d", "1", true, counter.IdempotencyTTL - 7*time.Minute},
	}
	for _, st := range steps {
		_, err := apply(st.client, st.key)
		if got := err != nil; got != st.wantErr {
			t.Fatalf("client %s key %s at +%v: %v, want error %t", st.client, st.key, clk.t.Sub(start), err, st.wantErr)
		}
		if err == nil {
			continue
		}
		if counter.ErrorCode(err) != counter.Unavailable || !errors.Is(err, counter.ErrRecordsFull) {
			t.Errorf("client %s key %s: %v, want %s wrapping ErrRecordsFull", st.client, st.key, err, counter.Unavailable)
		}
		if got := counter.RetryAfter(err); got != st.wantRetry {
			t.Errorf("client %s key %s: RetryAfter %v, want %v", st.client, st.key, got, st.wantRetry)
		}
	}
	// a's oldest record expires: a has room again, for one.
	clk.t = start.Add(counter.IdempotencyTTL + time.Minute)
	if _, err := s.Apply(ctx, increment("x").WithKey(counter.IdempotencyKey{Key: "a4", Client: "a"})); err != nil {
		t.Errorf("a after its oldest record expired: %v", err)
	}
	if _, err := s.Apply(ctx, increment("x").WithKey(counter.IdempotencyKey{Key: "a5", Client: "a"})); counter.ErrorCode(err) != counter.Unavailable {
		t.Errorf("a's third live record: %v, want %s", err, counter.Unavailable)
	}
}

// TestKeyedFloodLeavesOthersRoom is finding 3 of issue 19 on the store:
// one client's keyed writes to counters that do not exist (each refusal is
// recorded), as many as the store keeps records in all, fill its own share
// of the records, not everyone's (they used to fill all of them).
func TestKeyedFloodLeavesOthersRoom(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	flooder := counter.IdempotencyKey{Client: "flooder"}
	refused := 0
	for i := range memstore.DefaultMaxIdempotencyRecords {
		flooder.Key = fmt.Sprint("k", i)
		_, err := s.Apply(ctx, increment(fmt.Sprint("no-such-counter-", i)).WithKey(flooder))
		switch counter.ErrorCode(err) {
		case counter.NotFound:
		case counter.Unavailable:
			refused++
		default:
			t.Fatalf("flood write %d: %v", i, err)
		}
	}
	if want := memstore.DefaultMaxIdempotencyRecords - memstore.DefaultMaxIdempotencyRecordsPerClient; refused != want {
		t.Errorf("%d flood writes refused, want %d (past the client's bound)", refused, want)
	}
	for _, client := range []string{"other", ""} {
		key := counter.IdempotencyKey{Key: "after-" + client, Client: client}
		if res, err := s.Apply(ctx, increment("x").WithKey(key)); err != nil || res.Replayed {
			t.Errorf("client %q after the flood: %+v, %v; want applied", client, res, err)
		}
	}
}
