package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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

// benchDynamoDB compares, against one DynamoDB Local and one table at the
// same concurrency, in alternating rounds after a warm-up:
//   - raw:    a bare SDK UpdateItem ADD loop (the baseline);
//   - store:  dynamostore.Store.Increment in-process;
//   - server: the standalone server (STORE=dynamodb) under wrk.
func benchDynamoDB(ctx context.Context, o options, report io.Writer) error {
	fmt.Println("hitbench dynamodb: starting DynamoDB Local (in memory)")
	ddb, err := dynamolocal.Start(ctx, dynamolocal.Options{})
	if err != nil {
		return err
	}
	defer ddb.Stop()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: ddb.Endpoint()})
	const table = "hitbench"
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		return err
	}
	store := dynamostore.New(client, table)
	for _, name := range []string{"raw", "store", "server"} {
		if _, err := store.Apply(ctx, counter.Create(name, 0)); err != nil {
			return err
		}
	}
	rawKey := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#raw"}}
	raw := func(ctx context.Context) error {
		_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(table),
			Key:                       rawKey,
			UpdateExpression:          aws.String("ADD #c :one"),
			ExpressionAttributeNames:  map[string]string{"#c": "count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
			ReturnValues:              types.ReturnValueAllNew,
		})
		return err
	}
	// rawSame sends, through the bare client, exactly the request the store
	// sends for an increment (the range condition, updated_at, ALL_NEW):
	// it separates the store's own cost from DynamoDB's cost of the
	// condition and the timestamp that the contract requires.
	if _, err := store.Apply(ctx, counter.Create("raw-same", 0)); err != nil {
		return err
	}
	rawSame := func(ctx context.Context) error {
		_, err := client.UpdateItem(ctx, storeIncrement(table, "raw-same"))
		return err
	}
	viaStore := func(ctx context.Context) error {
		_, err := store.Apply(ctx, counter.Increment("store", 1))
		return err
	}

	svc, addr, err := startServer(ctx, "hitcounter", func(string) []string { return []string{o.serverBin} }, serverEnv(
		"STORE=dynamodb", "TABLE_NAME="+table, "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_DYNAMODB="+ddb.Endpoint(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
	), io.Discard)
	if err != nil {
		return err
	}
	defer svc.stop()

	warm := 3 * o.duration
	fmt.Printf("hitbench dynamodb: warming the JVM for %s\n", warm)
	if _, err := loop(ctx, o.connections, warm, raw); err != nil {
		return err
	}
	// Each round runs raw, same, store, server, then the mirror order, for
	// half the duration each (ABCDDCBA): DynamoDB Local's throughput drifts
	// as its JVM warms and collects, and the mirrored order cancels a
	// linear drift between the paths.
	half := max(time.Second, (o.duration / 2).Truncate(time.Second)) // wrk takes whole seconds
	sides := []string{"raw", "same", "store", "server"}
	ops := map[string]float64{}  // operations done, per side, all rounds
	secs := map[string]float64{} // seconds measured, per side, all rounds
	var sameRatios, storeRatios, serverRatios []float64
	for round := range o.rounds {
		roundOps, roundSecs := map[string]float64{}, map[string]float64{}
		for _, side := range []string{"raw", "same", "store", "server", "server", "store", "same", "raw"} {
			var rate float64
			var err error
			switch side {
			case "raw":
				rate, err = loop(ctx, o.connections, half, raw)
			case "same":
				rate, err = loop(ctx, o.connections, half, rawSame)
			case "store":
				rate, err = loop(ctx, o.connections, half, viaStore)
			case "server":
				var w result
				w, err = load(ctx, addr, "increment-server", options{connections: o.connections, duration: half})
				rate = w.rps
			}
			if err != nil {
				return fmt.Errorf("%s: %w", side, err)
			}
			roundOps[side] += rate * half.Seconds()
			roundSecs[side] += half.Seconds()
		}
		rate := func(side string) float64 { return roundOps[side] / roundSecs[side] }
		fmt.Printf("  round %d: raw ADD %6.0f/s, same request %6.0f/s (%.2fx), store %6.0f/s (%.2fx), server %6.0f/s (%.2fx)\n",
			round+1, rate("raw"), rate("same"), rate("same")/rate("raw"), rate("store"), rate("store")/rate("raw"), rate("server"), rate("server")/rate("raw"))
		sameRatios = append(sameRatios, rate("same")/rate("raw"))
		storeRatios = append(storeRatios, rate("store")/rate("raw"))
		serverRatios = append(serverRatios, rate("server")/rate("raw"))
		for _, side := range sides {
			ops[side] += roundOps[side]
			secs[side] += roundSecs[side]
		}
	}
	r, m := ops["raw"]/secs["raw"], ops["same"]/secs["same"]
	s, w := ops["store"]/secs["store"], ops["server"]/secs["server"]
	table2 := fmt.Sprintf("| path | increments/s (all %d rounds) | vs raw SDK loop | vs the same request, raw | per-round ratio to raw (min / median / max) |\n|---|---|---|---|---|\n"+
		"| raw SDK UpdateItem loop, `ADD count :one` (baseline) | %.0f | 1.00x | | |\n"+
		"| raw SDK loop sending the store's exact request (range condition, `updated_at`) | %.0f | %.2fx | 1.00x | %s |\n"+
		"| dynamostore.Store.Increment | %.0f | **%.2fx** | **%.2fx** | %s |\n"+
		"| standalone server, STORE=dynamodb, under wrk | %.0f | **%.2fx** | %.2fx | %s |\n",
		o.rounds, r, m, m/r, spread(sameRatios), s, s/r, s/m, spread(storeRatios), w, w/r, w/m, spread(serverRatios))
	fmt.Printf("\n%s", table2)
	if err := recordTarget(o.targets, "DynamoDB store increment vs raw SDK UpdateItem loop, same DynamoDB Local (under 10% slower)", s/r, true, 0.9); err != nil {
		return err
	}

	// The server aggregates the stream in-process; stop it, so that the
	// aggregator's cost below is only the one this process runs.
	svc.stop()
	aggTable, err := benchAggregator(ctx, client, table, o, viaStore)
	if err != nil {
		return fmt.Errorf("aggregator: %w", err)
	}

	// Nothing lost: each counter holds exactly what was acknowledged to it,
	// give or take the requests cut off when a round's time ran out.
	c, err := store.Get(ctx, "store")
	if err == nil {
		fmt.Printf("store counter after the runs: %d\n", c.Count)
	}
	fmt.Fprintf(report, "%s\n%d concurrent clients; each round runs raw, same, store, server, server, store, same, raw for %s each, after a %s warm-up; DynamoDB Local %s in memory on the same machine. The server aggregates the table's stream in-process meanwhile, as `STORE=dynamodb make run` does.\n\n%s\n",
		table2, o.connections, half, warm, dynamolocal.Version, aggTable)
	return nil
}

