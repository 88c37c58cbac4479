// Package countertest is the conformance suite every counter.Store
// implementation must pass. A store implements five methods: Apply (every
// write: create, set, increment and delete, with or without an idempotency
// key), Get, List, Stats and Ping. Run checks Apply's unkeyed and keyed
// writes, Get, List and Ping (each operation and error, concurrent
// increments, pagination, exactly-once keyed writes); RunStats checks Stats.
package countertest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Run runs the conformance suite. newStore returns an empty store; it is
// called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) counter.Store) {
	runCases(t, newStore, cases)
	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// conformanceCase is one case of the suite, on a new store.
type conformanceCase struct {
	name string
	test func(*testing.T, counter.Store)
}

// cases are Run's cases, in order.
var cases = []conformanceCase{
	{"Create", testCreate},
	{"Get", testGet},
	{"Increment", testIncrement},
	{"Set", testSet},
	{"Delete", testDelete},
	{"InvalidArguments", testInvalidArguments},
	{"ConcurrentIncrements", testConcurrentIncrements},
	{"ConcurrentCreate", testConcurrentCreate},
	{"Hit", testHit},
	{"ConcurrentHitsCreate", testConcurrentHitsCreate},
	{"List", testList},
	{"ListDuringChanges", testListDuringChanges},
	{"ListPrefix", testListPrefix},
	{"KeyedReplay", testKeyedReplay},
	{"KeyedReuse", testKeyedReuse},
	{"KeyedScope", testKeyedScope},
	{"KeyedInvalid", testKeyedInvalid},
	{"KeyedConcurrentSameKey", testKeyedConcurrentSameKey},
	{"KeyedConcurrentKeys", testKeyedConcurrentKeys},
}

