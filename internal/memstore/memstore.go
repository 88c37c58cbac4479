// Package memstore is an in-memory counter.Store: the embedded store of the
// standalone server and the store of unit tests. Its state lives and dies
// with the process.
package memstore

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var _ counter.Store = (*Store)(nil)

// Store is an in-memory counter.Store. The zero value is not usable; call New.
type Store struct {
	mu       sync.RWMutex
	counters map[string]*counter.Counter
	now      func() time.Time
	history  map[string]*history // hits over time, by counter name (stats.go)
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the time from now instead of the system
// clock (it is truncated to the millisecond, as the system clock is).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = func() time.Time { return now().UTC().Truncate(time.Millisecond) } }
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{counters: make(map[string]*counter.Counter), now: now, history: make(map[string]*history)}
	for _, o := range opts {
		o(s)
	}
	return s
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Create implements counter.Store.
func (s *Store) Create(ctx context.Context, name string, count int64) (counter.Counter, error) {
	if err := ctx.Err(); err != nil {
		return counter.Counter{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.counters[name]; ok {
		return counter.Counter{}, counter.AlreadyExistsError(name)
	}
	t := s.now()
	c := &counter.Counter{Name: name, Count: count, CreatedAt: t, UpdatedAt: t}
	s.counters[name] = c
	return *c, nil
}

// Get implements counter.Store.
func (s *Store) Get(ctx context.Context, name string) (counter.Counter, error) {
	if err := ctx.Err(); err != nil {
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

// Increment implements counter.Store.
func (s *Store) Increment(ctx context.Context, name string, by int64) (counter.Counter, error) {
	if err := ctx.Err(); err != nil {
		return counter.Counter{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counters[name]
	if !ok {
		return counter.Counter{}, counter.NotFoundError(name)
	}
	n := c.Count + by // cannot overflow: both are within ±MaxCount
	if n < 0 || n > counter.MaxCount {
		return counter.Counter{}, counter.OutOfRangeError(name, c.Count, by)
	}
	c.Count = n
	c.UpdatedAt = s.now()
	s.recordHits(name, by, c.UpdatedAt)
	return *c, nil
}

// Set implements counter.Store.
func (s *Store) Set(ctx context.Context, name string, count int64) (counter.Counter, bool, error) {
	if err := ctx.Err(); err != nil {
		return counter.Counter{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	c, ok := s.counters[name]
	if !ok {
		c = &counter.Counter{Name: name, CreatedAt: t}
		s.counters[name] = c
	}
	c.Count = count
	c.UpdatedAt = t
	return *c, !ok, nil
}

// Delete implements counter.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.counters[name]; !ok {
		return counter.NotFoundError(name)
	}
	delete(s.counters, name)
	delete(s.history, name)
	return nil
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
	limit := opts.Limit
	if limit <= 0 || limit > counter.MaxListLimit {
		limit = counter.DefaultListLimit
	}
	s.mu.RLock()
	names := make([]string, 0, len(s.counters))
	for name := range s.counters {
		if name > after {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var page counter.Page
	if len(names) > limit {
		names = names[:limit]
		page.NextCursor = encodeCursor(names[limit-1])
	}
	page.Counters = make([]counter.Counter, len(names))
	for i, name := range names {
		page.Counters[i] = *s.counters[name]
	}
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
