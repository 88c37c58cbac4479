package memstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// BenchmarkIncrement measures the memory store's increment, the store half
// of the hot path, from all cores on one counter (the worst contention).
func BenchmarkIncrement(b *testing.B) {
	s := memstore.New()
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("bench", 0)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Apply(ctx, counter.Increment("bench", 1)); err != nil {
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

// BenchmarkIncrementVisitors measures what a visitor adds to the memory
// store's increment (the sketches of the hour and the day): without one,
// the same visitor every time (a browser refreshing), and a new visitor
// every time (the sketches grow, sparse then dense).
func BenchmarkIncrementVisitors(b *testing.B) {
	for _, bc := range []struct {
		name    string
		visitor func(i int) counter.Visitor
	}{
		{"none", func(int) counter.Visitor { return 0 }},
		{"same", func(int) counter.Visitor { return 0x9e3779b97f4a7c15 }},
		{"new", func(i int) counter.Visitor { return counter.Visitor(uint64(i+1) * 0x9e3779b97f4a7c15) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := memstore.New()
			ctx := context.Background()
			if _, err := s.Apply(ctx, counter.Create("bench", 0)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Apply(ctx, counter.Increment("bench", 1).WithVisitor(bc.visitor(i))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkIncrementWhileListing measures increments spread over 200,000
// counters in three settings: alone; while four goroutines loop on
// one-counter pages (GET /counters?limit=1) of another store of the same
// size, which takes the same CPU but no lock the increments need; and while
// they loop on pages of the same store. The first two differ by the CPU the
// listers take from the increments (on 2 cores, four busy loops take about
// two thirds of it); the last two differ by what listing does to writers
// through the store's lock, the case that starved them when a page sorted
// every name under it. lists/s is how many pages the listers got meanwhile.
func BenchmarkIncrementWhileListing(b *testing.B) {
	const counters, listers = 200_000, 4
	ctx := context.Background()
	names := make([]string, counters)
	for i := range names {
		names[i] = fmt.Sprintf("c%06d", i)
	}
	fill := func() *memstore.Store {
		s := memstore.New()
		for _, name := range names {
			if _, err := s.Apply(ctx, counter.Create(name, 0)); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	s, other := fill(), fill()
	for _, bc := range []struct {
		name   string
		listed *memstore.Store
	}{
		{"alone", nil},
		{"listing-another-store", other},
		{"listing-the-same-store", s},
	} {
		b.Run(bc.name, func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var pages atomic.Int64
			if bc.listed != nil {
				for range listers {
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							default:
							}
							if _, err := bc.listed.List(ctx, counter.ListOptions{Limit: 1}); err != nil {
								b.Error(err)
								return
							}
							pages.Add(1)
						}
					})
				}
			}
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919)) // goroutines start apart
				for pb.Next() {
					if _, err := s.Apply(ctx, counter.Increment(names[i%counters], 1)); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.StopTimer()
			close(stop)
			wg.Wait()
			if bc.listed != nil {
				b.ReportMetric(float64(pages.Load())/b.Elapsed().Seconds(), "lists/s")
			}
		})
	}
}
