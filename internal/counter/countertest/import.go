package countertest

import (
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// RunImport runs the conformance suite of counter.Importer: the harness's
// store must implement it. newHarness returns an empty store on a clock;
// it is called once per subtest.
func RunImport(t *testing.T, newHarness func(t *testing.T) StatsHarness) {
	t.Run("RestoresCountTimesHistory", func(t *testing.T) { testImportRestores(t, newHarness(t)) })
	t.Run("Existing", func(t *testing.T) { testImportExisting(t, newHarness(t)) })
	t.Run("Invalid", func(t *testing.T) { testImportInvalid(t, newHarness(t)) })
}

func importer(t *testing.T, h StatsHarness) counter.Importer {
	t.Helper()
	imp, ok := h.Store.(counter.Importer)
	if !ok {
		t.Fatalf("%T does not implement counter.Importer", h.Store)
	}
	return imp
}

// importNow is where the import suite's clock stands: now, so that the
// histories it imports are within retention (and not expired by a real
// TTL, as DynamoDB Local applies it).
func importNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func testImportRestores(t *testing.T, h StatsHarness) {
	now := importNow()
	h.Clock.Set(now)
	hour, day := counter.Hour.Start(now), counter.Day.Start(now)
	a := counter.Archive{
		Counter: counter.Counter{Name: "moved", Count: 1234, CreatedAt: now.Add(-300 * 24 * time.Hour), UpdatedAt: now.Add(-time.Minute)},
		Hours: []counter.Point{
			{Start: hour.Add(-9 * 24 * time.Hour), Hits: 5}, // past retention: left out
			{Start: hour.Add(-3 * time.Hour), Hits: 7},
			{Start: hour.Add(-time.Hour), Hits: -2},
			{Start: hour, Hits: 3},
		},
		Days: []counter.Point{
			{Start: day.Add(-450 * 24 * time.Hour), Hits: 9}, // past retention: left out
			{Start: day.Add(-200 * 24 * time.Hour), Hits: 1000},
			{Start: day, Hits: 8},
		},
	}
	if err := importer(t, h).Import(ctx(t), a); err != nil {
		t.Fatalf("Import: %v", err)
	}
	got := mustGet(t, h.Store, "moved")
	if got.Count != a.Counter.Count || !got.CreatedAt.Equal(a.Counter.CreatedAt) || !got.UpdatedAt.Equal(a.Counter.UpdatedAt) {
		t.Errorf("after Import: %+v, want %+v", got, a.Counter)
	}
	// One more hit after the import adds to the imported hour.
	if _, err := increment(t, h.Store, "moved", 1); err != nil {
		t.Fatal(err)
	}
	h.sync(t)
	wantHits := func(p counter.Period, from time.Time, want map[time.Time]int64) {
		t.Helper()
		points, err := h.Store.Stats(ctx(t), "moved", counter.StatsQuery{Period: p, From: from, To: now})
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		for _, pt := range points {
			if pt.Hits != want[pt.Start] {
				t.Errorf("%s %s: %d hits, want %d", p, pt.Start.Format(time.RFC3339), pt.Hits, want[pt.Start])
			}
		}
	}
	wantHits(counter.Hour, hour.Add(-10*24*time.Hour), map[time.Time]int64{
		hour.Add(-3 * time.Hour): 7, hour.Add(-time.Hour): -2, hour: 4,
	})
	wantHits(counter.Day, day.Add(-455*24*time.Hour), map[time.Time]int64{
		day.Add(-200 * 24 * time.Hour): 1000, day: 9,
	})
}

func testImportExisting(t *testing.T, h StatsHarness) {
	h.Clock.Set(importNow())
	mustCreate(t, h.Store, "taken", 3)
	now := importNow()
	err := importer(t, h).Import(ctx(t), counter.Archive{Counter: counter.Counter{Name: "taken", Count: 99, CreatedAt: now, UpdatedAt: now}})
	wantCode(t, "Import(existing)", err, counter.AlreadyExists)
	if got := mustGet(t, h.Store, "taken"); got.Count != 3 {
		t.Errorf("count after a refused Import: %d, want 3", got.Count)
	}
}

func testImportInvalid(t *testing.T, h StatsHarness) {
	now := importNow()
	h.Clock.Set(now)
	hour := counter.Hour.Start(now)
	ok := counter.Counter{Name: "x", Count: 1, CreatedAt: now.Add(-time.Hour), UpdatedAt: now}
	tests := map[string]struct {
		a    counter.Archive
		want string
	}{
		"bad name":              {counter.Archive{Counter: counter.Counter{Name: "a b", CreatedAt: now, UpdatedAt: now}}, counter.InvalidName},
		"negative count":        {counter.Archive{Counter: counter.Counter{Name: "x", Count: -1, CreatedAt: now, UpdatedAt: now}}, counter.InvalidRequest},
		"no times":              {counter.Archive{Counter: counter.Counter{Name: "x"}}, counter.InvalidRequest},
		"updated before create": {counter.Archive{Counter: counter.Counter{Name: "x", CreatedAt: now, UpdatedAt: now.Add(-time.Hour)}}, counter.InvalidRequest},
		"bucket not at an hour": {counter.Archive{Counter: ok, Hours: []counter.Point{{Start: hour.Add(time.Minute), Hits: 1}}}, counter.InvalidRequest},
		"buckets out of order": {counter.Archive{Counter: ok, Hours: []counter.Point{{Start: hour, Hits: 1}, {Start: hour.Add(-time.Hour), Hits: 1}}},
			counter.InvalidRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			wantCode(t, "Import", importer(t, h).Import(ctx(t), tc.a), tc.want)
		})
	}
	if _, err := h.Store.Get(ctx(t), "x"); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("after refused imports, Get(x): %v, want not_found", err)
	}
}
