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

// TestImportConformance runs the import suite on DynamoDB Local, with the
// stream fed to the aggregator, so that a hit after an import adds to the
// imported bucket as it would on AWS.
func TestImportConformance(t *testing.T) {
	countertest.RunImport(t, func(t *testing.T) countertest.StatsHarness {
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
		poller := streampoll.New(streampoll.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.ForTest(t).Endpoint()}), arn,
			history.NewAggregator(client, stats, nil).Handle, streampoll.Options{RetryDelay: 10 * time.Millisecond})
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
	})
}
