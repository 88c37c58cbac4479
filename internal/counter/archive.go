package counter

import (
	"context"
	"time"
)

// Archive is one counter with its history: what an export holds and an
// import restores (internal/transfer moves archives between stores).
type Archive struct {
	Counter Counter
	// Hours and Days are the buckets of each period that have hits, in
	// time order.
	Hours, Days []Point
}

// Validate returns an InvalidName or InvalidRequest error unless a is an
// archive a store can import: a valid name and count, both times set with
// UpdatedAt not before CreatedAt, and each period's buckets at the starts
// of their periods, in increasing order.
func (a Archive) Validate() error {
	c := a.Counter
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if err := ValidateCount(c.Count); err != nil {
		return err
	}
	if c.CreatedAt.IsZero() || c.UpdatedAt.IsZero() || c.UpdatedAt.Before(c.CreatedAt) {
		return Errorf(InvalidRequest, "counter %q: created_at and updated_at must be set, updated_at not before created_at", c.Name)
	}
	for _, h := range []struct {
		p      Period
		points []Point
	}{{Hour, a.Hours}, {Day, a.Days}} {
		var last time.Time
		for i, pt := range h.points {
			if !pt.Start.Equal(h.p.Start(pt.Start)) {
				return Errorf(InvalidRequest, "counter %q: %s bucket %s is not at the start of its %s", c.Name, h.p, pt.Start.Format(time.RFC3339), h.p)
			}
			if i > 0 && !pt.Start.After(last) {
				return Errorf(InvalidRequest, "counter %q: %s buckets out of order at %s", c.Name, h.p, pt.Start.Format(time.RFC3339))
			}
			last = pt.Start
		}
	}
	return nil
}

// Importer restores counters from archives. The memory, file and DynamoDB
// stores implement it.
type Importer interface {
	// Import creates the counter a.Counter names, with its count, its
	// times and its history (buckets past their period's Retention, at
	// the store's clock, are left out). It returns AlreadyExists, changing
	// nothing, if the name is taken, and InvalidName or InvalidRequest for
	// an archive that Validate refuses.
	Import(ctx context.Context, a Archive) error
}
