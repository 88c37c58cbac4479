package filestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/filestore"
)

// BenchmarkIncrement measures the file store's increment from 32
// goroutines on one counter, each one on disk when Apply returns: the
// store half of the durable hot path. commits/op says how many writes one
// commit (two fdatasyncs) carried.
func BenchmarkIncrement(b *testing.B) { benchmarkIncrement(b, false) }

// BenchmarkIncrementVisitors is BenchmarkIncrement with a new visitor
// each: the hour's and the day's sketches of the counter (dense after
// the first few thousand) decoded, updated and encoded once per commit.
func BenchmarkIncrementVisitors(b *testing.B) { benchmarkIncrement(b, true) }

func benchmarkIncrement(b *testing.B, visitors bool) {
	s, err := filestore.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("bench", 0)); err != nil {
		b.Fatal(err)
	}
	var next atomic.Uint64
	commits0, _ := s.Commits()
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := counter.Increment("bench", 1)
			if visitors {
				w = w.WithVisitor(counter.Visitor(next.Add(1)))
			}
			if _, err := s.Apply(ctx, w); err != nil {
				b.Error(err)
				return
			}
		}
	})
	commits, _ := s.Commits()
	b.ReportMetric(float64(b.N)/float64(commits-commits0), "writes/commit")
}

// BenchmarkKeyedIncrement is BenchmarkIncrement with an Idempotency-Key
// each, from 32 clients: the cost of a record with its bound's counts
// (run it with -benchtime=Nx, N below the bounds, 100,000 in all).
func BenchmarkKeyedIncrement(b *testing.B) {
	s, err := filestore.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Apply(ctx, counter.Create("bench", 0)); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		client := fmt.Sprint("client-", next.Add(1))
		for pb.Next() {
			key := counter.IdempotencyKey{Key: fmt.Sprint("key-", next.Add(1)), Client: client}
			if _, err := s.Apply(ctx, counter.Increment("bench", 1).WithKey(key)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
