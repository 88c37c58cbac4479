package dynamostore_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/replsim"
)

// callsClient counts the requests a store sends, by operation, and adds up
// the capacity units DynamoDB reports for them: it asks every request for
// ReturnConsumedCapacity TOTAL (DynamoDB Local answers it for UpdateItem,
// GetItem and BatchGetItem; for BatchGetItem, 1 read unit per item found
// strongly consistent, none for a key it does not find). A request that
// fails reports nothing: a failed conditional write, which AWS bills, is
// not in the units.
type callsClient struct {
	dynamostore.Client
	get, update, batchGet, transact atomic.Int64

	mu          sync.Mutex
	read, write float64 // capacity units
}

// units returns the read and write units reported so far.
func (c *callsClient) units() (read, write float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read, c.write
}

// add counts the total units of cc as read or write units.
func (c *callsClient) add(write bool, cc ...types.ConsumedCapacity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range cc {
		if write {
			c.write += aws.ToFloat64(x.CapacityUnits)
		} else {
			c.read += aws.ToFloat64(x.CapacityUnits)
		}
	}
}

func (c *callsClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.get.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.GetItem(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add(false, *out.ConsumedCapacity)
	}
	return out, err
}

func (c *callsClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.update.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.UpdateItem(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add(true, *out.ConsumedCapacity)
	}
	return out, err
}

func (c *callsClient) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batchGet.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.BatchGetItem(ctx, in, optFns...)
	if err == nil {
		c.add(false, out.ConsumedCapacity...)
	}
	return out, err
}

// TransactWriteItems: DynamoDB Local reports a flat 2.0 write units for any
// transaction (AWS bills 2 per item).
func (c *callsClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.transact.Add(1)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.TransactWriteItems(ctx, in, optFns...)
	if err == nil {
		c.add(true, out.ConsumedCapacity...)
	}
	return out, err
}

