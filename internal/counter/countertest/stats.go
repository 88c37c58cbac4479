package countertest

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Clock is a settable clock for stores that accept one. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// StatsHarness is one store under the statistics suite.
type StatsHarness struct {
	// Store reads the time from Clock.
	Store counter.Store
	Clock *Clock
	// Sync returns once every change made so far shows in Stats; nil for a
	// store whose statistics are exact at once.
	Sync func(t *testing.T)
}

// RunStats runs the statistics conformance suite. newHarness returns an
// empty store on a clock; it is called once per subtest.
func RunStats(t *testing.T, newHarness func(t *testing.T) StatsHarness) {
	runStats(t, newHarness, true)
}

// runStats runs the statistics cases; saturation is left out where it
// would only repeat the bucket arithmetic (RunStatsSharded: its 1,028 sets
// are transactions across every shard, two minutes of make test on
// DynamoDB Local, and the buckets it checks do not depend on the items
// the hits went to).
func runStats(t *testing.T, newHarness func(t *testing.T) StatsHarness, saturation bool) {
	t.Run("EveryBucketExact", func(t *testing.T) { testStatsExact(t, newHarness(t)) })
	t.Run("Defaults", func(t *testing.T) { testStatsDefaults(t, newHarness(t)) })
	t.Run("Invalid", func(t *testing.T) { testStatsInvalid(t, newHarness(t)) })
	t.Run("DeleteDropsHistory", func(t *testing.T) { testStatsDelete(t, newHarness(t)) })
	t.Run("KeyedWrites", func(t *testing.T) { testStatsKeyed(t, newHarness(t)) })
	if saturation {
		t.Run("Saturation", func(t *testing.T) { testStatsSaturation(t, newHarness(t)) })
	}
	t.Run("HitsThatCreate", func(t *testing.T) { testStatsHitsThatCreate(t, newHarness(t)) })
}

// testStatsHitsThatCreate checks that OpHit is a hit whether it creates the
// counter or not: racing hits on a missing counter all show in its stats,
// the creating one included (issue 19, finding 8), while a create, a set
// that creates and a refused hit add nothing.
func testStatsHitsThatCreate(t *testing.T, h StatsHarness) {
	s := h.Store
	h.Clock.Set(statsEpoch.Add(10 * time.Minute))
	const hits = 16
	var wg sync.WaitGroup
	for range hits {
		wg.Go(func() {
			if _, err := s.Apply(ctx(t), counter.Hit("viewed")); err != nil {
				t.Errorf("Apply(hit): %v", err)
			}
		})
	}
	wg.Wait()
	h.Clock.Set(statsEpoch.Add(70 * time.Minute))
	if _, err := s.Apply(ctx(t), counter.Hit("viewed")); err != nil {
		t.Fatalf("Apply(hit): %v", err)
	}
	mustCreate(t, s, "made", 0)
	if _, _, err := set(t, s, "set-made", 3); err != nil {
		t.Fatalf("Set: %v", err)
	}
	mustCreate(t, s, "full", counter.MaxCount)
	_, err := s.Apply(ctx(t), counter.Hit("full"))
	wantCode(t, "Apply(hit at MaxCount)", err, counter.OutOfRange)
	h.sync(t)
	q := counter.StatsQuery{Period: counter.Hour, From: statsEpoch, To: statsEpoch.Add(time.Hour)}
	want := map[string][]int64{"viewed": {hits, 1}, "made": {0, 0}, "set-made": {0, 0}, "full": {0, 0}}
	for name, want := range want {
		points, err := s.Stats(ctx(t), name, q)
		if err != nil {
			t.Fatalf("Stats(%q): %v", name, err)
		}
		if got := []int64{points[0].Hits, points[1].Hits}; !slices.Equal(got, want) {
			t.Errorf("%s: hits per hour %v, want %v", name, got, want)
		}
	}
}

