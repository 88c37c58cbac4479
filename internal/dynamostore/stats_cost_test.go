package dynamostore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/streampoll"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// unitsClient asks DynamoDB for the consumed capacity of every
// UpdateItem and PutItem and adds it up.
type unitsClient struct {
	dynamostore.Client
	mu    sync.Mutex
	units map[string]float64 // by operation
	calls map[string]int
}

func (c *unitsClient) record(op string, cc *types.ConsumedCapacity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
	if cc != nil && cc.CapacityUnits != nil {
		c.units[op] += *cc.CapacityUnits
	}
}

func (c *unitsClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.UpdateItem(ctx, in, optFns...)
	if err == nil {
		c.record("UpdateItem", out.ConsumedCapacity)
	}
	return out, err
}

func (c *unitsClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.TransactWriteItems(ctx, in, optFns...)
	if err == nil {
		var total types.ConsumedCapacity // one per table: the counter table's only here
		for _, cc := range out.ConsumedCapacity {
			total.CapacityUnits = aws.Float64(aws.ToFloat64(total.CapacityUnits) + aws.ToFloat64(cc.CapacityUnits))
		}
		c.record("TransactWriteItems", &total)
	}
	return out, err
}

// spent returns the write units of op so far, and its calls.
func (c *unitsClient) spent(op string) (float64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.units[op], c.calls[op]
}

func (c *unitsClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.PutItem(ctx, in, optFns...)
	if err == nil {
		c.record("PutItem", out.ConsumedCapacity)
	}
	return out, err
}

// TestWriteUnitsPerHit checks that the table's stream and the set marker
// leave the hot path as it was: an increment is one UpdateItem of one
// write unit on a table with a stream (as DynamoDB Local reports it with
// ReturnConsumedCapacity), and so is a set.
func TestWriteUnitsPerHit(t *testing.T) {
	client, table := newTable(t)
	cc := &unitsClient{Client: client, units: map[string]float64{}, calls: map[string]int{}}
	s := dynamostore.New(cc, table)
	ctx := testContext(t)
	if _, err := s.Apply(ctx, counter.Create("units", 0)); err != nil {
		t.Fatal(err)
	}
	const hits = 20
	for range hits {
		if _, err := s.Apply(ctx, counter.Increment("units", 1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cc.units["UpdateItem"] / float64(cc.calls["UpdateItem"]); cc.calls["UpdateItem"] != hits || got != 1 {
		t.Errorf("%d UpdateItems of %.2f write units each, want %d of 1", cc.calls["UpdateItem"], got, hits)
	}
	before := cc.units["UpdateItem"]
	if _, err := s.Apply(ctx, counter.Set("units", 5)); err != nil {
		t.Fatal(err)
	}
	if got := cc.units["UpdateItem"] - before; got != 1 {
		t.Errorf("a set: %.2f write units, want 1", got)
	}
}

// BenchmarkStatsLag measures the lag from a hit to its bucket on DynamoDB
// Local, the standalone server's setup: the store increments, a stream
// poller feeds the aggregator in the background (as `STORE=dynamodb make
// run` does), and each iteration polls Stats until the hit shows. ms/op is
// the lag.
func BenchmarkStatsLag(b *testing.B) {
	client, table := newTable(b)
	stats := table + "-stats"
	ctx := testContext(b)
	if err := dynamostore.CreateStatsTable(ctx, client, stats); err != nil {
		b.Fatal(err)
	}
	arn, err := dynamostore.StreamARN(ctx, client, table)
	if err != nil {
		b.Fatal(err)
	}
	s := dynamostore.New(client, table, dynamostore.WithStatsTable(stats))
	if _, err := s.Apply(ctx, counter.Create("lag", 0)); err != nil {
		b.Fatal(err)
	}
	poller := streampoll.New(streampoll.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.ForTest(b).Endpoint()}), arn,
		history.NewAggregator(client, stats, nil).Handle, streampoll.Options{})
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = poller.Run(pctx) }()
	defer func() { cancel(); <-done }()
	var want int64
	q := counter.StatsQuery{Period: counter.Day, From: time.Now().Add(-24 * time.Hour)}
	for b.Loop() {
		if _, err := s.Apply(ctx, counter.Increment("lag", 1)); err != nil {
			b.Fatal(err)
		}
		want++
		for {
			points, err := s.Stats(ctx, "lag", q)
			if err != nil {
				b.Fatal(err)
			}
			var got int64
			for _, p := range points {
				got += p.Hits
			}
			if got == want {
				break
			}
			time.Sleep(5 * time.Millisecond) // the bucket has no change notification
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "lag-ms/op")
}