// BenchmarkRegionIncrement compares an increment with replica regions (an
// UpdateItem of the serving region's item conditioned on the epoch the
// process knows, then a BatchGetItem of the counter's items for the answer)
// with the single-region increment (one UpdateItem), on the same DynamoDB
// Local table, 16 goroutines each. The sides run one-region, regions,
// regions, one-region, so that DynamoDB Local's warming favors neither;
// the log line gives the ratio of their rates, the requests per region
// increment (a GetItem per increment would mean the epoch is read every
// time) and the capacity units per increment of each side, as DynamoDB
// Local reports them (both sides ask for them, so that both pay the same).
func BenchmarkRegionIncrement(b *testing.B) {
	client, table := newTable(b)
	calls, oneCalls := &callsClient{Client: client}, &callsClient{Client: client}
	one := dynamostore.New(oneCalls, table)
	regions := dynamostore.New(calls, table, dynamostore.WithRegions("us-east-1", []string{"us-east-1", "eu-west-1"}))
	ctx := testContext(b)
	for _, name := range []string{"one", "regions"} {
		if _, err := one.Apply(ctx, counter.Create(name, 0)); err != nil {
			b.Fatal(err)
		}
	}
	increment := map[string]func() error{
		"one-region": func() error { _, err := one.Apply(ctx, counter.Increment("one", 1)); return err },
		"regions":    func() error { _, err := regions.Apply(ctx, counter.Increment("regions", 1)); return err },
	}
	var wg sync.WaitGroup
	warm := time.Now().Add(2 * time.Second)
	for range benchConcurrency {
		wg.Go(func() {
			for time.Now().Before(warm) {
				if increment["one-region"]() != nil || increment["regions"]() != nil {
					b.Error("warm-up increment failed")
					return
				}
			}
		})
	}
	wg.Wait()

	parallelism := max(1, benchConcurrency/runtime.GOMAXPROCS(0))
	var ops, secs = map[string]int{}, map[string]float64{}
	var regionOps int64
	// The log line's figures count from here, after the warm-up.
	oneRead0, oneWrite0 := oneCalls.units()
	read0, write0 := calls.units()
	get0, update0, batchGet0 := calls.get.Load(), calls.update.Load(), calls.batchGet.Load()
	for i, side := range []string{"one-region", "regions", "regions", "one-region"} {
		b.Run(side+"-"+string(rune('1'+i/2)), func(b *testing.B) {
			b.SetParallelism(parallelism)
			g0, u0, bg0, t0 := calls.get.Load(), calls.update.Load(), calls.batchGet.Load(), calls.transact.Load()
			sideCalls := map[string]*callsClient{"one-region": oneCalls, "regions": calls}[side]
			r0, w0 := sideCalls.units()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := increment[side](); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incr/s")
			ops[side] += b.N
			secs[side] += b.Elapsed().Seconds()
			r1, w1 := sideCalls.units()
			b.ReportMetric((w1-w0)/float64(b.N), "WCU/op")
			b.ReportMetric((r1-r0)/float64(b.N), "RCU/op")
			if side == "regions" {
				n := float64(b.N)
				b.ReportMetric(float64(calls.get.Load()-g0)/n, "GetItem/op")
				b.ReportMetric(float64(calls.update.Load()-u0)/n, "UpdateItem/op")
				b.ReportMetric(float64(calls.batchGet.Load()-bg0)/n, "BatchGetItem/op")
				b.ReportMetric(float64(calls.transact.Load()-t0)/n, "TransactWriteItems/op")
				regionOps += int64(b.N)
			}
		})
	}
	if secs["one-region"] > 0 && secs["regions"] > 0 {
		o, r := float64(ops["one-region"])/secs["one-region"], float64(ops["regions"])/secs["regions"]
		oneRead, oneWrite := oneCalls.units()
		read, write := calls.units()
		b.Logf("%d goroutines: one region %.0f incr/s, regions %.0f incr/s: %.2fx; per region increment, all runs: %.3f GetItem, %.3f UpdateItem, %.3f BatchGetItem, %.3f write units, %.3f read units (one region: %.3f write, %.3f read)",
			parallelism*runtime.GOMAXPROCS(0), o, r, r/o, float64(calls.get.Load()-get0)/float64(regionOps), float64(calls.update.Load()-update0)/float64(regionOps), float64(calls.batchGet.Load()-batchGet0)/float64(regionOps),
			(write-write0)/float64(regionOps), (read-read0)/float64(regionOps), (oneWrite-oneWrite0)/float64(ops["one-region"]), (oneRead-oneRead0)/float64(ops["one-region"]))
	}
}

