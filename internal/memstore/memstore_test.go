package memstore_test

import (
	"context"
	"time"

	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

func TestConformance(t *testing.T) {
	countertest.Run(t, func(*testing.T) counter.Store { return memstore.New() })
}

func TestStatsConformance(t *testing.T) {
	countertest.RunStats(t, func(*testing.T) countertest.StatsHarness {
		clock := countertest.NewClock(time.Now())
		return countertest.StatsHarness{Store: memstore.New(memstore.WithClock(clock.Now)), Clock: clock}
	})
}

// TestStatsRetention checks that history is pruned as hits arrive: hours
// older than 8 days and days older than 400 are dropped, newer ones kept.
func TestStatsRetention(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := countertest.NewClock(start)
	s := memstore.New(memstore.WithClock(clock.Now))
	ctx := context.Background()
	if _, err := s.Create(ctx, "r", 0); err != nil {
		t.Fatal(err)
	}
	hits := func(p counter.Period, at time.Time) int64 {
		t.Helper()
		points, err := s.Stats(ctx, "r", counter.StatsQuery{Period: p, From: at, To: at})
		if err != nil {
			t.Fatal(err)
		}
		return points[0].Hits
	}
	later := start.Add(9 * 24 * time.Hour)
	for _, at := range []time.Time{start, start.Add(25 * time.Hour), later} {
		clock.Set(at)
		if _, err := s.Increment(ctx, "r", 1); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits(counter.Hour, start); got != 0 {
		t.Errorf("hour 9 days old: %d hits, want 0 (dropped)", got)
	}
	if got := hits(counter.Hour, start.Add(25*time.Hour)); got != 1 {
		t.Errorf("hour 7 days 23 hours old: %d hits, want 1 (kept)", got)
	}
	if got := hits(counter.Day, start); got != 1 {
		t.Errorf("day 9 days old: %d hits, want 2 (kept)", got)
	}
	clock.Set(start.Add(402 * 24 * time.Hour))
	if _, err := s.Increment(ctx, "r", 1); err != nil {
		t.Fatal(err)
	}
	if got := hits(counter.Day, start); got != 0 {
		t.Errorf("day 402 days old: %d hits, want 0 (dropped)", got)
	}
	if got := hits(counter.Day, later); got != 1 {
		t.Errorf("day 393 days old: %d hits, want 1 (kept)", got)
	}
}
