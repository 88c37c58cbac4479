package history_test

import (
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
)

// BenchmarkAggregate measures the aggregator on DynamoDB Local: each
// iteration is a batch of 1,000 increments of 10 counters within one hour,
// which writes 20 buckets (an hour and a day per counter). It reports the
// bucket writes per 1,000 hits and the hits aggregated per second.
func BenchmarkAggregate(b *testing.B) {
	client, table := newTable(b)
	stats := table + "-stats"
	if err := dynamostore.CreateStatsTable(testContext(b), client, stats); err != nil {
		b.Fatal(err)
	}
	s := newStream()
	at := daysAgo(1, 5)
	names := []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"}
	for _, n := range names {
		s.create(n, 0, at)
	}
	fc := &faultyClient{Client: client, fault: func(int64) fault { return pass }}
	agg := history.NewAggregator(fc, stats, nil)
	ctx := testContext(b)
	hits := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		first := len(s.records)
		for j := range 1000 {
			s.increment(names[j%len(names)], 1, at.Add(time.Duration(j)*time.Second))
		}
		batch := s.records[first:]
		b.StartTimer()
		resp, err := agg.Handle(ctx, batch)
		if err != nil || resp.FirstFailed != "" {
			b.Fatalf("Handle = %+v, %v", resp, err)
		}
		hits += len(batch)
	}
	b.ReportMetric(float64(fc.calls.Load())*1000/float64(hits), "writes/1000hits")
	b.ReportMetric(float64(hits)/b.Elapsed().Seconds(), "hits/s")
}
