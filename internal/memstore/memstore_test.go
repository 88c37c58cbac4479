package memstore_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

func TestConformance(t *testing.T) {
	countertest.Run(t, func(*testing.T) counter.Store { return memstore.New() })
}

// TestConformanceSharded: the memory store needs no shards, and answers
// as a store that spreads counters over them does.
func TestConformanceSharded(t *testing.T) {
	countertest.RunSharded(t, func(*testing.T) counter.Store { return memstore.New() })
}

func TestStatsConformance(t *testing.T) {
	newHarness := func(*testing.T) countertest.StatsHarness {
		clock := countertest.NewClock(time.Now())
		return countertest.StatsHarness{Store: memstore.New(memstore.WithClock(clock.Now)), Clock: clock}
	}
	countertest.RunStats(t, newHarness)
	t.Run("Sharded", func(t *testing.T) { countertest.RunStatsSharded(t, newHarness) })
}

// TestStatsRetention checks that history is pruned as hits arrive: hours
// older than 8 days and days older than 400 are dropped, newer ones kept.
func TestStatsRetention(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := countertest.NewClock(start)
	s := memstore.New(memstore.WithClock(clock.Now))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("r", 0)); err != nil {
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
		if _, err := s.Apply(ctx, counter.Increment("r", 1)); err != nil {
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
	if _, err := s.Apply(ctx, counter.Increment("r", 1)); err != nil {
		t.Fatal(err)
	}
	if got := hits(counter.Day, start); got != 0 {
		t.Errorf("day 402 days old: %d hits, want 0 (dropped)", got)
	}
	if got := hits(counter.Day, later); got != 1 {
		t.Errorf("day 393 days old: %d hits, want 1 (kept)", got)
	}
}

// TestListFollowsEveryChange checks the ordered index List pages through
// against a model after random creates, sets (which may create) and deletes,
// walking the whole store with pages of every size from 1 to 7.
func TestListFollowsEveryChange(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	model := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		name := fmt.Sprintf("n%03d", rng.IntN(300))
		switch rng.IntN(3) {
		case 0:
			_, err := s.Apply(ctx, counter.Create(name, 1))
			if model[name] != (err != nil) {
				t.Fatalf("create %s: err %v, exists %v", name, err, model[name])
			}
			model[name] = true
		case 1:
			if _, err := s.Apply(ctx, counter.Set(name, 2)); err != nil {
				t.Fatalf("set %s: %v", name, err)
			}
			model[name] = true
		case 2:
			_, err := s.Apply(ctx, counter.Delete(name))
			if model[name] != (err == nil) {
				t.Fatalf("delete %s: err %v, exists %v", name, err, model[name])
			}
			delete(model, name)
		}
	}
	want := slices.Sorted(maps.Keys(model))
	for limit := 1; limit <= 7; limit++ {
		var got []string
		cursor := ""
		for {
			page, err := s.List(ctx, counter.ListOptions{Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Counters) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page.Counters))
			}
			for _, c := range page.Counters {
				got = append(got, c.Name)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: listed %d names, want %d\n got %v\nwant %v", limit, len(got), len(want), got, want)
		}
	}
}
