package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/filestore"
)

// settableClock is a time source the test sets; the committer reads it
// from its own goroutine.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *settableClock) add(d time.Duration) { c.set(c.now().Add(d)) }

func keyedIncrement(name, client, key string) counter.Write {
	return counter.Increment(name, 1).WithKey(counter.IdempotencyKey{Key: key, Client: client})
}

// wantFull fails unless err refuses a keyed write for want of room, with
// RetryAfter retry.
func wantFull(t *testing.T, what string, err error, retry time.Duration) {
	t.Helper()
	if counter.ErrorCode(err) != counter.Unavailable || !errors.Is(err, counter.ErrRecordsFull) {
		t.Errorf("%s: %v, want %s wrapping ErrRecordsFull", what, err, counter.Unavailable)
		return
	}
	if got := counter.RetryAfter(err); got != retry {
		t.Errorf("%s: RetryAfter %v, want %v", what, got, retry)
	}
}

// TestKeyedRecordsBounded: with the records full, a new key is refused
// unapplied and unrecorded, replays and unkeyed writes go on, and once the
// oldest record expires the refused write's retry applies.
func TestKeyedRecordsBounded(t *testing.T) {
	clk := &settableClock{t: time.Now().UTC().Truncate(time.Millisecond)}
	s := newStore(t, filestore.WithClock(clk.now), filestore.WithMaxIdempotencyRecords(3))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	start := clk.now()
	for i := range 3 {
		if _, err := s.Apply(ctx, keyedIncrement("x", "", fmt.Sprint("k", i))); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		clk.add(time.Hour)
	}
	commits, _ := s.Commits()
	_, err := s.Apply(ctx, keyedIncrement("x", "", "k3"))
	wantFull(t, "a new key with the records full", err, counter.IdempotencyTTL-3*time.Hour)
	if after, _ := s.Commits(); after != commits {
		t.Errorf("a refused keyed write made %d commits, want 0 (no disk flush for a refusal)", after-commits)
	}
	if o, err := s.Apply(ctx, keyedIncrement("x", "", "k0")); err != nil || !o.Replayed || o.Counter.Count != 1 {
		t.Errorf("replay with the records full = %+v, %v; want count 1 replayed", o, err)
	}
	if c, err := s.Apply(ctx, counter.Increment("x", 1)); err != nil || c.Counter.Count != 4 {
		t.Errorf("unkeyed increment with the records full = %+v, %v; want count 4", c, err)
	}
	// The oldest record expires: the refused write, retried, applies.
	clk.set(start.Add(counter.IdempotencyTTL))
	if o, err := s.Apply(ctx, keyedIncrement("x", "", "k3")); err != nil || o.Replayed || o.Counter.Count != 5 {
		t.Errorf("the refused key after the oldest record expired = %+v, %v; want count 5 applied", o, err)
	}
	_, err = s.Apply(ctx, keyedIncrement("x", "", "k4"))
	wantFull(t, "a fourth live record", err, time.Hour)
}

// TestKeyedRecordsPerClient: a client at its bound has new keys refused,
// with how long until its oldest record expires, while others go on; the
// bound of all holds too. The store is closed and opened again between
// steps: the counts are in the file.
func TestKeyedRecordsPerClient(t *testing.T) {
	clk := &settableClock{t: time.Now().UTC().Truncate(time.Millisecond)}
	path := filepath.Join(t.TempDir(), "hits.db")
	opts := []filestore.Option{filestore.WithClock(clk.now), filestore.WithMaxIdempotencyRecords(5), filestore.WithMaxIdempotencyRecordsPerClient(2)}
	s := open(t, path, opts...)
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	start := clk.now()
	steps := []struct {
		client, key string
		wantErr     bool
		wantRetry   time.Duration
	}{
		{"a", "1", false, 0},
		{"a", "2", false, 0},
		{"a", "3", true, counter.IdempotencyTTL - 2*time.Minute}, // a's first was a minute after start
		{"b", "1", false, 0},
		{"a", "1", false, 0}, // a replay needs no room
		{"b", "2", false, 0},
		{"c", "1", false, 0}, // five records: all there may be
		{"d", "1", true, counter.IdempotencyTTL - 7*time.Minute},
		{"a", "3", true, counter.IdempotencyTTL - 8*time.Minute},
	}
	for i, st := range steps {
		if i%2 == 1 {
			s.Close()
			s = open(t, path, opts...)
		}
		clk.add(time.Minute)
		_, err := s.Apply(ctx, keyedIncrement("x", st.client, st.client+st.key))
		what := fmt.Sprintf("client %s key %s at +%v", st.client, st.key, clk.now().Sub(start))
		switch {
		case st.wantErr:
			wantFull(t, what, err, st.wantRetry)
		case err != nil:
			t.Fatalf("%s: %v", what, err)
		}
	}
	if c, err := s.Get(ctx, "x"); err != nil || c.Count != 5 {
		t.Errorf("x = %+v, %v; want 5: refused writes are not applied", c, err)
	}
	// a's oldest record expires (while the store is closed): a has room
	// again, for one.
	s.Close()
	clk.set(start.Add(counter.IdempotencyTTL + time.Minute))
	s = open(t, path, opts...)
	if _, err := s.Apply(ctx, keyedIncrement("x", "a", "a4")); err != nil {
		t.Errorf("a after its oldest record expired: %v", err)
	}
	_, err := s.Apply(ctx, keyedIncrement("x", "a", "a5"))
	wantFull(t, "a's third live record", err, time.Minute)
}

