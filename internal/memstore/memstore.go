// Package memstore is an in-memory counter.Store: the embedded store of the
// standalone server and the store of unit tests. Its state lives and dies
// with the process.
package memstore

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var _ counter.Store = (*Store)(nil)

// Store is an in-memory counter.Store. The zero value is not usable; call New.
//
// Counters live in a map, for the O(1) lookups of the hot path (get,
// increment), and in a B-tree ordered by name that create, set and delete
// keep up to date, so that a page of List costs O(log n + limit) under the
// read lock instead of copying and sorting every name: with 200,000
// counters, four goroutines looping on one-counter pages made concurrent
// increments over a thousand times slower when List sorted, and now cost
// them less than 2x beyond the CPU the listers take
// (BenchmarkIncrementWhileListing; figures in docs/benchmarks.md).
// github.com/google/btree: no dependencies, generic, maintained since 2014.
type Store struct {
	mu       sync.RWMutex
	counters map[string]*counter.Counter
	byName   *btree.BTreeG[*counter.Counter]
	records  records // idempotency records, under mu
	now      func() time.Time
	history  map[string]*history // hits over time, by counter name (stats.go)
	// maxCounters caps len(counters): see WithMaxCounters.
	maxCounters int
}

// DefaultMaxCounters caps the number of counters a Store holds unless
// WithMaxCounters says otherwise (the standalone server's MAX_COUNTERS):
// about 35 MB of counters that one view each created (hit.svg with
// HIT_CREATES_COUNTERS), more with long names and long histories.
const DefaultMaxCounters = 100_000

// WithMaxCounters caps the number of counters the store holds (n >= 1): a
// write that would create one more (a create, a set or a hit that
// creates) is refused as counter.StoreFull, changing nothing, until one is
// deleted. Writes to the counters that exist are not affected.
func WithMaxCounters(n int) Option {
	return func(s *Store) { s.maxCounters = max(1, n) }
}

// btreeDegree is the B-tree's branching factor; 32 is google/btree's usual
// choice for in-memory trees (nodes of a few cache lines).
const btreeDegree = 32

func nameLess(a, b *counter.Counter) bool { return a.Name < b.Name }

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{
		counters: make(map[string]*counter.Counter),
		byName:   btree.NewG(btreeDegree, nameLess),
		now:      now,
		history:  make(map[string]*history),

		maxCounters: DefaultMaxCounters,
	}
	s.records.init(DefaultMaxIdempotencyRecords)
	for _, o := range opts {
		o(s)
	}
	return s
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Apply implements counter.Store: every write, keyed or not, is made under
// the store's lock.
func (s *Store) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	if err := ctx.Err(); err != nil {
		return counter.Result{}, err
	}
	if err := w.Validate(); err != nil {
		return counter.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.Keyed() {
		return s.applyKeyed(w)
	}
	return s.apply(w)
}

