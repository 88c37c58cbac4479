package memstore_test

import (
	"context"
	"fmt"
	"maps"
	"math"
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
	t.Run("Visitors", func(t *testing.T) { countertest.RunVisitors(t, newHarness) })
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

// TestStatsSaturatesBelow is the conformance suite's Saturation at the
// other bound: an hour past math.MinInt64 shows math.MinInt64, and the day
// that takes some back shows its exact sum.
func TestStatsSaturatesBelow(t *testing.T) {
	start := counter.Day.Start(time.Now()).AddDate(0, 0, -1)
	clock := countertest.NewClock(start)
	s := memstore.New(memstore.WithClock(clock.Now))
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("deep", 0)); err != nil {
		t.Fatal(err)
	}
	push := func(hour, start, by int64, times int) {
		t.Helper()
		clock.Set(counter.Day.Start(clock.Now()).Add(time.Duration(hour) * time.Hour))
		for range times {
			if _, err := s.Apply(ctx, counter.Set("deep", start)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Apply(ctx, counter.Increment("deep", by)); err != nil {
				t.Fatal(err)
			}
		}
	}
	push(0, counter.MaxCount, -counter.MaxCount, 1025)
	push(1, 0, counter.MaxCount, 3)
	q := func(p counter.Period) []int64 {
		points, err := s.Stats(ctx, "deep", counter.StatsQuery{Period: p, From: start, To: start.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var hits []int64
		for _, pt := range points {
			hits = append(hits, pt.Hits)
		}
		return hits
	}
	if got, want := q(counter.Hour), []int64{math.MinInt64, 3 * counter.MaxCount}; !slices.Equal(got, want) {
		t.Errorf("hits per hour %v, want %v", got, want)
	}
	if got, want := q(counter.Day), []int64{-1022 * counter.MaxCount}; !slices.Equal(got, want) {
		t.Errorf("hits of the day %v, want %v", got, want)
	}
}

// TestMaxCounters: with WithMaxCounters(2), every write that would create
// a third counter (create, set, hit; keyed or not) is StoreFull and
// changes nothing, writes to the two that exist go on, and a delete makes
// room; a keyed create refused as full is not recorded, so its retry with
// the same key applies once there is room.
func TestMaxCounters(t *testing.T) {
	s := memstore.New(memstore.WithMaxCounters(2))
	ctx := context.Background()
	apply := func(w counter.Write) (counter.Result, error) { return s.Apply(ctx, w) }
	if _, err := apply(counter.Create("a", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(counter.Set("b", 2)); err != nil {
		t.Fatal(err)
	}
	key := counter.IdempotencyKey{Key: "k"}
	for name, w := range map[string]counter.Write{
		"create":       counter.Create("c", 0),
		"set":          counter.Set("c", 5),
		"hit":          counter.Hit("c"),
		"keyed create": counter.Create("c", 0).WithKey(key),
		"keyed set":    counter.Set("c", 5).WithKey(key),
	} {
		_, err := apply(w)
		if counter.ErrorCode(err) != counter.StoreFull {
			t.Errorf("%s of a third counter: got %v, want %s", name, err, counter.StoreFull)
		}
	}
	if _, err := s.Get(ctx, "c"); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("a refused write created c: %v", err)
	}
	for name, w := range map[string]counter.Write{
		"set":       counter.Set("a", 7),
		"increment": counter.Increment("a", 1),
		"hit":       counter.Hit("b"),
	} {
		if _, err := apply(w); err != nil {
			t.Errorf("%s of an existing counter when full: %v", name, err)
		}
	}
	if _, err := apply(counter.Delete("a")); err != nil {
		t.Fatal(err)
	}
	r, err := apply(counter.Create("c", 0).WithKey(key))
	if err != nil || !r.Created || r.Replayed {
		t.Errorf("keyed create after a delete: %+v, %v; want it applied (the refusal was not recorded)", r, err)
	}
	_, err = apply(counter.Create("d", 0))
	if counter.ErrorCode(err) != counter.StoreFull {
		t.Errorf("create of a third counter again: got %v, want %s", err, counter.StoreFull)
	}
}

func TestImportConformance(t *testing.T) {
	countertest.RunImport(t, func(*testing.T) countertest.StatsHarness {
		clock := countertest.NewClock(time.Now())
		return countertest.StatsHarness{Store: memstore.New(memstore.WithClock(clock.Now)), Clock: clock}
	})
}
