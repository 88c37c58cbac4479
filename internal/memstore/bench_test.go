package memstore_test

import (
	"context"
	"testing"

	"github.com/hitcounter/hitcounter/internal/memstore"
)

// BenchmarkIncrement measures the memory store's increment, the store half
// of the hot path, from all cores on one counter (the worst contention).
func BenchmarkIncrement(b *testing.B) {
	s := memstore.New()
	ctx := context.Background()
	if _, err := s.Create(ctx, "bench", 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Increment(ctx, "bench", 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
	c, err := s.Get(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	if c.Count < int64(b.N) {
		b.Fatalf("count %d after %d increments", c.Count, b.N)
	}
}