func runCases(t *testing.T, newStore func(t *testing.T) counter.Store, cases []conformanceCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.test(t, newStore(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantCode fails t unless err carries the error code want.
func wantCode(t *testing.T, op string, err error, want string) {
	t.Helper()
	if got := counter.ErrorCode(err); got != want {
		t.Fatalf("%s: error code = %q (err %v), want %q", op, got, err, want)
	}
}

// create, increment, set and del apply one unkeyed write with Store.Apply
// and return what the write answers.
func create(t *testing.T, s counter.Store, name string, count int64) (counter.Counter, error) {
	r, err := s.Apply(ctx(t), counter.Create(name, count))
	if err == nil && !r.Created {
		t.Errorf("Apply(create %q): Created = false", name)
	}
	return r.Counter, err
}

func increment(t *testing.T, s counter.Store, name string, by int64) (counter.Counter, error) {
	r, err := s.Apply(ctx(t), counter.Increment(name, by))
	return r.Counter, err
}

func set(t *testing.T, s counter.Store, name string, count int64) (counter.Counter, bool, error) {
	r, err := s.Apply(ctx(t), counter.Set(name, count))
	return r.Counter, r.Created, err
}

func del(t *testing.T, s counter.Store, name string) error {
	r, err := s.Apply(ctx(t), counter.Delete(name))
	if r != (counter.Result{}) {
		t.Errorf("Apply(delete %q) = %+v, want a zero Result", name, r)
	}
	return err
}

func mustCreate(t *testing.T, s counter.Store, name string, count int64) counter.Counter {
	t.Helper()
	c, err := create(t, s, name, count)
	if err != nil {
		t.Fatalf("Create(%q, %d): %v", name, count, err)
	}
	return c
}

func mustGet(t *testing.T, s counter.Store, name string) counter.Counter {
	t.Helper()
	c, err := s.Get(ctx(t), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return c
}

func checkTimes(t *testing.T, c counter.Counter, before time.Time) {
	t.Helper()
	if c.CreatedAt.Location() != time.UTC || c.UpdatedAt.Location() != time.UTC {
		t.Errorf("%q: times not UTC: created %v, updated %v", c.Name, c.CreatedAt, c.UpdatedAt)
	}
	slack := time.Second // DynamoDB Local and the test clock are the same machine's
	if c.CreatedAt.Before(before.Add(-slack)) || c.CreatedAt.After(time.Now().Add(slack)) {
		t.Errorf("%q: created_at %v not near now", c.Name, c.CreatedAt)
	}
	if c.UpdatedAt.Before(c.CreatedAt) {
		t.Errorf("%q: updated_at %v before created_at %v", c.Name, c.UpdatedAt, c.CreatedAt)
	}
}

func testCreate(t *testing.T, s counter.Store) {
	before := time.Now()
	tests := []struct {
		name  string
		count int64
	}{
		{"zero", 0},
		{"ten", 10},
		{"max", counter.MaxCount},
		{"A.b_c-9", 3},
		{"Home", 1}, // names are case-sensitive: distinct from "home"
		{"home", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCreate(t, s, tt.name, tt.count)
			if c.Name != tt.name || c.Count != tt.count {
				t.Errorf("Create = %q %d, want %q %d", c.Name, c.Count, tt.name, tt.count)
			}
			checkTimes(t, c, before)
			if !c.CreatedAt.Equal(c.UpdatedAt) {
				t.Errorf("new counter: created_at %v != updated_at %v", c.CreatedAt, c.UpdatedAt)
			}
			got := mustGet(t, s, tt.name)
			if got.Count != tt.count || !got.CreatedAt.Equal(c.CreatedAt) || !got.UpdatedAt.Equal(c.UpdatedAt) {
				t.Errorf("Get after Create = %+v, want %+v", got, c)
			}
		})
	}
	t.Run("exists", func(t *testing.T) {
		_, err := create(t, s, "ten", 5)
		wantCode(t, "Create(existing)", err, counter.AlreadyExists)
		if got := mustGet(t, s, "ten"); got.Count != 10 {
			t.Errorf("count after failed Create = %d, want 10", got.Count)
		}
	})
}

func testGet(t *testing.T, s counter.Store) {
	_, err := s.Get(ctx(t), "missing")
	wantCode(t, "Get(missing)", err, counter.NotFound)
	mustCreate(t, s, "present", 7)
	if c := mustGet(t, s, "present"); c.Name != "present" || c.Count != 7 {
		t.Errorf("Get = %+v, want present/7", c)
	}
	_, err = s.Get(ctx(t), "Present")
	wantCode(t, "Get(other case)", err, counter.NotFound)
}

func testIncrement(t *testing.T, s counter.Store) {
	start := mustCreate(t, s, "hits", 10)
	tests := []struct {
		name      string
		counter   string
		by        int64
		wantCount int64
		wantCode  string
	}{
		{"by one", "hits", 1, 11, ""},
		{"by many", "hits", 100, 111, ""},
		{"negative", "hits", -11, 100, ""},
		{"down to zero", "hits", -100, 0, ""},
		{"below zero", "hits", -1, 0, counter.OutOfRange},
		{"missing", "nope", 1, 0, counter.NotFound},
		{"missing negative", "nope", -1, 0, counter.NotFound},
		{"up to max", "hits", counter.MaxCount, counter.MaxCount, ""},
		{"above max", "hits", 1, counter.MaxCount, counter.OutOfRange},
		{"far below", "hits", -counter.MaxCount, 0, ""},
		{"far above after zero", "hits", counter.MaxCount, counter.MaxCount, ""},
		{"negative max to zero", "hits", -counter.MaxCount, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := increment(t, s, tt.counter, tt.by)
			wantCode(t, "Increment", err, tt.wantCode)
			if err == nil && (c.Name != tt.counter || c.Count != tt.wantCount) {
				t.Errorf("Increment = %q %d, want %q %d", c.Name, c.Count, tt.counter, tt.wantCount)
			}
			if tt.counter == "hits" {
				if got := mustGet(t, s, "hits"); got.Count != tt.wantCount {
					t.Errorf("count after Increment = %d, want %d", got.Count, tt.wantCount)
				}
			}
		})
	}
	c := mustGet(t, s, "hits")
	if !c.CreatedAt.Equal(start.CreatedAt) {
		t.Errorf("created_at changed by increments: %v -> %v", start.CreatedAt, c.CreatedAt)
	}
	if c.UpdatedAt.Before(start.UpdatedAt) {
		t.Errorf("updated_at went back: %v -> %v", start.UpdatedAt, c.UpdatedAt)
	}
	if _, err := s.Get(ctx(t), "nope"); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("Increment of a missing counter created it (Get err %v)", err)
	}
}

func testSet(t *testing.T, s counter.Store) {
	before := time.Now()
	c, created, err := set(t, s, "fresh", 5)
	if err != nil || !created || c.Name != "fresh" || c.Count != 5 {
		t.Fatalf("Set(new) = %+v, created %v, err %v; want fresh/5 created", c, created, err)
	}
	checkTimes(t, c, before)
	c2, created, err := set(t, s, "fresh", 0)
	if err != nil || created || c2.Count != 0 {
		t.Fatalf("Set(existing) = %+v, created %v, err %v; want count 0, not created", c2, created, err)
	}
	if !c2.CreatedAt.Equal(c.CreatedAt) {
		t.Errorf("Set changed created_at: %v -> %v", c.CreatedAt, c2.CreatedAt)
	}
	if c3, _, err := set(t, s, "fresh", counter.MaxCount); err != nil || c3.Count != counter.MaxCount {
		t.Errorf("Set(max) = %+v, %v", c3, err)
	}
	if got := mustGet(t, s, "fresh"); got.Count != counter.MaxCount {
		t.Errorf("Get after Set = %d, want %d", got.Count, counter.MaxCount)
	}
}

func testDelete(t *testing.T, s counter.Store) {
	wantCode(t, "Delete(missing)", del(t, s, "gone"), counter.NotFound)
	mustCreate(t, s, "gone", 3)
	if err := del(t, s, "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Get(ctx(t), "gone")
	wantCode(t, "Get(deleted)", err, counter.NotFound)
	wantCode(t, "Delete(deleted)", del(t, s, "gone"), counter.NotFound)
	_, err = increment(t, s, "gone", 1)
	wantCode(t, "Increment(deleted)", err, counter.NotFound)
	if c := mustCreate(t, s, "gone", 1); c.Count != 1 {
		t.Errorf("re-Create after Delete = %d, want 1", c.Count)
	}
}

// invalidNames are names every store must refuse with InvalidName.
var invalidNames = map[string]string{
	"empty":          "",
	"leading dot":    ".a",
	"leading dash":   "-a",
	"slash":          "a/b",
	"space":          "a b",
	"non-ASCII":      "été",
	"NUL":            "a\x00",
	"dot dot":        "..",
	"129 characters": strings.Repeat("a", counter.MaxNameLength+1),
	"key prefix":     "c#home", // what a store might use inside its keys
}

// testInvalidArguments checks that the store validates names, counts and
// increments itself (the Store interface says it must) and changes nothing
// when it refuses them.
func testInvalidArguments(t *testing.T, s counter.Store) {
	mustCreate(t, s, "valid", 5)
	for test, name := range invalidNames {
		t.Run("name "+test, func(t *testing.T) {
			_, err := create(t, s, name, 1)
			wantCode(t, "Create", err, counter.InvalidName)
			_, err = s.Get(ctx(t), name)
			wantCode(t, "Get", err, counter.InvalidName)
			_, err = increment(t, s, name, 1)
			wantCode(t, "Increment", err, counter.InvalidName)
			_, _, err = set(t, s, name, 1)
			wantCode(t, "Set", err, counter.InvalidName)
			wantCode(t, "Delete", del(t, s, name), counter.InvalidName)
			// The name is checked before anything else.
			_, err = create(t, s, name, -1)
			wantCode(t, "Create with a bad count too", err, counter.InvalidName)
			_, err = increment(t, s, name, 0)
			wantCode(t, "Increment by 0 too", err, counter.InvalidName)
		})
	}
	for _, count := range []int64{-1, counter.MaxCount + 1, math.MinInt64, math.MaxInt64} {
		t.Run(fmt.Sprintf("count %d", count), func(t *testing.T) {
			_, err := create(t, s, "fresh", count)
			wantCode(t, "Create", err, counter.InvalidRequest)
			_, err = s.Get(ctx(t), "fresh")
			wantCode(t, "Get after a refused Create", err, counter.NotFound)
			_, _, err = set(t, s, "fresh", count)
			wantCode(t, "Set (new)", err, counter.InvalidRequest)
			_, err = s.Get(ctx(t), "fresh")
			wantCode(t, "Get after a refused Set", err, counter.NotFound)
			_, _, err = set(t, s, "valid", count)
			wantCode(t, "Set (existing)", err, counter.InvalidRequest)
		})
	}
	for _, by := range []int64{0, counter.MaxCount + 1, -counter.MaxCount - 1, math.MinInt64, math.MaxInt64} {
		t.Run(fmt.Sprintf("by %d", by), func(t *testing.T) {
			_, err := increment(t, s, "valid", by)
			wantCode(t, "Increment", err, counter.InvalidRequest)
			// Arguments are checked before the counter is looked up.
			_, err = increment(t, s, "missing", by)
			wantCode(t, "Increment (missing counter)", err, counter.InvalidRequest)
		})
	}
	if c := mustGet(t, s, "valid"); c.Count != 5 {
		t.Errorf("count after refused calls = %d, want 5", c.Count)
	}
}

// testConcurrentIncrements checks that no increment is lost: 64 goroutines
// of 100 increments each must end exactly at 6400 (a shorter run under
// -short, for slow stores).
func testConcurrentIncrements(t *testing.T, s counter.Store) {
	// 6,400 increments from 64 goroutines: enough to lose some to any
	// unsynchronized read-modify-write, and under 10 s on DynamoDB Local
	// under -race on 2 cores when the machine is idle (16,000 took up to
	// 470 s of make test beside other packages' tests). make stress runs
	// the case again and again.
	workers, each := 64, 100
	if testing.Short() {
		each = 50
	}
	if sharded(s) {
		// The shards' bounds are what differs, not the locking. 16 clients:
		// with 64 under -race, DynamoDB Local (not DynamoDB) answered 500
		// "timed out waiting for a lock" while a snapshot held the items.
		workers, each = 16, 50
	}
	mustCreate(t, s, "hot", 0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := increment(t, s, "hot", 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Increment: %v", err)
	}
	if got, want := mustGet(t, s, "hot").Count, int64(workers*each); got != want {
		t.Fatalf("count after %d x %d concurrent increments = %d, want %d", workers, each, got, want)
	}
}

// testConcurrentCreate checks that exactly one of many racing creates wins.
func testConcurrentCreate(t *testing.T, s counter.Store) {
	const racers = 16
	var wg sync.WaitGroup
	results := make(chan error, racers)
	for i := range racers {
		wg.Go(func() {
			_, err := create(t, s, "contested", int64(i))
			results <- err
		})
	}
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		switch counter.ErrorCode(err) {
		case "":
			wins++
		case counter.AlreadyExists:
		default:
			t.Errorf("Create: unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d racing creates succeeded, want 1", wins, racers)
	}
}

// testHit checks OpHit: 1 more on a counter that exists, a counter created
// at 1 otherwise, OutOfRange at MaxCount, and no idempotency key.
func testHit(t *testing.T, s counter.Store) {
	before := time.Now()
	r, err := s.Apply(ctx(t), counter.Hit("viewed"))
	if err != nil || !r.Created || r.Counter.Name != "viewed" || r.Counter.Count != 1 {
		t.Fatalf("Apply(hit, missing) = %+v, %v; want created at 1", r, err)
	}
	checkTimes(t, r.Counter, before)
	if !r.Counter.CreatedAt.Equal(r.Counter.UpdatedAt) {
		t.Errorf("created by a hit: created_at %v, updated_at %v, want equal", r.Counter.CreatedAt, r.Counter.UpdatedAt)
	}
	if got := mustGet(t, s, "viewed"); got != r.Counter {
		t.Errorf("Get after the hit = %+v, want %+v", got, r.Counter)
	}
	r, err = s.Apply(ctx(t), counter.Hit("viewed"))
	if err != nil || r.Created || r.Counter.Count != 2 {
		t.Errorf("Apply(hit, existing) = %+v, %v; want count 2, not created", r, err)
	}
	mustCreate(t, s, "full", counter.MaxCount)
	_, err = s.Apply(ctx(t), counter.Hit("full"))
	wantCode(t, "Apply(hit at MaxCount)", err, counter.OutOfRange)
	_, err = s.Apply(ctx(t), counter.Hit("keyed").WithKey(counter.IdempotencyKey{Key: "k"}))
	wantCode(t, "Apply(keyed hit)", err, counter.InvalidRequest)
	_, err = s.Apply(ctx(t), counter.Write{Op: counter.OpHit, Name: "viewed", By: 2})
	wantCode(t, "Apply(hit by 2)", err, counter.InvalidRequest)
	_, err = s.Apply(ctx(t), counter.Hit("-bad"))
	wantCode(t, "Apply(hit, invalid name)", err, counter.InvalidName)
	for name, want := range map[string]int64{"viewed": 2, "full": counter.MaxCount} {
		if got := mustGet(t, s, name).Count; got != want {
			t.Errorf("%s: count %d, want %d", name, got, want)
		}
	}
	if _, err := s.Get(ctx(t), "keyed"); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("a refused hit created its counter (Get err %v)", err)
	}
}

// testConcurrentHitsCreate checks that hits racing on a missing counter
// create it once and all count: 24 hits, count 24, one Created.
func testConcurrentHitsCreate(t *testing.T, s counter.Store) {
	const hits = 24
	var wg sync.WaitGroup
	results := make([]counter.Result, hits)
	errs := make([]error, hits)
	for i := range hits {
		wg.Go(func() { results[i], errs[i] = s.Apply(ctx(t), counter.Hit("popular")) })
	}
	wg.Wait()
	created := 0
	seen := map[int64]bool{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("Apply(hit): %v", errs[i])
		}
		if r.Created {
			created++
		}
		seen[r.Counter.Count] = true
	}
	if created != 1 {
		t.Errorf("%d of %d racing hits created the counter, want 1", created, hits)
	}
	if got := mustGet(t, s, "popular").Count; got != hits || len(seen) != hits {
		t.Errorf("count %d after %d racing hits, with %d distinct answers; want %d and %d", got, hits, len(seen), hits, hits)
	}
}

// walk lists every page with the given limit and returns the names seen.
func walk(t *testing.T, s counter.Store, limit int, between func(page int)) []counter.Counter {
	t.Helper()
	return walkPrefix(t, s, "", limit, between)
}

// walkPrefix lists every page of the counters whose names start with
// prefix, with the given limit, and returns the counters seen.
func walkPrefix(t *testing.T, s counter.Store, prefix string, limit int, between func(page int)) []counter.Counter {
	t.Helper()
	var all []counter.Counter
	cursor := ""
	for page := 0; ; page++ {
		p, err := s.List(ctx(t), counter.ListOptions{Limit: limit, Cursor: cursor, Prefix: prefix})
		if err != nil {
			t.Fatalf("List(limit %d, page %d): %v", limit, page, err)
		}
		if len(p.Counters) > limit {
			t.Fatalf("List(limit %d) returned %d counters", limit, len(p.Counters))
		}
		all = append(all, p.Counters...)
		if p.NextCursor == "" {
			return all
		}
		if page > 10000 {
			t.Fatalf("List(limit %d) did not end after %d pages", limit, page)
		}
		cursor = p.NextCursor
		if between != nil {
			between(page)
		}
	}
}

func testList(t *testing.T, s counter.Store) {
	p, err := s.List(ctx(t), counter.ListOptions{Limit: 10})
	if err != nil || len(p.Counters) != 0 || p.NextCursor != "" {
		t.Fatalf("List(empty) = %+v, %v; want no counters, no cursor", p, err)
	}
	const n = 25
	want := make(map[string]int64, n)
	for i := range n {
		name := fmt.Sprintf("c%03d", i)
		mustCreate(t, s, name, int64(i))
		want[name] = int64(i)
	}
	for _, limit := range []int{1, 7, 25, 1000} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			seen := make(map[string]bool, n)
			for _, c := range walk(t, s, limit, nil) {
				if seen[c.Name] {
					t.Errorf("counter %q listed twice", c.Name)
				}
				seen[c.Name] = true
				if w, ok := want[c.Name]; !ok || c.Count != w {
					t.Errorf("listed %q count %d, want present with %d", c.Name, c.Count, w)
				}
				if c.CreatedAt.IsZero() || c.UpdatedAt.IsZero() {
					t.Errorf("listed %q without timestamps", c.Name)
				}
			}
			if len(seen) != n {
				t.Errorf("listed %d distinct counters, want %d", len(seen), n)
			}
		})
	}
	for name, cursor := range map[string]string{
		"garbage":   "not a cursor!",
		"base64":    "aGVsbG8",
		"truncated": truncate(t, s),
		"json":      "eyJwayI6MX0",
	} {
		t.Run("cursor "+name, func(t *testing.T) {
			_, err := s.List(ctx(t), counter.ListOptions{Limit: 5, Cursor: cursor})
			wantCode(t, "List(bad cursor)", err, counter.InvalidRequest)
		})
	}
}

