package filestore_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/filestore"
)

// TestGrowthBounded checks that the file forgets what DynamoDB's TTL
// forgets: idempotency records after IdempotencyTTL, hour buckets 8 days
// and day buckets 400 days after their end, including those of a counter
// that gets no more hits (swept, not only dropped as hits arrive), and
// that a restart sweeps what expired while the server was stopped.
func TestGrowthBounded(t *testing.T) {
	start := counter.Day.Start(time.Now()).Add(-500 * 24 * time.Hour).Add(12 * time.Hour)
	clock := countertest.NewClock(start)
	path := filepath.Join(t.TempDir(), "hits.db")
	s := open(t, path, filestore.WithClock(clock.Now))
	ctx := context.Background()
	for _, name := range []string{"quiet", "busy"} {
		if _, err := s.Apply(ctx, counter.Create(name, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		key := counter.IdempotencyKey{Key: fmt.Sprint("k", i)}
		if _, err := s.Apply(ctx, counter.Increment("quiet", 1).WithKey(key)); err != nil {
			t.Fatal(err)
		}
	}
	if got := filestore.Keys(s, "records"); got != 100 {
		t.Fatalf("%d records after 100 keyed writes, want 100", got)
	}
	hits := func(name string, p counter.Period, at time.Time) int64 {
		t.Helper()
		points, err := s.Stats(ctx, name, counter.StatsQuery{Period: p, From: at, To: at})
		if err != nil {
			t.Fatal(err)
		}
		return points[0].Hits
	}
	// A day later, one write sweeps the expired records.
	clock.Set(start.Add(counter.IdempotencyTTL + time.Minute))
	if _, err := s.Apply(ctx, counter.Increment("busy", 1)); err != nil {
		t.Fatal(err)
	}
	if got := filestore.Keys(s, "records"); got != 0 {
		t.Errorf("%d records a day later, want 0", got)
	}
	if got := filestore.Keys(s, "expiry"); got != 0 {
		t.Errorf("%d expiry entries a day later, want 0", got)
	}
	// Nine days later, the quiet counter's hour is gone, its day kept.
	clock.Set(start.Add(9 * 24 * time.Hour))
	if _, err := s.Apply(ctx, counter.Increment("busy", 1)); err != nil {
		t.Fatal(err)
	}
	if got := hits("quiet", counter.Hour, start); got != 0 {
		t.Errorf("quiet: hour 9 days old has %d hits, want 0 (removed)", got)
	}
	if got := hits("quiet", counter.Day, start); got != 100 {
		t.Errorf("quiet: day 9 days old has %d hits, want 100 (kept)", got)
	}
	if got := hits("busy", counter.Hour, start.Add(24*time.Hour)); got != 1 {
		t.Errorf("busy: hour 8 days old has %d hits, want 1 (kept)", got)
	}
	// 420 days later, with the server stopped meanwhile: Open sweeps the
	// days.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(420 * 24 * time.Hour))
	s = open(t, path, filestore.WithClock(clock.Now))
	if got := filestore.Keys(s, "days"); got != 0 {
		t.Errorf("%d day buckets 420 days on, want 0", got)
	}
	if got := filestore.Keys(s, "hours"); got != 0 {
		t.Errorf("%d hour buckets 420 days on, want 0", got)
	}
	if got := filestore.Keys(s, "counters"); got != 2 {
		t.Errorf("%d counters, want 2: counters never expire", got)
	}
}

// TestSweepBounded: the hourly sweep of many quiet counters' buckets is
// spread over commits, a bounded number of keys each, and finishes.
func TestSweepBounded(t *testing.T) {
	start := time.Now().Add(-30 * 24 * time.Hour)
	clock := countertest.NewClock(start)
	s := newStore(t, filestore.WithClock(clock.Now))
	ctx := context.Background()
	const counters = 3000
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < counters; i += 16 {
				name := fmt.Sprint("c", i)
				if _, err := s.Apply(ctx, counter.Create(name, 0)); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Apply(ctx, counter.Increment(name, 1)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := filestore.Keys(s, "hours"); got != counters {
		t.Fatalf("%d hour buckets, want %d", got, counters)
	}
	clock.Set(start.Add(10 * 24 * time.Hour))
	if _, err := s.Apply(ctx, counter.Create("tick", 0)); err != nil {
		t.Fatal(err)
	}
	if got := filestore.Keys(s, "hours"); got == 0 || got == counters {
		t.Errorf("%d hour buckets after one commit, want some removed and some left (a bounded sweep per commit)", got)
	}
	for i := range 10 {
		if _, err := s.Apply(ctx, counter.Increment("tick", 1)); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	if got := filestore.Keys(s, "hours"); got != 1 {
		t.Errorf("%d hour buckets after the sweep, want 1 (tick's)", got)
	}
}

// TestSnapshotConsistent takes snapshots while 16 writers increment and
// checks that each is a data file that opens, holding one moment: every
// counter's count equals the hits in its history (each write changes
// both in one transaction).
func TestSnapshotConsistent(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		if _, err := s.Apply(ctx, counter.Create(n, 0)); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Apply(ctx, counter.Increment(names[(w+i)%len(names)], 1)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	dir := t.TempDir()
	for i := range 5 {
		var buf bytes.Buffer
		n, err := s.WriteSnapshot(ctx, &buf)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("WriteSnapshot = %d, %v (%d bytes written)", n, err, buf.Len())
		}
		path := filepath.Join(dir, fmt.Sprintf("snap-%d.db", i))
		if err := writeFile(path, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		snap := open(t, path)
		var total int64
		for _, name := range names {
			c, err := snap.Get(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			points, err := snap.Stats(ctx, name, counter.StatsQuery{Period: counter.Day, From: time.Now(), To: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if points[0].Hits != c.Count {
				t.Errorf("snapshot %d: %s has count %d but %d hits today: not one moment", i, name, c.Count, points[0].Hits)
			}
			total += c.Count
		}
		t.Logf("snapshot %d: %d bytes, %d increments", i, n, total)
		time.Sleep(20 * time.Millisecond) // let the writers move on between snapshots
	}
	close(stop)
	wg.Wait()
}
