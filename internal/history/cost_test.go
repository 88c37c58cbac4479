package history_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
)

// capacityClient passes calls to a real client and adds up the capacity
// units DynamoDB reports for them (ReturnConsumedCapacity).
type capacityClient struct {
	history.Client
	mu                         sync.Mutex
	writes, queries            int
	writeUnits, readUnits      float64
	billedReadUnits            float64
	sketchWrites, bucketWrites int
}

func (c *capacityClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.UpdateItem(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.writes++
		c.writeUnits += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		if _, ok := in.ExpressionAttributeValues[":s"]; ok {
			c.sketchWrites++
		} else {
			c.bucketWrites++
		}
	}
	return out, err
}

func (c *capacityClient) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.Query(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.queries++
		c.readUnits += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		// AWS bills a Query at least one unit (strongly consistent), even
		// one that finds nothing, for which DynamoDB Local reports 0.
		c.billedReadUnits += max(1, aws.ToFloat64(out.ConsumedCapacity.CapacityUnits))
	}
	return out, err
}

// traffic is a pattern of hits: counters hit in turn, each hit at its
// second from the start.
type traffic struct {
	name     string
	counters int
	hits     int
	// at is the time of hit i (from 0) from the start, in seconds; hit i
	// goes to counter i % counters.
	at func(i int) float64
}

var trafficPatterns = []traffic{
	{"busy: 1 counter, 10 hits a second", 1, 1000, func(i int) float64 { return float64(i) / 10 }},
	{"100 counters, 6 hits a minute each", 100, 1000, func(i int) float64 { return float64(i) / 10 }},
	{"100 quiet counters, 1 hit a minute each", 100, 1000, func(i int) float64 { return float64(i) * 0.6 }},
	{"a truly quiet counter: 1 hit each 10 minutes", 1, 12, func(i int) float64 { return float64(i) * 600 }},
}

// windowBatches cuts records, timed by at, into the batches of an event
// source mapping with a batching window of window seconds and batches of
// up to 1,000 records: a batch holds the records that came within the
// window after its first one.
func windowBatches(records []history.Record, at []float64, window float64) [][]history.Record {
	var batches [][]history.Record
	for i := 0; i < len(records); {
		j := i + 1
		for j < len(records) && j-i < 1000 && at[j] < at[i]+window {
			j++
		}
		batches = append(batches, records[i:j])
		i = j
	}
	return batches
}

// aggregatorCost is what the aggregator spent on a pattern of traffic.
type aggregatorCost struct {
	hits, batches int
	units         *capacityClient
}

// perThousand scales n, counted over c.hits hits, to 1,000 hits.
func (c aggregatorCost) perThousand(n float64) float64 { return n * 1000 / float64(c.hits) }

// dollarsPerMillion is the aggregator's share per million hits at list
// prices: $0.20 per million invocations, $0.625 per million write units,
// $0.125 per million read units (as AWS bills them).
func (c aggregatorCost) dollarsPerMillion() float64 {
	return (float64(c.batches)*0.20 + c.units.writeUnits*0.625 + c.units.billedReadUnits*0.125) / float64(c.hits)
}

// measure feeds the hits of tr to the aggregator in the batches of a
// window of window seconds, on a new stats table, with a new visitor on
// every hit or none, and checks that the hour and day buckets hold every
// hit.
func measure(t *testing.T, client *dynamodb.Client, stats string, tr traffic, visitors bool, window float64) aggregatorCost {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := dynamostore.CreateStatsTable(ctx, client, stats); err != nil {
		t.Fatal(err)
	}
	s := newStream()
	start := daysAgo(1, 5)
	names := make([]string, tr.counters)
	for c := range names {
		names[c] = fmt.Sprintf("c%d", c)
		s.create(names[c], 0, start)
	}
	creates := len(s.records)
	at := make([]float64, 0, tr.hits)
	for i := range tr.hits {
		s.increment(names[i%tr.counters], 1, start.Add(time.Duration(tr.at(i)*float64(time.Second))))
		if visitors {
			v := make([]byte, 8)
			binary.BigEndian.PutUint64(v, 0x9e3779b97f4a7c15*uint64(i+1))
			s.records[len(s.records)-1].NewImage["v"] = &types.AttributeValueMemberB{Value: v}
		}
		at = append(at, tr.at(i))
	}
	if _, err := history.NewAggregator(client, stats, nil).Handle(ctx, s.records[:creates]); err != nil { // creations add nothing
		t.Fatal(err)
	}
	units := &capacityClient{Client: client}
	agg := history.NewAggregator(units, stats, nil)
	batches := windowBatches(s.records[creates:], at, window)
	for _, b := range batches {
		resp, err := agg.Handle(ctx, b)
		if err != nil || resp.FirstFailed != "" {
			t.Fatalf("Handle = %+v, %v", resp, err)
		}
	}
	if hours, days := sumBuckets(ctx, t, client, stats); hours != int64(tr.hits) || days != int64(tr.hits) {
		t.Errorf("%s: hour buckets hold %d hits, day buckets %d, want %d", tr.name, hours, days, tr.hits)
	}
	return aggregatorCost{hits: tr.hits, batches: len(batches), units: units}
}