// testListPrefix checks that a listing with a prefix visits exactly the
// counters whose names start with it, each once, in the same order on
// every walk, and refuses a prefix no name can start with.
func testListPrefix(t *testing.T, s counter.Store) {
	var names []string
	for _, group := range []string{"a-", "ab", "b.", "a"} {
		for i := range 9 {
			names = append(names, fmt.Sprintf("%s%02d", group, i))
		}
	}
	for _, name := range names {
		mustCreate(t, s, name, 1)
	}
	for _, prefix := range []string{"", "a", "a-", "ab0", "b.08", "c", "A"} {
		var want []string
		for _, name := range names {
			if strings.HasPrefix(name, prefix) {
				want = append(want, name)
			}
		}
		slices.Sort(want)
		for _, limit := range []int{1, 4, 1000} {
			t.Run(fmt.Sprintf("prefix %q limit %d", prefix, limit), func(t *testing.T) {
				first := walkPrefix(t, s, prefix, limit, nil)
				got := make([]string, len(first))
				for i, c := range first {
					got[i] = c.Name
				}
				again := walkPrefix(t, s, prefix, limit, nil)
				for i, c := range again {
					if i < len(got) && c.Name != got[i] {
						t.Errorf("second walk: %q at %d, the first had %q: the order is not stable", c.Name, i, got[i])
						break
					}
				}
				sorted := slices.Clone(got)
				slices.Sort(sorted)
				if !slices.Equal(sorted, want) {
					t.Errorf("listed %q, want %q (in any order)", got, want)
				}
			})
		}
	}
	for _, prefix := range []string{"-a", "a b", "a#", strings.Repeat("a", counter.MaxNameLength+1)} {
		_, err := s.List(ctx(t), counter.ListOptions{Limit: 5, Prefix: prefix})
		wantCode(t, fmt.Sprintf("List(prefix %q)", prefix), err, counter.InvalidRequest)
	}
}