// TestKeyedRecordsRecountedAtOpen: Open counts the records again from
// their indexes, so counts lost from the file (or a file written before
// there were counts) do not lift the bounds.
func TestKeyedRecordsRecountedAtOpen(t *testing.T) {
	clk := &settableClock{t: time.Now().UTC().Truncate(time.Millisecond)}
	path := filepath.Join(t.TempDir(), "hits.db")
	opts := []filestore.Option{filestore.WithClock(clk.now), filestore.WithMaxIdempotencyRecords(3), filestore.WithMaxIdempotencyRecordsPerClient(2)}
	s := open(t, path, opts...)
	ctx := context.Background()
	// Scopes are told apart by key, not client: each client uses keys of
	// its own.
	for _, w := range []counter.Write{keyedIncrement("x", "a", "a1"), keyedIncrement("x", "a", "a2"), keyedIncrement("x", "b", "b1")} {
		clk.add(time.Minute)
		if _, err := s.Apply(ctx, w); counter.ErrorCode(err) != counter.NotFound {
			t.Fatalf("%v: %v, want %s (recorded)", w, err, counter.NotFound)
		}
	}
	s.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte("clients")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Delete([]byte("records"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = open(t, path, opts...)
	_, err = s.Apply(ctx, keyedIncrement("x", "a", "a3"))
	wantFull(t, "a's third record after its count was lost", err, counter.IdempotencyTTL-2*time.Minute)
	_, err = s.Apply(ctx, keyedIncrement("x", "c", "c1"))
	wantFull(t, "a fourth record after the total was lost", err, counter.IdempotencyTTL-2*time.Minute) // a1's, the oldest
}

// TestKeyedRecordsSwept writes far more keyed writes than the bound, over
// more than a TTL: every one is accepted, because expired records are
// dropped as time passes, and the counts follow.
func TestKeyedRecordsSwept(t *testing.T) {
	clk := &settableClock{t: time.Now().UTC().Truncate(time.Millisecond)}
	const bound = 20
	s := newStore(t, filestore.WithClock(clk.now), filestore.WithMaxIdempotencyRecords(bound), filestore.WithMaxIdempotencyRecordsPerClient(bound))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	step := counter.IdempotencyTTL / (bound - 1)
	for i := range 10 * bound {
		if _, err := s.Apply(ctx, keyedIncrement("x", "a", fmt.Sprint(i))); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		clk.add(step)
	}
	if got := filestore.Keys(s, "records"); got > bound {
		t.Errorf("%d records kept, want at most %d", got, bound)
	}
}

// TestKeyedFloodLeavesOthersRoom is finding 3 of issue 19 on the file
// store: one client's keyed writes to counters that do not exist (each
// refusal is recorded), as many as the store keeps records in all, fill
// its own share of the records, not everyone's, and do not grow the file
// past it.
func TestKeyedFloodLeavesOthersRoom(t *testing.T) {
	const bound, perClient = 200, 20
	s := newStore(t, filestore.WithMaxIdempotencyRecords(bound), filestore.WithMaxIdempotencyRecordsPerClient(perClient))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	// Concurrent, so that the writes share commits.
	var mu sync.Mutex
	refused := 0
	var wg sync.WaitGroup
	for i := range bound {
		wg.Go(func() {
			_, err := s.Apply(ctx, keyedIncrement(fmt.Sprint("no-such-counter-", i), "flooder", fmt.Sprint("k", i)))
			switch counter.ErrorCode(err) {
			case counter.NotFound:
			case counter.Unavailable:
				mu.Lock()
				refused++
				mu.Unlock()
			default:
				t.Errorf("flood write %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if want := bound - perClient; refused != want {
		t.Errorf("%d flood writes refused, want %d (past the client's bound)", refused, want)
	}
	if got := filestore.Keys(s, "records"); got != perClient {
		t.Errorf("%d records after the flood, want %d", got, perClient)
	}
	for _, client := range []string{"other", ""} {
		if res, err := s.Apply(ctx, keyedIncrement("x", client, "after-"+client)); err != nil || res.Replayed {
			t.Errorf("client %q after the flood: %+v, %v; want applied", client, res, err)
		}
	}
}