// Get implements counter.Store.
func (s *Store) Get(ctx context.Context, name string) (counter.Counter, error) {
	if err := ctx.Err(); err != nil {
		return counter.Counter{}, err
	}
	if err := counter.ValidateName(name); err != nil {
		return counter.Counter{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.counters[name]
	if !ok {
		return counter.Counter{}, counter.NotFoundError(name)
	}
	return *c, nil
}

// apply makes the change w describes; s.mu must be held for writing. Every
// write, keyed or not, goes through it.
func (s *Store) apply(w counter.Write) (counter.Result, error) {
	c, ok := s.counters[w.Name]
	switch w.Op {
	case counter.OpCreate:
		if ok {
			return counter.Result{}, counter.AlreadyExistsError(w.Name)
		}
		c, err := s.add(w.Name, w.Count)
		if err != nil {
			return counter.Result{}, err
		}
		askShards(c, w.Shards)
		return counter.Result{Counter: *c, Created: true}, nil
	case counter.OpIncrement, counter.OpHit:
		by := w.By
		if w.Op == counter.OpHit {
			by = 1
			if !ok { // the view that creates the counter is its first hit
				c, err := s.add(w.Name, 1)
				if err != nil {
					return counter.Result{}, err
				}
				s.recordHits(w.Name, 1, w.Visitor, c.UpdatedAt)
				return counter.Result{Counter: *c, Created: true}, nil
			}
		}
		if !ok {
			return counter.Result{}, counter.NotFoundError(w.Name)
		}
		n := c.Count + by // cannot overflow: both are within ±MaxCount
		if n < 0 || n > counter.MaxCount {
			return counter.Result{}, counter.OutOfRangeError(w.Name, c.Count, by)
		}
		c.Count = n
		c.UpdatedAt = s.now()
		s.recordHits(w.Name, by, w.Visitor, c.UpdatedAt)
		return counter.Result{Counter: *c}, nil
	case counter.OpBot:
		if !ok {
			return counter.Result{}, counter.NotFoundError(w.Name)
		}
		s.record(w.Name, event{bot: true}, s.now())
		return counter.Result{Counter: *c}, nil
	case counter.OpSet:
		if !ok {
			c, err := s.add(w.Name, w.Count)
			if err != nil {
				return counter.Result{}, err
			}
			askShards(c, w.Shards)
			return counter.Result{Counter: *c, Created: true}, nil
		}
		c.Count = w.Count
		c.UpdatedAt = s.now()
		askShards(c, w.Shards)
		return counter.Result{Counter: *c}, nil
	case counter.OpDelete:
		if !ok {
			return counter.Result{}, counter.NotFoundError(w.Name)
		}
		delete(s.counters, w.Name)
		s.byName.Delete(c)
		delete(s.history, w.Name)
		return counter.Result{}, nil
	}
	return counter.Result{}, counter.Errorf(counter.InvalidRequest, "unknown write %s", w.Op)
}

// add makes the counter name, which does not exist, with count, unless the
// store holds maxCounters already; s.mu must be held for writing.
func (s *Store) add(name string, count int64) (*counter.Counter, error) {
	if len(s.counters) >= s.maxCounters {
		return nil, counter.StoreFullError(s.maxCounters)
	}
	t := s.now()
	c := &counter.Counter{Name: name, Count: count, CreatedAt: t, UpdatedAt: t}
	s.counters[name] = c
	s.byName.ReplaceOrInsert(c)
	return c, nil
}

// askShards records that a write asked for n shards. The memory store
// needs none (one lock makes every change atomic), but it reports the
// shard count asked for, as a store that spreads counters would: at least
// n, never shrinking, none reported below 2 (counter.Counter.Shards).
func askShards(c *counter.Counter, n int) {
	if n > 1 && n > c.Shards {
		c.Shards = n
	}
}

// cursorPrefix marks cursors this store issued.
const cursorPrefix = "m1:"

// List implements counter.Store. Counters come in name order; the cursor
// holds the last name returned, so counters created or deleted during a walk
// do not disturb the others.
func (s *Store) List(ctx context.Context, opts counter.ListOptions) (counter.Page, error) {
	if err := ctx.Err(); err != nil {
		return counter.Page{}, err
	}
	after, err := decodeCursor(opts.Cursor)
	if err != nil {
		return counter.Page{}, err
	}
	if err := counter.ValidatePrefix(opts.Prefix); err != nil {
		return counter.Page{}, err
	}
	limit := opts.Limit
	if limit <= 0 || limit > counter.MaxListLimit {
		limit = counter.DefaultListLimit
	}
	var page counter.Page
	page.Counters = make([]counter.Counter, 0, min(limit, 64))
	s.mu.RLock()
	// One more than the page, to know whether a next page exists.
	s.byName.AscendGreaterOrEqual(&counter.Counter{Name: max(after, opts.Prefix)}, func(c *counter.Counter) bool {
		if c.Name == after {
			return true // the cursor's own counter was on the previous page
		}
		if !strings.HasPrefix(c.Name, opts.Prefix) {
			return false // names in order: none after it has the prefix
		}
		if len(page.Counters) == limit {
			page.NextCursor = encodeCursor(page.Counters[limit-1].Name)
			return false
		}
		page.Counters = append(page.Counters, *c)
		return true
	})
	s.mu.RUnlock()
	return page, nil
}

// Ping implements counter.Store; memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

func encodeCursor(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + last))
}

func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", counter.InvalidCursorError()
	}
	last, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || !counter.ValidName(last) {
		return "", counter.InvalidCursorError()
	}
	return last, nil
}
