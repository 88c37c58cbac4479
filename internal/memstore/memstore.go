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
	records  records // idempotency records, under mu
	now      func() time.Time
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{counters: make(map[string]*counter.Counter), now: now}
	s.records.init(DefaultMaxIdempotencyRecords)
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
	o, err := s.apply(counter.Write{Op: counter.OpCreate, Name: name, Count: count})
	return o.Counter, err
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
	o, err := s.apply(counter.Write{Op: counter.OpIncrement, Name: name, By: by})
	return o.Counter, err
}

// Set implements counter.Store.
func (s *Store) Set(ctx context.Context, name string, count int64) (counter.Counter, bool, error) {
	if err := ctx.Err(); err != nil {
		return counter.Counter{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.apply(counter.Write{Op: counter.OpSet, Name: name, Count: count})
	return o.Counter, o.Created, err
}

// Delete implements counter.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.apply(counter.Write{Op: counter.OpDelete, Name: name})
	return err
}

// apply makes the change w describes; s.mu must be held for writing. Every
// write, keyed or not, goes through it.
func (s *Store) apply(w counter.Write) (counter.Outcome, error) {
	c, ok := s.counters[w.Name]
	switch w.Op {
	case counter.OpCreate:
		if ok {
			return counter.Outcome{}, counter.AlreadyExistsError(w.Name)
		}
		t := s.now()
		c = &counter.Counter{Name: w.Name, Count: w.Count, CreatedAt: t, UpdatedAt: t}
		s.counters[w.Name] = c
		return counter.Outcome{Counter: *c, Created: true}, nil
	case counter.OpIncrement:
		if !ok {
			return counter.Outcome{}, counter.NotFoundError(w.Name)
		}
		n := c.Count + w.By // cannot overflow: both are within ±MaxCount
		if n < 0 || n > counter.MaxCount {
			return counter.Outcome{}, counter.OutOfRangeError(w.Name, c.Count, w.By)
		}
		c.Count = n
		c.UpdatedAt = s.now()
		return counter.Outcome{Counter: *c}, nil
	case counter.OpSet:
		t := s.now()
		if !ok {
			c = &counter.Counter{Name: w.Name, CreatedAt: t}
			s.counters[w.Name] = c
		}
		c.Count = w.Count
		c.UpdatedAt = t
		return counter.Outcome{Counter: *c, Created: !ok}, nil
	case counter.OpDelete:
		if !ok {
			return counter.Outcome{}, counter.NotFoundError(w.Name)
		}
		delete(s.counters, w.Name)
		return counter.Outcome{}, nil
	}
	return counter.Outcome{}, counter.Errorf(counter.InvalidRequest, "unknown write %s", w.Op)
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
