package filestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/filestore"
)

// open opens a store on path until the test ends.
func open(t *testing.T, path string, opts ...filestore.Option) *filestore.Store {
	t.Helper()
	s, err := filestore.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T, opts ...filestore.Option) *filestore.Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "hits.db"), opts...)
}

func TestConformance(t *testing.T) {
	countertest.Run(t, func(t *testing.T) counter.Store { return newStore(t) })
}

// TestConformanceSharded runs the suite on counters created with Shards:
// the store keeps them in one value, and reports the number asked for,
// replays of keyed writes included.
func TestConformanceSharded(t *testing.T) {
	countertest.RunSharded(t, func(t *testing.T) counter.Store { return newStore(t) })
}

func TestStatsConformance(t *testing.T) {
	newHarness := func(t *testing.T) countertest.StatsHarness {
		clock := countertest.NewClock(time.Now())
		return countertest.StatsHarness{Store: newStore(t, filestore.WithClock(clock.Now)), Clock: clock}
	}
	countertest.RunStats(t, newHarness)
	t.Run("Sharded", func(t *testing.T) { countertest.RunStatsSharded(t, newHarness) })
	t.Run("Visitors", func(t *testing.T) { countertest.RunVisitors(t, newHarness) })
}

// TestConformanceAfterReopen runs the suite on stores that are closed and
// opened again before every call that reads, so that each answer comes
// from the file, not from anything the process kept.
func TestConformanceAfterReopen(t *testing.T) {
	countertest.Run(t, func(t *testing.T) counter.Store {
		return &reopening{t: t, path: filepath.Join(t.TempDir(), "hits.db")}
	})
}

// reopening is a store that reopens its file before each read.
type reopening struct {
	t    *testing.T
	path string
	mu   sync.Mutex
	s    *filestore.Store
}

func (r *reopening) store(reopen bool) *filestore.Store {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s != nil && reopen {
		if err := r.s.Close(); err != nil {
			r.t.Errorf("Close: %v", err)
		}
		r.s = nil
	}
	if r.s == nil {
		s, err := filestore.Open(r.path)
		if err != nil {
			r.t.Fatalf("Open: %v", err)
		}
		r.s = s
		r.t.Cleanup(func() { s.Close() })
	}
	return r.s
}

// Concurrent suites call Apply from many goroutines: only reads reopen.
func (r *reopening) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	return r.store(false).Apply(ctx, w)
}

func (r *reopening) Get(ctx context.Context, name string) (counter.Counter, error) {
	return r.store(true).Get(ctx, name)
}

func (r *reopening) List(ctx context.Context, o counter.ListOptions) (counter.Page, error) {
	return r.store(false).List(ctx, o)
}

func (r *reopening) Stats(ctx context.Context, name string, q counter.StatsQuery) ([]counter.Point, error) {
	return r.store(true).Stats(ctx, name, q)
}

func (r *reopening) Ping(ctx context.Context) error { return r.store(false).Ping(ctx) }

// TestSecondOpenRefused: a second store (a second server) on the same file
// is refused with ErrLocked while the first is open, and opens once it is
// closed.
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hits.db")
	first, err := filestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = filestore.Open(path)
	if !errors.Is(err, filestore.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("second Open took %v to refuse", took)
	}
	t.Logf("second Open: %v", err)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path)
}

// TestDurableAcrossReopen: what Apply acknowledged is there after Close
// and Open, with its history and its idempotency records.
func TestDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hits.db")
	s := open(t, path)
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("home", 5)); err != nil {
		t.Fatal(err)
	}
	key := counter.IdempotencyKey{Key: "k1"}
	first, err := s.Apply(ctx, counter.Increment("home", 2).WithKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if c, err := s.Get(ctx, "home"); err != nil || c.Count != 7 {
		t.Fatalf("after reopen: Get = %+v, %v; want count 7", c, err)
	}
	again, err := s.Apply(ctx, counter.Increment("home", 2).WithKey(key))
	if err != nil || !again.Replayed || again.Counter != first.Counter {
		t.Errorf("keyed write repeated after reopen = %+v, %v; want %+v replayed", again, err, first)
	}
	points, err := s.Stats(ctx, "home", counter.StatsQuery{Period: counter.Day, From: time.Now(), To: time.Now()})
	if err != nil || points[0].Hits != 2 {
		t.Errorf("Stats after reopen = %+v, %v; want 2 hits today", points, err)
	}
}

// TestGroupCommit: concurrent writes share commits. 64 writers of 50
// increments each must need far fewer commits than increments.
func TestGroupCommit(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("hot", 0)); err != nil {
		t.Fatal(err)
	}
	commits0, _ := s.Commits()
	const writers, each = 64, 50
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.Apply(ctx, counter.Increment("hot", 1)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	commits, applied := s.Commits()
	commits -= commits0
	t.Logf("%d increments in %d commits (%.1f per commit)", writers*each, commits, float64(writers*each)/float64(commits))
	if c, err := s.Get(ctx, "hot"); err != nil || c.Count != writers*each {
		t.Fatalf("count %d, %v; want %d", c.Count, err, writers*each)
	}
	if applied < writers*each {
		t.Errorf("applied %d, want at least %d", applied, writers*each)
	}
	if commits > writers*each/4 {
		t.Errorf("%d commits for %d concurrent increments: writes are not committed together", commits, writers*each)
	}
}

// TestCanceledWriteNotApplied: a write whose context ended before it was
// committed is not applied.
func TestCanceledWriteNotApplied(t *testing.T) {
	s := newStore(t)
	if _, err := s.Apply(context.Background(), counter.Create("c", 0)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Apply(ctx, counter.Increment("c", 1)); counter.ErrorCode(err) != counter.Unavailable {
		t.Errorf("Apply with a canceled context: %v, want unavailable", err)
	}
	if c, _ := s.Get(context.Background(), "c"); c.Count != 0 {
		t.Errorf("count %d after a canceled increment, want 0", c.Count)
	}
}

// TestClosed: after Close, calls are Unavailable.
func TestClosed(t *testing.T) {
	s := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("c", 0)); counter.ErrorCode(err) != counter.Unavailable {
		t.Errorf("Apply after Close: %v, want unavailable", err)
	}
	if _, err := s.Get(ctx, "c"); counter.ErrorCode(err) != counter.Unavailable {
		t.Errorf("Get after Close: %v, want unavailable", err)
	}
	if err := s.Ping(ctx); counter.ErrorCode(err) != counter.Unavailable {
		t.Errorf("Ping after Close: %v, want unavailable", err)
	}
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

func TestImportConformance(t *testing.T) {
	countertest.RunImport(t, func(t *testing.T) countertest.StatsHarness {
		clock := countertest.NewClock(time.Now())
		return countertest.StatsHarness{Store: newStore(t, filestore.WithClock(clock.Now)), Clock: clock}
	})
}
