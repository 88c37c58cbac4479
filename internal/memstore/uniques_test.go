package memstore_test

import (
	"context"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// TestUniquesAndBots: visitors are counted once per bucket, exactly for
// small numbers; a bot changes no count, adds no hit and shows in bots; a
// bot of a missing counter is NotFound and creates nothing.
func TestUniquesAndBots(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	if _, err := s.Apply(ctx, counter.Create("u", 5)); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		v := counter.Visitor(1 + i%100) // 100 visitors, 3 times each
		if _, err := s.Apply(ctx, counter.Increment("u", 1).WithVisitor(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Apply(ctx, counter.Increment("u", 2)); err != nil { // no visitor known
		t.Fatal(err)
	}
	res, err := s.Apply(ctx, counter.Bot("u"))
	if err != nil || res.Counter.Count != 307 {
		t.Fatalf("a bot: %+v, %v; want the count, 307", res.Counter, err)
	}
	if _, err := s.Apply(ctx, counter.Bot("missing")); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("a bot of a missing counter: %v, want NotFound", err)
	}
	if _, err := s.Get(ctx, "missing"); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("a bot created a counter: %v", err)
	}
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		points, err := s.Stats(ctx, "u", counter.StatsQuery{Period: p})
		if err != nil {
			t.Fatal(err)
		}
		last := points[len(points)-1]
		if last.Hits != 302 || last.Uniques != 100 || last.Bots != 1 {
			t.Errorf("%s: %+v, want hits 302, uniques 100, bots 1", p, last)
		}
	}
	if _, err := s.Apply(ctx, counter.Set("u", 0).WithVisitor(1)); counter.ErrorCode(err) != counter.InvalidRequest {
		t.Errorf("a set with a visitor: %v, want InvalidRequest", err)
	}
}
