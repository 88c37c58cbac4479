package dynamostore_test

import (
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/streampoll"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// TestStatsConformance runs the statistics suite on the real path: the
// store's writes go through the table's stream on DynamoDB Local, which a
// poller feeds to the aggregator, as Lambda's event source mapping does.
func TestStatsConformance(t *testing.T) {
	countertest.RunStats(t, newStatsHarness)
	// Hits over time exact across shards: the aggregator adds each item's
	// records once, in the buckets of the counter they belong to.
	t.Run("Sharded", func(t *testing.T) { countertest.RunStatsSharded(t, newStatsHarness) })
}

// newStatsHarness is a store on a fresh table with its stats table, whose
// stream a poller feeds to the aggregator.
func newStatsHarness(t *testing.T) countertest.StatsHarness {
	client, table := newTable(t)
	stats := table + "-stats"
	ctx := testContext(t)
	if err := dynamostore.CreateStatsTable(ctx, client, stats); err != nil {
		t.Fatalf("CreateStatsTable: %v", err)
	}
	arn, err := dynamostore.StreamARN(ctx, client, table)
	if err != nil {
		t.Fatalf("StreamARN: %v", err)
	}
	agg := history.NewAggregator(client, stats, nil)
	poller := streampoll.New(streampoll.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.ForTest(t).Endpoint()}), arn, agg.Handle,
		streampoll.Options{RetryDelay: 10 * time.Millisecond})
	clock := countertest.NewClock(time.Now())
	return countertest.StatsHarness{
		Store: dynamostore.New(client, table, dynamostore.WithStatsTable(stats), dynamostore.WithClock(clock.Now)),
		Clock: clock,
		Sync: func(t *testing.T) {
			t.Helper()
			if err := poller.Drain(testContext(t)); err != nil {
				t.Fatalf("Drain: %v", err)
			}
		},
	}
}
