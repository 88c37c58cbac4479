package memstore_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

func TestConformance(t *testing.T) {
	countertest.Run(t, func(*testing.T) counter.Store { return memstore.New() })
}

// TestListFollowsEveryChange checks the ordered index List pages through
// against a model after random creates, sets (which may create) and deletes,
// walking the whole store with pages of every size from 1 to 7.
func TestListFollowsEveryChange(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	model := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		name := fmt.Sprintf("n%03d", rng.IntN(300))
		switch rng.IntN(3) {
		case 0:
			_, err := s.Create(ctx, name, 1)
			if model[name] != (err != nil) {
				t.Fatalf("create %s: err %v, exists %v", name, err, model[name])
			}
			model[name] = true
		case 1:
			if _, _, err := s.Set(ctx, name, 2); err != nil {
				t.Fatalf("set %s: %v", name, err)
			}
			model[name] = true
		case 2:
			err := s.Delete(ctx, name)
			if model[name] != (err == nil) {
				t.Fatalf("delete %s: err %v, exists %v", name, err, model[name])
			}
			delete(model, name)
		}
	}
	want := slices.Sorted(maps.Keys(model))
	for limit := 1; limit <= 7; limit++ {
		var got []string
		cursor := ""
		for {
			page, err := s.List(ctx, counter.ListOptions{Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Counters) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page.Counters))
			}
			for _, c := range page.Counters {
				got = append(got, c.Name)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: listed %d names, want %d\n got %v\nwant %v", limit, len(got), len(want), got, want)
		}
	}
}
