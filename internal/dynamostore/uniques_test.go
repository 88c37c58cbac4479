package dynamostore_test

import (
	"context"
	"fmt"
	"os"
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

// TestSaltsSharedPerDay: two processes (two Salts on one table) get the
// same salt for a day, another for another day, and the salt's item
// expires after its day plus the margin.
func TestSaltsSharedPerDay(t *testing.T) {
	client, table := newTable(t)
	ctx := testContext(t)
	day := counter.Day.Start(time.Now())
	a, b := dynamostore.NewSalts(client, table), dynamostore.NewSalts(client, table)
	var wg sync.WaitGroup
	var sa, sb [32]byte
	var ea, eb error
	wg.Go(func() { sa, ea = a.Salt(ctx, day) })
	wg.Go(func() { sb, eb = b.Salt(ctx, day) })
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	if sa != sb || sa == [32]byte{} {
		t.Error("two processes have different salts for one day")
	}
	next, err := a.Salt(ctx, day.Add(24*time.Hour))
	if err != nil || next == sa {
		t.Errorf("the next day's salt: %v, the same: %v", err, next == sa)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "s#" + day.Format("2006-01-02")}}})
	if err != nil {
		t.Fatal(err)
	}
	exp, _ := out.Item["expires_at"].(*types.AttributeValueMemberN)
	if want := fmt.Sprint(day.Add(25 * time.Hour).Unix()); exp == nil || exp.Value != want {
		t.Errorf("the salt's expires_at = %v, want %s (its day's end plus an hour)", exp, want)
	}
}