// testStatsSaturation checks that a bucket's hits never wrap and never fail
// a query: a bucket keeps the exact sum of its increments, and Stats shows
// it saturated at the int64 bounds. Increments of MaxCount, each after a
// set to 0 (not a hit) that makes room for it, push an hour past
// math.MaxInt64; the next hour takes 3 × MaxCount back, so the day's sum
// fits again and shows exactly. (Issue 19, finding 5: the memory store
// wrapped; DynamoDB failed every query covering the bucket.) The lower
// bound is symmetric; each store's own tests check it, as it costs as many
// round trips again.
func testStatsSaturation(t *testing.T, h StatsHarness) {
	s := h.Store
	const n = 1025 // n × MaxCount > math.MaxInt64
	h.Clock.Set(statsEpoch.Add(-time.Minute))
	mustCreate(t, s, "huge", 0)
	push := func(hour int, start, by int64, times int) {
		t.Helper()
		for i := range times {
			h.Clock.Set(statsEpoch.Add(time.Duration(hour)*time.Hour + time.Duration(i)*time.Millisecond))
			if _, _, err := set(t, s, "huge", start); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if _, err := increment(t, s, "huge", by); err != nil {
				t.Fatalf("Increment #%d by %d: %v", i, by, err)
			}
		}
	}
	push(0, 0, counter.MaxCount, n)
	push(1, counter.MaxCount, -counter.MaxCount, 3)
	h.sync(t)
	hours, err := s.Stats(ctx(t), "huge", counter.StatsQuery{Period: counter.Hour, From: statsEpoch, To: statsEpoch.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Stats(hours): %v", err)
	}
	if got, want := []int64{hours[0].Hits, hours[1].Hits}, []int64{math.MaxInt64, -3 * counter.MaxCount}; !slices.Equal(got, want) {
		t.Errorf("hits per hour %v, want %v: saturated at math.MaxInt64, then exact", got, want)
	}
	days, err := s.Stats(ctx(t), "huge", counter.StatsQuery{Period: counter.Day, From: statsEpoch, To: statsEpoch})
	if err != nil {
		t.Fatalf("Stats(day): %v", err)
	}
	if got, want := days[0].Hits, (n-3)*counter.MaxCount; got != want {
		t.Errorf("hits of the day %d, want %d: the exact sum, which fits", got, want)
	}
}

// testStatsKeyed checks that writes with an idempotency key count as the
// same writes without one: a keyed increment is a hit, once however often
// it is replayed; keyed creates and sets are not hits.
func testStatsKeyed(t *testing.T, h StatsHarness) {
	s := h.Store
	h.Clock.Set(statsEpoch)
	apply := func(key string, w counter.Write) {
		t.Helper()
		if _, err := s.Apply(ctx(t), w.WithKey(counter.IdempotencyKey{Key: key})); err != nil {
			t.Fatalf("Apply(%+v, key %q): %v", w, key, err)
		}
	}
	apply("create", counter.Write{Op: counter.OpCreate, Name: "keyed", Count: 50})
	for i, at := range []time.Duration{time.Minute, 2 * time.Minute, 70 * time.Minute} {
		h.Clock.Set(statsEpoch.Add(at))
		for range 3 { // the first applies, the others are replays
			apply(fmt.Sprintf("inc-%d", i), counter.Write{Op: counter.OpIncrement, Name: "keyed", By: int64(i + 2)})
		}
	}
	h.Clock.Set(statsEpoch.Add(71 * time.Minute))
	apply("set", counter.Write{Op: counter.OpSet, Name: "keyed", Count: 1000})
	apply("set", counter.Write{Op: counter.OpSet, Name: "keyed", Count: 1000})
	apply("set-new", counter.Write{Op: counter.OpSet, Name: "keyed-new", Count: 7})
	h.sync(t)
	q := counter.StatsQuery{Period: counter.Hour, From: statsEpoch, To: statsEpoch.Add(time.Hour)}
	points, err := s.Stats(ctx(t), "keyed", q)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if got := []int64{points[0].Hits, points[1].Hits}; got[0] != 2+3 || got[1] != 4 {
		t.Errorf("hits per hour %v, want [5 4]", got)
	}
	if points, err := s.Stats(ctx(t), "keyed-new", q); err != nil || points[0].Hits != 0 || points[1].Hits != 0 {
		t.Errorf("Stats(keyed-new) = %+v, %v; want no hits", points, err)
	}
}

func (h StatsHarness) sync(t *testing.T) {
	t.Helper()
	if h.Sync != nil {
		h.Sync(t)
	}
}

// statsEpoch is where the suite's histories start: midnight UTC five days
// before the test binary started. Histories are dated from now, never on a
// calendar date: a store may expire old buckets for real (DynamoDB keeps
// hour buckets 8 days, and DynamoDB Local applies TTL), so a history in the
// past would vanish, on some run, while a test reads it.
var statsEpoch = counter.Day.Start(time.Now()).AddDate(0, 0, -5)

// testStatsExact spreads increments of both signs over hours and days,
// among creates, sets and refused increments that are not hits, and
// compares every hour and day bucket with the exact sum.
func testStatsExact(t *testing.T, h StatsHarness) {
	s := h.Store
	h.Clock.Set(statsEpoch.Add(-time.Hour))
	mustCreate(t, s, "spread", 1000)
	mustCreate(t, s, "quiet", 5)
	wantHours := map[int64]int64{}
	wantDays := map[int64]int64{}
	// 3 days and a bit, an increment every 47 minutes, by 1..9 or -1..-3.
	var last time.Time
	for i := 0; i < 100; i++ {
		at := statsEpoch.Add(time.Duration(i)*47*time.Minute + time.Duration(i)*time.Second)
		h.Clock.Set(at)
		by := int64(i%9 + 1)
		if i%5 == 4 {
			by = -int64(i%3 + 1)
		}
		if _, err := increment(t, s, "spread", by); err != nil {
			t.Fatalf("Increment #%d: %v", i, err)
		}
		wantHours[counter.Hour.Start(at).Unix()] += by
		wantDays[counter.Day.Start(at).Unix()] += by
		switch i % 17 {
		case 3: // a set is not a hit
			if _, _, err := set(t, s, "spread", 500+int64(i)); err != nil {
				t.Fatalf("Set: %v", err)
			}
		case 7: // nor is a refused increment
			_, err := increment(t, s, "spread", -counter.MaxCount)
			wantCode(t, "Increment(out of range)", err, counter.OutOfRange)
		case 11: // nor a set that creates, nor a create
			if _, _, err := set(t, s, fmt.Sprintf("made-%d", i), 9); err != nil {
				t.Fatalf("Set(new): %v", err)
			}
			mustCreate(t, s, fmt.Sprintf("new-%d", i), 4)
		}
		last = at
	}
	h.sync(t)

	check := func(name string, q counter.StatsQuery, want map[int64]int64) {
		t.Helper()
		points, err := s.Stats(ctx(t), name, q)
		if err != nil {
			t.Fatalf("Stats(%q, %+v): %v", name, q, err)
		}
		d := q.Period.Duration()
		q, err = q.Resolve(h.Clock.Now())
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if n := int(q.To.Sub(q.From)/d) + 1; len(points) != n {
			t.Fatalf("Stats(%q, %s): %d points, want %d", name, q.Period, len(points), n)
		}
		var total, wantTotal int64
		for start, v := range want {
			if !time.Unix(start, 0).Before(q.From) && !time.Unix(start, 0).After(q.To) {
				wantTotal += v
			}
		}
		for i, p := range points {
			if wantStart := q.From.Add(time.Duration(i) * d); !p.Start.Equal(wantStart) || p.Start.Location() != time.UTC {
				t.Fatalf("point %d starts %v, want %v UTC", i, p.Start, wantStart)
			}
			if p.Hits != want[p.Start.Unix()] {
				t.Errorf("Stats(%q, %s) at %v: hits %d, want %d", name, q.Period, p.Start, p.Hits, want[p.Start.Unix()])
			}
			total += p.Hits
		}
		if total != wantTotal {
			t.Errorf("Stats(%q, %s): total %d, want %d", name, q.Period, total, wantTotal)
		}
	}
	from := statsEpoch.Add(-2 * time.Hour)
	to := last.Add(2 * time.Hour)
	check("spread", counter.StatsQuery{Period: counter.Hour, From: from, To: to}, wantHours)
	check("spread", counter.StatsQuery{Period: counter.Day, From: from, To: to}, wantDays)
	check("quiet", counter.StatsQuery{Period: counter.Hour, From: from, To: to}, nil)
	check("made-11", counter.StatsQuery{Period: counter.Day, From: from, To: to}, nil)
	// A range inside the history: a few hours, one day.
	mid := statsEpoch.Add(30 * time.Hour)
	check("spread", counter.StatsQuery{Period: counter.Hour, From: mid, To: mid.Add(5 * time.Hour)}, wantHours)
	check("spread", counter.StatsQuery{Period: counter.Day, From: mid, To: mid}, wantDays)
}

func testStatsDefaults(t *testing.T, h StatsHarness) {
	s := h.Store
	now := time.Now().UTC()
	h.Clock.Set(now.Add(-50 * 24 * time.Hour))
	mustCreate(t, s, "d", 0)
	// One hit in the current hour, one 47 hours ago (the oldest default
	// hour), one 48 hours ago (outside it); one 29 days ago, one 30.
	hits := []time.Duration{0, 47 * time.Hour, 48 * time.Hour, 29 * 24 * time.Hour, 30 * 24 * time.Hour}
	for _, ago := range hits {
		h.Clock.Set(now.Add(-ago))
		if _, err := increment(t, s, "d", 1); err != nil {
			t.Fatalf("Increment: %v", err)
		}
	}
	h.Clock.Set(now)
	h.sync(t)
	tests := map[string]struct {
		q          counter.StatsQuery
		wantPoints int
		wantFirst  time.Time
		wantHits   int64
	}{
		"hours": {counter.StatsQuery{Period: counter.Hour}, 48, counter.Hour.Start(now).Add(-47 * time.Hour), 2},
		"days":  {counter.StatsQuery{Period: counter.Day}, 30, counter.Day.Start(now).Add(-29 * 24 * time.Hour), 5 - 1},
		"hours to": {
			counter.StatsQuery{Period: counter.Hour, To: now.Add(-47 * time.Hour)}, 48,
			counter.Hour.Start(now).Add(-94 * time.Hour), 2,
		},
		"days from": {
			counter.StatsQuery{Period: counter.Day, From: now.Add(-30 * 24 * time.Hour)}, 31,
			counter.Day.Start(now).Add(-30 * 24 * time.Hour), 5,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			points, err := s.Stats(ctx(t), "d", tc.q)
			if err != nil {
				t.Fatalf("Stats: %v", err)
			}
			if len(points) != tc.wantPoints {
				t.Fatalf("%d points, want %d", len(points), tc.wantPoints)
			}
			if !points[0].Start.Equal(tc.wantFirst) {
				t.Errorf("first point %v, want %v", points[0].Start, tc.wantFirst)
			}
			var total int64
			for _, p := range points {
				total += p.Hits
			}
			if total != tc.wantHits {
				t.Errorf("hits %d, want %d", total, tc.wantHits)
			}
		})
	}
}

