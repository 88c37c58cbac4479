package dynamostore_test

import (
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
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
	// Every write that adds hits carries its visitor to the aggregator,
	// keyed ones and those spread across shards included.
	t.Run("Visitors", func(t *testing.T) { countertest.RunVisitors(t, newStatsHarness) })
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

// TestStatsSaturates: a bucket holds the exact sum the aggregator ADDs,
// which a DynamoDB number (38 digits) lets pass the int64 bounds; Stats
// shows it saturated there, as counter.HitSum does, and never fails on it
// (issue 19, finding 5: ParseInt's "value out of range" made every query
// covering such a bucket a 500 for as long as the bucket was kept).
func TestStatsSaturates(t *testing.T) {
	client, table := newTable(t)
	stats := table + "-stats"
	ctx := testContext(t)
	if err := dynamostore.CreateStatsTable(ctx, client, stats); err != nil {
		t.Fatalf("CreateStatsTable: %v", err)
	}
	day := counter.Day.Start(time.Now())
	s := dynamostore.New(client, table, dynamostore.WithStatsTable(stats))
	c, err := s.Apply(ctx, counter.Create("huge", 0))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stored string // the bucket's hits as DynamoDB keeps them
		want   int64
	}{
		{"9232379236109515775", math.MaxInt64},                    // 1025 × MaxCount
		{"-9232379236109515775", math.MinInt64},                   // -1025 × MaxCount
		{"9223372036854775807", math.MaxInt64},                    // exactly the bound
		{"-9223372036854775808", math.MinInt64},                   // exactly the bound
		{"9223372036854775808", math.MaxInt64},                    // one past it
		{"99999999999999999999999999999999999999", math.MaxInt64}, // 38 digits
		{"-99999999999999999999999999999999999999", math.MinInt64},
		{"1E+30", math.MaxInt64}, // however DynamoDB writes it back
		{"42", 42},
	}
	q := counter.StatsQuery{Period: counter.Hour, From: day, To: day.Add(time.Duration(len(tests)-1) * time.Hour)}
	for i, tc := range tests {
		start := day.Add(time.Duration(i) * time.Hour)
		item := dynamostore.StatsBucketKey("huge", c.Counter.CreatedAt, counter.Hour, start)
		item[dynamostore.StatsHits] = &types.AttributeValueMemberN{Value: tc.stored}
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stats), Item: item}); err != nil {
			t.Fatalf("PutItem(hits %s): %v", tc.stored, err)
		}
	}
	points, err := s.Stats(ctx, "huge", q)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	for i, tc := range tests {
		if points[i].Hits != tc.want {
			t.Errorf("bucket holding %s: got %d hits, want %d", tc.stored, points[i].Hits, tc.want)
		}
	}
}