// BenchmarkTwoRegionIncrement is issue 25's figure: two regions behind the
// replication simulator (tools/replsim: two DynamoDB Local servers, a
// replicator with a 100 ms delay), each serving increments of the same
// counter at once, benchConcurrency/2 goroutines per region, against the
// single-region increment on the shared DynamoDB Local with
// benchConcurrency goroutines, in the same run. The sides run one-region,
// two-regions, two-regions, one-region. A two-regions run reports the
// increments per second of each region and of both, the write and read
// units per increment its serving region reports, and the replicated
// writes per increment (each change the simulator applied to the other
// region: on AWS, a replicated write unit in each other replica); then, with
// the timer stopped, it lets replication settle and fails unless both
// regions count every increment acknowledged so far.
//
// All of it runs on one machine: the two-regions side shares its cores
// with a second DynamoDB Local and the replicator, which on AWS run
// elsewhere, so its rate is a floor, not a forecast.
func BenchmarkTwoRegionIncrement(b *testing.B) {
	// Longer than testContext's minute: -benchtime lengthens the runs.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	// The replicator polls an idle stream every 50 ms, not every 10: it
	// runs through the one-region side too, on the same cores.
	sim, regions := replsim.StartForTest(b, "counters", createRegionTable, replsim.Options{Delay: 100 * time.Millisecond, Interval: 50 * time.Millisecond})
	var calls [2]*callsClient
	var stores [2]*dynamostore.Store
	for i, r := range regions {
		calls[i] = &callsClient{Client: r.DB}
		stores[i] = dynamostore.New(calls[i], r.Table, dynamostore.WithRegions(r.Name, replsim.RegionNames[:]))
	}
	client, table := newTable(b)
	oneCalls := &callsClient{Client: client}
	one := dynamostore.New(oneCalls, table)
	const name = "everywhere"
	if _, err := one.Apply(ctx, counter.Create(name, 0)); err != nil {
		b.Fatal(err)
	}
	if _, err := stores[0].Apply(ctx, counter.Create(name, 0)); err != nil {
		b.Fatal(err)
	}
	settleRegions(b, sim)

	// acked counts the increments each region acknowledged, warm-up included.
	var acked [2]atomic.Int64
	regionIncrement := func(i int) error {
		if _, err := stores[i].Apply(ctx, counter.Increment(name, 1)); err != nil {
			return err
		}
		acked[i].Add(1)
		return nil
	}
	// settled lets replication settle and checks that both regions count
	// every increment acknowledged in either.
	settled := func(b *testing.B) {
		b.Helper()
		settleRegions(b, sim)
		want := acked[0].Load() + acked[1].Load()
		for i, s := range stores {
			c, err := s.Get(ctx, name)
			if err != nil {
				b.Fatalf("get in %s: %v", replsim.RegionNames[i], err)
			}
			if c.Count != want {
				b.Fatalf("%s counts %d after settling; want %d, the increments acknowledged (%d in %s, %d in %s)",
					replsim.RegionNames[i], c.Count, want, acked[0].Load(), replsim.RegionNames[0], acked[1].Load(), replsim.RegionNames[1])
			}
		}
	}

	// Warm the three DynamoDB Local servers' JIT up, a side at a time (at
	// once, on 2 cores, each would get too little of them).
	perRegion := benchConcurrency / 2
	var wg sync.WaitGroup
	warm := time.Now().Add(3 * time.Second)
	for range benchConcurrency {
		wg.Go(func() {
			for time.Now().Before(warm) {
				if _, err := one.Apply(ctx, counter.Increment(name, 1)); err != nil {
					b.Errorf("warm-up increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	warm = time.Now().Add(3 * time.Second)
	for i := range stores {
		for range perRegion {
			wg.Go(func() {
				for time.Now().Before(warm) {
					if err := regionIncrement(i); err != nil {
						b.Errorf("warm-up increment in %s: %v", replsim.RegionNames[i], err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	// The warm-up's replication, left to run, would load the one-region
	// side and count in the first two-regions run's replicated writes.
	settled(b)

	parallelism := max(1, benchConcurrency/runtime.GOMAXPROCS(0))
	var ops, secs = map[string]int{}, map[string]float64{}
	var regionOps [2]int64
	var write, read, replicated float64 // two-regions side, over its runs
	for run, side := range []string{"one-region", "two-regions", "two-regions", "one-region"} {
		b.Run(side+"-"+string(rune('1'+run/2)), func(b *testing.B) {
			if side == "one-region" {
				r0, w0 := oneCalls.units()
				b.SetParallelism(parallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := one.Apply(ctx, counter.Increment(name, 1)); err != nil {
							b.Error(err)
							return
						}
					}
				})
				r1, w1 := oneCalls.units()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incr/s")
				b.ReportMetric((w1-w0)/float64(b.N), "WCU/op")
				b.ReportMetric((r1-r0)/float64(b.N), "RCU/op")
				ops[side] += b.N
				secs[side] += b.Elapsed().Seconds()
				return
			}
			var r0, w0 [2]float64
			for i := range calls {
				r0[i], w0[i] = calls[i].units()
			}
			rep0 := sim.Stats().Replicated
			// b.N increments in all, taken by whichever region's goroutine
			// is free: each region serves as many as it can.
			var next atomic.Int64
			var done [2]atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for i := range stores {
				for range perRegion {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							if err := regionIncrement(i); err != nil {
								b.Errorf("increment in %s: %v", replsim.RegionNames[i], err)
								return
							}
							done[i].Add(1)
						}
					})
				}
			}
			wg.Wait()
			b.StopTimer()
			elapsed := b.Elapsed().Seconds()
			var dr, dw float64
			for i := range calls {
				r1, w1 := calls[i].units()
				dr, dw = dr+r1-r0[i], dw+w1-w0[i]
				regionOps[i] += done[i].Load()
				b.ReportMetric(float64(done[i].Load())/elapsed, replsim.RegionNames[i]+"-incr/s")
			}
			settled(b) // its reads are not the increments'
			dRep := float64(sim.Stats().Replicated - rep0)
			n := float64(b.N)
			b.ReportMetric(n/elapsed, "incr/s")
			b.ReportMetric(dw/n, "WCU/op")
			b.ReportMetric(dr/n, "RCU/op")
			b.ReportMetric(dRep/n, "replicated/op")
			ops[side] += b.N
			secs[side] += elapsed
			write, read, replicated = write+dw, read+dr, replicated+dRep
		})
	}
	if secs["one-region"] > 0 && secs["two-regions"] > 0 {
		o, t := float64(ops["one-region"])/secs["one-region"], float64(ops["two-regions"])/secs["two-regions"]
		n := float64(ops["two-regions"])
		b.Logf("%d goroutines: one region %.0f incr/s; two regions, %d goroutines each, %.0f incr/s (%s %.0f, %s %.0f): %.2fx; per increment: %.3f write units in the serving region, %.3f read units, %.3f replicated writes; after settling both regions count all %d increments acknowledged",
			parallelism*runtime.GOMAXPROCS(0), o, perRegion, t,
			replsim.RegionNames[0], float64(regionOps[0])/secs["two-regions"], replsim.RegionNames[1], float64(regionOps[1])/secs["two-regions"],
			t/o, write/n, read/n, replicated/n, acked[0].Load()+acked[1].Load())
	}
}

// BenchmarkRegionShardedIncrement reports what a region increment reads and
// writes for a counter in one item per region and for one created with 4
// shards (two regions listed, both regions' items on the shared DynamoDB
// Local, 16 goroutines): a sharded counter's answer reads the counter's own
// item (GetItem) and every region's items at most once a second
// (BatchGetItem), where a counter in one item per region reads them all on
// every increment.
func BenchmarkRegionShardedIncrement(b *testing.B) {
	client, table := newTable(b)
	ctx := testContext(b)
	for _, l := range layouts {
		b.Run(strings.ReplaceAll(l.name, " ", "-"), func(b *testing.B) {
			calls := &callsClient{Client: client}
			var stores [2]*dynamostore.Store
			for i, r := range replsim.RegionNames {
				stores[i] = dynamostore.New(calls, table, dynamostore.WithRegions(r, replsim.RegionNames[:]))
			}
			name := fmt.Sprintf("bench-%d-%d", l.shards, b.N)
			if err := createIn(ctx, stores[0], name, 0, l.shards); err != nil {
				b.Fatal(err)
			}
			for _, s := range stores { // each region makes its items
				if _, err := s.Apply(ctx, counter.Increment(name, 1)); err != nil {
					b.Fatal(err)
				}
			}
			r0, w0 := calls.units()
			g0, bg0 := calls.get.Load(), calls.batchGet.Load()
			b.SetParallelism(max(1, benchConcurrency/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := stores[0].Apply(ctx, counter.Increment(name, 1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			n := float64(b.N)
			r1, w1 := calls.units()
			b.ReportMetric(n/b.Elapsed().Seconds(), "incr/s")
			b.ReportMetric((w1-w0)/n, "WCU/op")
			b.ReportMetric((r1-r0)/n, "RCU/op")
			b.ReportMetric(float64(calls.get.Load()-g0)/n, "GetItem/op")
			b.ReportMetric(float64(calls.batchGet.Load()-bg0)/n, "BatchGetItem/op")
		})
	}
}