func testStatsInvalid(t *testing.T, h StatsHarness) {
	s := h.Store
	h.Clock.Set(statsEpoch)
	mustCreate(t, s, "v", 0)
	tests := map[string]struct {
		name     string
		q        counter.StatsQuery
		wantCode string
	}{
		"unknown period": {"v", counter.StatsQuery{Period: "week"}, counter.InvalidRequest},
		"no period":      {"v", counter.StatsQuery{}, counter.InvalidRequest},
		"from after to": {"v", counter.StatsQuery{Period: counter.Hour, From: statsEpoch.Add(time.Hour), To: statsEpoch},
			counter.InvalidRequest},
		"1001 hours": {"v", counter.StatsQuery{Period: counter.Hour, From: statsEpoch.Add(-1000 * time.Hour), To: statsEpoch},
			counter.InvalidRequest},
		"centuries": {"v", counter.StatsQuery{Period: counter.Day, From: time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC), To: statsEpoch},
			counter.InvalidRequest},
		"to before 1970": {"v", counter.StatsQuery{Period: counter.Day, To: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
			counter.InvalidRequest},
		"from before 1970": {"v", counter.StatsQuery{Period: counter.Hour, From: time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), To: time.Unix(0, 0)},
			counter.InvalidRequest},
		"missing counter":     {"nope", counter.StatsQuery{Period: counter.Day}, counter.NotFound},
		"missing and invalid": {"nope", counter.StatsQuery{Period: "week"}, counter.InvalidRequest},
		"1000 hours":          {"v", counter.StatsQuery{Period: counter.Hour, From: statsEpoch.Add(-999 * time.Hour), To: statsEpoch}, ""},
		"same hour":           {"v", counter.StatsQuery{Period: counter.Hour, From: statsEpoch.Add(59 * time.Minute), To: statsEpoch}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			points, err := s.Stats(ctx(t), tc.name, tc.q)
			wantCode(t, "Stats", err, tc.wantCode)
			if err == nil && len(points) == 0 {
				t.Errorf("no points")
			}
		})
	}
}