// benchAggregator measures the hot path (Store.Increment) with and without
// the stats aggregator consuming the table's stream, in rounds of off, on,
// on, off. Before each "on" side the aggregator catches up, untimed, so
// that it works only on that side's own hits; the write units of one
// increment are read with ReturnConsumedCapacity while it runs.
func benchAggregator(ctx context.Context, client *dynamodb.Client, table string, o options, increment func(context.Context) error) (string, error) {
	cfg := dynamostore.ClientConfig{Endpoint: *client.Options().BaseEndpoint}
	arn, err := dynamostore.StreamARN(ctx, client, table)
	if err != nil {
		return "", err
	}
	agg := history.NewAggregator(client, table+"-stats", nil)
	// As the server runs it (and template.yaml's event source mapping).
	poller := streampoll.New(streampoll.NewClient(cfg), arn, agg.Handle, streampoll.Options{BatchSize: 1000})
	fmt.Println("hitbench dynamodb: the aggregator catches up with the stream so far")
	if err := poller.Drain(ctx); err != nil {
		return "", err
	}
	half := max(time.Second, (o.duration / 2).Truncate(time.Second))
	ops := map[bool]float64{}
	var ratios []float64
	var units float64
	for round := range o.rounds {
		rates := map[bool]float64{}
		for _, on := range []bool{false, true, true, false} {
			if !on {
				rate, err := loop(ctx, o.connections, half, increment)
				if err != nil {
					return "", err
				}
				rates[on] += rate / 2
				continue
			}
			if err := poller.Drain(ctx); err != nil {
				return "", err
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- poller.Run(runCtx) }()
			rate, err := loop(ctx, o.connections, half, increment)
			if err == nil && units == 0 {
				units, err = incrementUnits(ctx, client, table)
			}
			stop()
			<-done
			if err != nil {
				return "", err
			}
			rates[on] += rate / 2
		}
		fmt.Printf("  round %d: store increments %6.0f/s without the aggregator, %6.0f/s with it (%.2fx)\n",
			round+1, rates[false], rates[true], rates[true]/rates[false])
		ratios = append(ratios, rates[true]/rates[false])
		ops[false] += rates[false]
		ops[true] += rates[true]
	}
	off, on := ops[false]/float64(o.rounds), ops[true]/float64(o.rounds)
	t := fmt.Sprintf("| hot path, dynamostore.Store.Increment | increments/s | write units per increment |\n|---|---|---|\n"+
		"| aggregator not running | %.0f | 1.0 (TestWriteUnitsPerHit) |\n"+
		"| aggregator consuming the stream meanwhile | %.0f (**%.2fx**; per round %s) | %.1f |\n",
		off, on, on/off, spread(ratios), units)
	fmt.Printf("\n%s", t)
	return t, nil
}

// storeIncrement is, sent through a bare client, exactly the request the
// store sends for an increment of the counter name by 1.
func storeIncrement(table, name string) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                aws.String(table),
		Key:                      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#" + name}},
		UpdateExpression:         aws.String("SET #u = :now ADD #c :by"),
		ConditionExpression:      aws.String("#c BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{"#c": "count", "#u": "updated_at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":by":  &types.AttributeValueMemberN{Value: "1"},
			":lo":  &types.AttributeValueMemberN{Value: "0"},
			":hi":  &types.AttributeValueMemberN{Value: "9007199254740990"},
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().UnixMilli(), 10)},
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// incrementUnits sends one increment as the store sends it and returns the
// write units DynamoDB reports for it.
func incrementUnits(ctx context.Context, client *dynamodb.Client, table string) (float64, error) {
	in := storeIncrement(table, "store")
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := client.UpdateItem(ctx, in)
	if err != nil {
		return 0, err
	}
	if out.ConsumedCapacity == nil || out.ConsumedCapacity.CapacityUnits == nil {
		return 0, fmt.Errorf("no consumed capacity in the answer")
	}
	return *out.ConsumedCapacity.CapacityUnits, nil
}

// loop runs op from n goroutines for d and returns operations per second.
func loop(ctx context.Context, n int, d time.Duration, op func(context.Context) error) (float64, error) {
	var count atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(ctx); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(count.Load()) / time.Since(start).Seconds(), nil
}

// spread formats the minimum, median and maximum of xs.
func spread(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("%.2f / %.2f / %.2f", s[0], s[len(s)/2], s[len(s)-1])
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