// TestWriteUnitsPerHitWithVisitor: the visitor rides on the increment's
// UpdateItem, still one write unit; so does a hit's and a bot's.
func TestWriteUnitsPerHitWithVisitor(t *testing.T) {
	client, table := newTable(t)
	cc := &unitsClient{Client: client, units: map[string]float64{}, calls: map[string]int{}}
	s := dynamostore.New(cc, table)
	ctx := testContext(t)
	if _, err := s.Apply(ctx, counter.Create("units", 0)); err != nil {
		t.Fatal(err)
	}
	const hits = 20
	for i := range hits {
		w := counter.Increment("units", 1).WithVisitor(counter.Visitor(0xfedcba9876543210 + uint64(i)))
		if i%2 == 1 {
			w = counter.Hit("units").WithVisitor(counter.Visitor(i + 1))
		}
		if _, err := s.Apply(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Apply(ctx, counter.Bot("units"))
	if err != nil || res.Counter.Count != hits {
		t.Fatalf("a bot: %+v, %v; want the count, %d", res.Counter, err, hits)
	}
	if got := cc.units["UpdateItem"] / float64(cc.calls["UpdateItem"]); cc.calls["UpdateItem"] != hits+1 || got != 1 {
		t.Errorf("%d UpdateItems of %.2f write units each, want %d of 1", cc.calls["UpdateItem"], got, hits+1)
	}
	if _, err := s.Apply(ctx, counter.Bot("missing")); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("a bot of a missing counter: %v, want NotFound", err)
	}
}

// TestWriteUnitsOfKeyedIncrementsWithVisitor: the writes that carry a
// visitor otherwise than the hot path's UpdateItem, a keyed increment (one
// TransactWriteItems with its record) of a counter in one item and of a
// sharded one, and a keyed decrement spread across shards, cost the same
// write units with a visitor as without, applied once (a replay writes
// nothing). RunVisitors (countertest) checks that their visitors are
// counted.
func TestWriteUnitsOfKeyedIncrementsWithVisitor(t *testing.T) {
	client, table := newTable(t)
	cc := &unitsClient{Client: client, units: map[string]float64{}, calls: map[string]int{}}
	s := dynamostore.New(cc, table)
	ctx := testContext(t)
	for _, w := range []counter.Write{counter.Create("one", 10), counter.Create("sharded", 10).WithShards(4)} {
		if _, err := s.Apply(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	keys := 0
	for _, tc := range []struct {
		name  string
		write counter.Write
	}{
		{"keyed, one item", counter.Increment("one", 1)},
		{"keyed, sharded", counter.Increment("sharded", 1)},
		{"keyed decrement, spread across shards", counter.Increment("sharded", -1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var units [2]float64
			for i, v := range []counter.Visitor{0, 0x0123456789abcdef} {
				keys++
				w := tc.write.WithVisitor(v).WithKey(counter.IdempotencyKey{Key: fmt.Sprintf("units-%d", keys)})
				before, calls := cc.spent("TransactWriteItems")
				for range 2 { // applied, then replayed
					if _, err := s.Apply(ctx, w); err != nil {
						t.Fatal(err)
					}
				}
				after, callsAfter := cc.spent("TransactWriteItems")
				if callsAfter != calls+1 {
					t.Fatalf("visitor %x: %d transactions for a write and its replay, want 1", v, callsAfter-calls)
				}
				units[i] = after - before
			}
			if units[0] != units[1] || units[0] == 0 {
				t.Errorf("write units: %.1f without a visitor, %.1f with; want the same, not 0", units[0], units[1])
			}
			t.Logf("%.1f write units with a visitor or without", units[1])
		})
	}
}

// aggregateUnits counts the stats table's capacity the aggregator uses.
type aggregateUnits struct {
	history.Client
	mu                   sync.Mutex
	writeUnits, reads    float64
	writes, sketchWrites int
}

func (c *aggregateUnits) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.UpdateItem(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.mu.Lock()
		c.writeUnits += *out.ConsumedCapacity.CapacityUnits
		c.writes++
		if _, ok := in.ExpressionAttributeValues[":s"]; ok {
			c.sketchWrites++
		}
		c.mu.Unlock()
	}
	return out, err
}

func (c *aggregateUnits) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.Query(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.mu.Lock()
		c.reads += *out.ConsumedCapacity.CapacityUnits
		c.mu.Unlock()
	}
	return out, err
}

// TestAggregatorUnitsPerThousandHits measures what the aggregator writes
// for 1,000 hits of 1,000 distinct visitors (the day sketch sparse) and of
// 10,000 (dense), with uniques on and off, delivered as Lambda would: in
// batches of up to 1,000 records. It logs the figures docs/dynamodb.md
// gives and checks the uniques.
func TestAggregatorUnitsPerThousandHits(t *testing.T) {
	if os.Getenv("HITCOUNTER_MEASURE_UNITS") == "" {
		t.Skip("a measurement of several minutes on DynamoDB Local: make bench runs it (HITCOUNTER_MEASURE_UNITS=1)")
	}
	for _, tc := range []struct {
		name     string
		hits     int
		visitors bool
	}{{"uniques off", 1000, false}, {"uniques on, 1,000 visitors", 1000, true}, {"uniques on, 10,000 visitors", 10_000, true}} {
		t.Run(tc.name, func(t *testing.T) {
			client, table := newTable(t)
			stats := table + "-stats"
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // 10,000 increments on a busy machine
			defer cancel()
			if err := dynamostore.CreateStatsTable(ctx, client, stats); err != nil {
				t.Fatal(err)
			}
			arn, err := dynamostore.StreamARN(ctx, client, table)
			if err != nil {
				t.Fatal(err)
			}
			s := dynamostore.New(client, table, dynamostore.WithStatsTable(stats))
			if _, err := s.Apply(ctx, counter.Create("c", 0)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < tc.hits; i += 8 {
						inc := counter.Increment("c", 1)
						if tc.visitors {
							inc = inc.WithVisitor(counter.Visitor(0x9e3779b97f4a7c15 * uint64(i+1)))
						}
						if _, err := s.Apply(ctx, inc); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			// The stream, read once the increments are in: batches as full
			// as Lambda's (up to 1,000 records).
			units := &aggregateUnits{Client: client}
			agg := history.NewAggregator(units, stats, nil)
			poller := streampoll.New(streampoll.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.ForTest(t).Endpoint()}), arn,
				agg.Handle, streampoll.Options{})
			pctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = poller.Run(pctx) }()
			q := counter.StatsQuery{Period: counter.Day, From: time.Now().Add(-24 * time.Hour)}
			var hits, uniques int64
			for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				points, err := s.Stats(ctx, "c", q)
				if err != nil {
					t.Fatal(err)
				}
				hits, uniques = 0, 0
				for _, p := range points {
					hits += p.Hits
					uniques += p.Uniques
				}
				if hits == int64(tc.hits) {
					break
				}
			}
			cancel()
			<-done
			if hits != int64(tc.hits) {
				t.Fatalf("hits %d, want %d", hits, tc.hits)
			}
			if tc.visitors {
				if e := float64(uniques-hits) / float64(hits); e > 0.02 || e < -0.02 {
					t.Errorf("uniques %d of %d visitors", uniques, hits)
				}
			} else if uniques != 0 {
				t.Errorf("uniques %d without visitors", uniques)
			}
			per := 1000 / float64(tc.hits)
			t.Logf("%d hits: %d writes (%d of sketches), %.1f write units, %.1f read units: per 1,000 hits %.1f write units, %.1f read units; uniques %d",
				tc.hits, units.writes, units.sketchWrites, units.writeUnits, units.reads, units.writeUnits*per, units.reads*per, uniques)
		})
	}
}