func testStatsDelete(t *testing.T, h StatsHarness) {
	s := h.Store
	h.Clock.Set(statsEpoch)
	mustCreate(t, s, "again", 0)
	for i := range 3 {
		h.Clock.Set(statsEpoch.Add(time.Duration(i) * time.Minute))
		if _, err := increment(t, s, "again", 5); err != nil {
			t.Fatalf("Increment: %v", err)
		}
	}
	h.sync(t)
	q := counter.StatsQuery{Period: counter.Hour, From: statsEpoch, To: statsEpoch}
	if points, err := s.Stats(ctx(t), "again", q); err != nil || points[0].Hits != 15 {
		t.Fatalf("Stats before delete = %+v, %v; want 15 hits", points, err)
	}
	h.Clock.Set(statsEpoch.Add(10 * time.Minute))
	if err := del(t, s, "again"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Stats(ctx(t), "again", q)
	wantCode(t, "Stats(deleted)", err, counter.NotFound)

	// Created again in the same hour: no history, at once; then its own.
	h.Clock.Set(statsEpoch.Add(11 * time.Minute))
	if _, _, err := set(t, s, "again", 1); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if points, err := s.Stats(ctx(t), "again", q); err != nil || points[0].Hits != 0 {
		t.Fatalf("Stats after re-create = %+v, %v; want 0 hits", points, err)
	}
	h.Clock.Set(statsEpoch.Add(12 * time.Minute))
	if _, err := increment(t, s, "again", 2); err != nil {
		t.Fatalf("Increment: %v", err)
	}
	h.sync(t)
	if points, err := s.Stats(ctx(t), "again", q); err != nil || points[0].Hits != 2 {
		t.Fatalf("Stats after re-create and increment = %+v, %v; want 2 hits", points, err)
	}
}