// truncate returns a real cursor cut in half.
func truncate(t *testing.T, s counter.Store) string {
	t.Helper()
	p, err := s.List(ctx(t), counter.ListOptions{Limit: 1})
	if err != nil || p.NextCursor == "" {
		t.Fatalf("List(limit 1) = %+v, %v; want a cursor", p, err)
	}
	return p.NextCursor[:len(p.NextCursor)/2]
}

// testListDuringChanges checks that a walk visits every counter that exists
// for the whole walk exactly once, while others are created and deleted.
func testListDuringChanges(t *testing.T, s counter.Store) {
	const n = 30
	for i := range n {
		mustCreate(t, s, fmt.Sprintf("stable%02d", i), 1)
		mustCreate(t, s, fmt.Sprintf("doomed%02d", i), 1)
	}
	for _, limit := range []int{1, 7} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			seen := map[string]int{}
			for _, c := range walk(t, s, limit, func(page int) {
				if page >= n {
					return // a bounded number of changes, so the walk ends
				}
				_ = del(t, s, fmt.Sprintf("doomed%02d", page)) // it may be gone already
				mustCreate(t, s, fmt.Sprintf("new%d-%04d", limit, page), 1)
			}) {
				seen[c.Name]++
			}
			for i := range n {
				name := fmt.Sprintf("stable%02d", i)
				if seen[name] != 1 {
					t.Errorf("stable counter %q seen %d times, want 1", name, seen[name])
				}
			}
			for name, k := range seen {
				if k != 1 {
					t.Errorf("counter %q seen %d times", name, k)
				}
			}
		})
	}
}
