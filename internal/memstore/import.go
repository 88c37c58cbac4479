package memstore

import (
	"context"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var _ counter.Importer = (*Store)(nil)

// Import implements counter.Importer.
func (s *Store) Import(ctx context.Context, a counter.Archive) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	c := a.Counter
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.counters[c.Name]; ok {
		return counter.AlreadyExistsError(c.Name)
	}
	s.counters[c.Name] = &c
	s.byName.ReplaceOrInsert(&c)
	now := s.now()
	h := &history{}
	for _, pt := range a.Hours {
		if pt.Hits != 0 && !pt.Start.Before(counter.Hour.Start(now).Add(-counter.Hour.Retention()-counter.Hour.Duration())) {
			h.hours = append(h.hours, bucket{start: pt.Start.UTC(), hits: counter.HitSumOf(pt.Hits)})
		}
	}
	for _, pt := range a.Days {
		if pt.Hits != 0 && !pt.Start.Before(counter.Day.Start(now).Add(-counter.Day.Retention()-counter.Day.Duration())) {
			h.days = append(h.days, bucket{start: pt.Start.UTC(), hits: counter.HitSumOf(pt.Hits)})
		}
	}
	if len(h.hours) > 0 || len(h.days) > 0 {
		s.history[c.Name] = h
	}
	return nil
}
