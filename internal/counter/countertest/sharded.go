package countertest

import (
	"context"
	"sync"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Shards is the shard count RunSharded and RunStatsSharded ask for.
const Shards = 4

// RunSharded runs Run's cases that a counter's shards change (every write,
// its bounds, concurrent and keyed writes, a listing's totals) on counters
// that every create and set asks to spread over Shards items
// (counter.Write.Shards), and checks that every counter reports them: a
// store that shards counters is held to the same answers as one that only
// records the number. The Store contract lets a sharded counter's
// increment answer a count that misses other callers' recent increments,
// so the concurrent cases do not require distinct answers; totals (Get)
// stay exact. newStore returns an empty store; it is called once per
// subtest.
func RunSharded(t *testing.T, newStore func(t *testing.T) counter.Store) {
	var picked []conformanceCase
	for _, c := range cases {
		switch c.name {
		case "InvalidArguments", "ListDuringChanges", "KeyedScope", "KeyedInvalid":
			// Refused before any item is read, or a cursor's walk: the
			// same with shards or without.
		default:
			picked = append(picked, c)
		}
	}
	runCases(t, func(t *testing.T) counter.Store { return newSharding(newStore(t)) }, picked)
}

// RunStatsSharded is RunStats on counters spread over Shards items: every
// bucket is exact whichever items the hits went to. It leaves out the
// saturation case, which checks the buckets' arithmetic, not the items.
func RunStatsSharded(t *testing.T, newHarness func(t *testing.T) StatsHarness) {
	runStats(t, func(t *testing.T) StatsHarness {
		h := newHarness(t)
		h.Store = newSharding(h.Store)
		return h
	}, false)
}

// sharding is a store whose every create and set asks for Shards shards.
// A counter a hit created was asked for none (counter.Hit has no shards):
// byHit holds the names of those not set since, which need not report
// shards. A hit marks its counter before it is applied, if the counter
// is missing then: of racing hits on a missing counter, any may be
// answered before the one that created it returns (a store that answers
// a batch of writes at once, as the file store does).
type sharding struct {
	counter.Store
	byHit *sync.Map // name → struct{}
}

func newSharding(s counter.Store) sharding { return sharding{s, &sync.Map{}} }

func (s sharding) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	if (w.Op == counter.OpCreate || w.Op == counter.OpSet) && w.Shards == 0 {
		w.Shards = Shards
	}
	if w.Op == counter.OpHit {
		if _, err := s.Store.Get(ctx, w.Name); counter.ErrorCode(err) == counter.NotFound {
			s.byHit.Store(w.Name, struct{}{})
		}
	}
	r, err := s.Store.Apply(ctx, w)
	if err == nil {
		switch {
		case w.Op == counter.OpHit && r.Created:
			s.byHit.Store(w.Name, struct{}{})
		case w.Op != counter.OpHit && w.Op != counter.OpIncrement:
			s.byHit.Delete(w.Name)
		}
	}
	if c := r.Counter; err == nil && c.Name != "" && c.Shards < Shards && !s.createdByHit(c.Name) {
		return r, counter.Errorf(counter.Internal, "counter %q reports %d shards, want at least %d", c.Name, c.Shards, Shards)
	}
	return r, err
}

func (s sharding) createdByHit(name string) bool {
	_, ok := s.byHit.Load(name)
	return ok
}

func (s sharding) Get(ctx context.Context, name string) (counter.Counter, error) {
	c, err := s.Store.Get(ctx, name)
	if err == nil && c.Shards < Shards && !s.createdByHit(name) {
		return c, counter.Errorf(counter.Internal, "counter %q reports %d shards, want at least %d", c.Name, c.Shards, Shards)
	}
	return c, err
}

// sharded reports whether s is under RunSharded.
func sharded(s counter.Store) bool {
	_, ok := s.(sharding)
	return ok
}
