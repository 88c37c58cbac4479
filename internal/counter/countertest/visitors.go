package countertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// RunVisitors checks, for a store that counts unique visitors
// (counter.Write.Visitor, counter.Point.Uniques), that every write that
// adds hits counts its visitor in its buckets, whichever way the store
// applies it, and that a write without a visitor counts none (not the
// visitor of the write before it): unkeyed and keyed increments, replays,
// hits, decrements; once on counters in one item and once on counters
// spread over Shards items, where keyed increments and those that no
// single item can take are written otherwise. newHarness returns an empty
// store on a clock; it is called once per subtest.
func RunVisitors(t *testing.T, newHarness func(t *testing.T) StatsHarness) {
	t.Run("OneItem", func(t *testing.T) { testVisitors(t, newHarness(t)) })
	t.Run("Sharded", func(t *testing.T) {
		h := newHarness(t)
		h.Store = newSharding(h.Store)
		testVisitors(t, h)
	})
}

// testVisitors writes, in one hour, an unkeyed increment, a keyed one
// (replayed twice) and a hit of three visitors, and the first visitor
// again; in the next hour, keyed and unkeyed increments without a visitor
// (the counter's last write had one), a keyed increment and a keyed
// decrement of two new visitors, and an unkeyed decrement of nearly the
// whole count by a third (on a sharded counter, more than an item holds:
// spread across items). Each hour's and the day's uniques are exact.
func testVisitors(t *testing.T, h StatsHarness) {
	s := h.Store
	const name = "visited"
	h.Clock.Set(statsEpoch.Add(time.Minute))
	mustCreate(t, s, name, 0)
	keys := 0
	apply := func(w counter.Write, keyed bool) {
		t.Helper()
		if !keyed {
			if _, err := s.Apply(ctx(t), w); err != nil {
				t.Fatalf("Apply(%+v): %v", w, err)
			}
			return
		}
		keys++
		w = w.WithKey(counter.IdempotencyKey{Key: fmt.Sprintf("visit-%d", keys)})
		for i := range 3 { // the first applies, the others are replays
			if res, err := s.Apply(ctx(t), w); err != nil || res.Replayed != (i > 0) {
				t.Fatalf("Apply(%+v) #%d: %+v, %v", w, i+1, res, err)
			}
		}
	}
	inc := func(by int64, v counter.Visitor) counter.Write {
		return counter.Increment(name, by).WithVisitor(v)
	}

	apply(inc(1, 1), false)
	apply(inc(1, 2), true)
	apply(counter.Hit(name).WithVisitor(3), false)
	apply(inc(1, 1), false)

	h.Clock.Set(statsEpoch.Add(70 * time.Minute))
	apply(inc(1, 0), true) // as the admin route's, keyed
	apply(inc(1, 0), false)
	apply(inc(1, 4), true)
	apply(inc(-2, 5), true)
	apply(inc(-4, 6), false)
	h.sync(t)

	for _, tc := range []struct {
		period        counter.Period
		hits, uniques []int64
	}{
		{counter.Hour, []int64{4, -3}, []int64{3, 3}},
		{counter.Day, []int64{1}, []int64{6}},
	} {
		q := counter.StatsQuery{Period: tc.period, From: statsEpoch, To: statsEpoch.Add(time.Hour)}
		if tc.period == counter.Day {
			q.To = statsEpoch
		}
		points, err := s.Stats(ctx(t), name, q)
		if err != nil {
			t.Fatalf("Stats(%s): %v", tc.period, err)
		}
		var hits, uniques []int64
		for _, p := range points {
			hits, uniques = append(hits, p.Hits), append(uniques, p.Uniques)
		}
		if fmt.Sprint(hits) != fmt.Sprint(tc.hits) || fmt.Sprint(uniques) != fmt.Sprint(tc.uniques) {
			t.Errorf("per %s: hits %v, uniques %v; want hits %v, uniques %v", tc.period, hits, uniques, tc.hits, tc.uniques)
		}
	}
	if c, err := s.Get(ctx(t), name); err != nil || c.Count != 1 {
		t.Errorf("Get = %+v, %v; want count 1", c, err)
	}
}