// TestAggregatorUnitsPerBatch holds docs/deploying.md's price of a batch
// for one counter with small sketches: 2 write units (the hour and day
// buckets), and with uniques 2 more (the sketches) and 2 read units (a
// Query of each sketch), measured on a counter whose every hit is alone in
// its batch; and a busy counter's hits of one window in one batch.
func TestAggregatorUnitsPerBatch(t *testing.T) {
	client, table := newTable(t)
	quiet := traffic{"a quiet counter", 1, 6, func(i int) float64 { return float64(i) * 600 }}
	busy := traffic{"a busy counter", 1, 600, func(i int) float64 { return float64(i) / 10 }}
	for _, tc := range []struct {
		name     string
		tr       traffic
		visitors bool
		batches  int
		requests int     // UpdateItems in all
		units    float64 // write units per hit (0: the sketches' sizes decide)
		reads    float64 // billed read units per hit
		dollars  float64 // per million hits (0: not checked)
	}{
		{"quiet, uniques off", quiet, false, 6, 12, 2, 0, 1.45},
		{"quiet, uniques on", quiet, true, 6, 24, 4, 2, 2.95},
		{"busy, uniques on, one 60 s batch", busy, true, 1, 4, 0, 2.0 / 600, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := measure(t, client, table+"-"+strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", ""), ",", "-"), tc.tr, tc.visitors, 60)
			if c.batches != tc.batches || c.units.writes != tc.requests {
				t.Errorf("%d batches, %d writes; want %d, %d", c.batches, c.units.writes, tc.batches, tc.requests)
			}
			if got := c.units.writeUnits / float64(c.hits); tc.units > 0 && got != tc.units {
				t.Errorf("%.4f write units per hit, want %.4f", got, tc.units)
			}
			if got := c.units.billedReadUnits / float64(c.hits); got != tc.reads {
				t.Errorf("%.4f read units per hit, want %.4f", got, tc.reads)
			}
			if got := c.dollarsPerMillion(); tc.dollars > 0 && fmt.Sprintf("%.2f", got) != fmt.Sprintf("%.2f", tc.dollars) {
				t.Errorf("$%.3f per million hits, want $%.2f", got, tc.dollars)
			}
			t.Logf("%d hits, %d batches: %d writes, %.1f write units, %.1f read units billed, $%.3f per million hits",
				c.hits, c.batches, c.units.writes, c.units.writeUnits, c.units.billedReadUnits, c.dollarsPerMillion())
		})
	}
}

// TestAggregatorCostByWindow measures, on DynamoDB Local with
// ReturnConsumedCapacity, what the aggregator spends per 1,000 hits for
// each traffic pattern, under the template's batching window before
// (1 s) and after (60 s, StatsBatchWindowSeconds' default) and at its
// largest (300 s), with uniques off and on (a new visitor on every hit).
// The batches are cut from the hits' times as Lambda's event source
// mapping cuts them (windowBatches). It checks every hit lands in an hour
// and a day bucket, and logs the figures of docs/deploying.md's cost table.
func TestAggregatorCostByWindow(t *testing.T) {
	if os.Getenv("HITCOUNTER_MEASURE_UNITS") == "" {
		t.Skip("a measurement of a few minutes on DynamoDB Local: make bench runs it (HITCOUNTER_MEASURE_UNITS=1)")
	}
	client, table := newTable(t)
	var report []string
	run := 0
	for _, tr := range trafficPatterns {
		for _, visitors := range []bool{false, true} {
			for _, window := range []float64{1, 60, 300} {
				run++
				c := measure(t, client, fmt.Sprintf("%s-s%d", table, run), tr, visitors, window)
				uniq := "off"
				if visitors {
					uniq = "on"
				}
				u := c.units
				report = append(report, fmt.Sprintf("| %s | %s | %.0f s | %.1f | %.0f (%.0f of sketches) | %.1f | %.1f (%.1f billed) | $%.2f |",
					tr.name, uniq, window, c.perThousand(float64(c.batches)), c.perThousand(float64(u.writes)), c.perThousand(float64(u.sketchWrites)),
					c.perThousand(u.writeUnits), c.perThousand(u.readUnits), c.perThousand(u.billedReadUnits), c.dollarsPerMillion()))
			}
		}
	}
	t.Logf("per 1,000 hits:\n| traffic | uniques | window | invocations | writes | write units | read units (AWS bills at least 1 a Query) | aggregator $ per million hits |\n|---|---|---|---|---|---|---|---|\n%s",
		strings.Join(report, "\n"))
}

// sumBuckets adds up the hits of the stats table's hour and day buckets.
func sumBuckets(ctx context.Context, t *testing.T, client *dynamodb.Client, table string) (hours, days int64) {
	t.Helper()
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			sk := item["sk"].(*types.AttributeValueMemberS).Value
			switch {
			case strings.HasPrefix(sk, "h#"):
				hours += numOf(item, dynamostore.StatsHits)
			case strings.HasPrefix(sk, "d#"):
				days += numOf(item, dynamostore.StatsHits)
			}
		}
	}
	return hours, days
}
