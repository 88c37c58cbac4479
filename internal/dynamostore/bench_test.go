package dynamostore_test

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

// benchConcurrency is the number of goroutines that increment at once.
const benchConcurrency = 16

// BenchmarkIncrement compares Store.Increment with a bare SDK UpdateItem
// ADD loop, on the same DynamoDB Local, table, counter and concurrency. Its
// steady figure is the client CPU per increment (client-cpu-µs/op): the
// throughput of DynamoDB Local keeps rising as its JVM warms, which favors
// whichever sub-benchmark runs second, so the throughput comparison that
// make bench reports comes from tools/cmd/hitbench, which interleaves the sides.
// store-keyed is the same increment with an Idempotency-Key (ApplyKeyed),
// each with a new key, retried with it while contention makes it unavailable.
func BenchmarkIncrement(b *testing.B) {
	client, table := newTable(b)
	s := dynamostore.New(client, table)
	ctx := testContext(b)
	if _, err := s.Apply(ctx, counter.Create("bench", 0)); err != nil {
		b.Fatal(err)
	}
	rawInput := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#bench"}},
		UpdateExpression:          aws.String("ADD #c :one"),
		ExpressionAttributeNames:  map[string]string{"#c": "count"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	}
	// Warm DynamoDB Local's JIT up (for a few seconds) so that neither side
	// pays for it; the first sub-benchmark would otherwise be slower.
	var wg sync.WaitGroup
	warm := time.Now().Add(3 * time.Second)
	for range benchConcurrency {
		wg.Go(func() {
			for time.Now().Before(warm) {
				if _, err := s.Apply(ctx, counter.Increment("bench", 1)); err != nil {
					b.Error(err)
					return
				}
				if _, err := client.UpdateItem(ctx, rawInput); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	parallelism := max(1, benchConcurrency/runtime.GOMAXPROCS(0))
	rates := map[string]float64{}
	run := func(name string, increment func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism)
			cpu0 := processCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := increment(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			// This process's CPU time per increment: the client-side cost,
			// less noisy than throughput on a shared machine.
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "client-cpu-µs/op")
			rate := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "incr/s")
			rates[name] = rate
		})
	}
	run("raw-sdk", func() error { _, err := client.UpdateItem(ctx, rawInput); return err })
	run("store", func() error { _, err := s.Apply(ctx, counter.Increment("bench", 1)); return err })
	// A keyed increment: a consistent GetItem and a two-item
	// TransactWriteItems, retried while other increments win the race.
	var keys atomic.Int64
	run("store-keyed", func() error {
		key := counter.IdempotencyKey{Key: "bench-" + strconv.FormatInt(keys.Add(1), 10)}
		for {
			_, err := s.Apply(ctx, counter.Write{Op: counter.OpIncrement, Name: "bench", By: 1}.WithKey(key))
			if counter.ErrorCode(err) != counter.Unavailable {
				return err
			}
		}
	})
	if raw, store := rates["raw-sdk"], rates["store"]; raw > 0 && store > 0 {
		b.Logf("%d goroutines: raw-sdk %.0f incr/s, store %.0f incr/s (run in that order; see tools/cmd/hitbench for an interleaved comparison)",
			parallelism*runtime.GOMAXPROCS(0), raw, store)
	}
}

// processCPU returns the user+system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
