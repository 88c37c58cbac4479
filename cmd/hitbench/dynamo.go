package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamolocal"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
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
	client := dynamolocal.NewClient(ddb.Endpoint())
	const table = "hitbench"
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		return err
	}
	store := dynamostore.New(client, table)
	for _, name := range []string{"raw", "store", "server"} {
		if _, err := store.Create(ctx, name, 0); err != nil {
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
	viaStore := func(ctx context.Context) error {
		_, err := store.Increment(ctx, "store", 1)
		return err
	}

	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	svc, err := startProcess(ctx, "hitcounter", []string{o.serverBin}, []string{
		"PORT=" + port, "HOST=127.0.0.1", "STORE=dynamodb", "TABLE_NAME=" + table, "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_DYNAMODB=" + ddb.Endpoint(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
	}, io.Discard)
	if err != nil {
		return err
	}
	defer svc.stop()
	if err := waitReady(addr); err != nil {
		return err
	}

	warm := 3 * o.duration
	fmt.Printf("hitbench dynamodb: warming the JVM for %s\n", warm)
	if _, err := loop(ctx, o.connections, warm, raw); err != nil {
		return err
	}
	type sample struct{ raw, store, server float64 }
	var samples []sample
	for round := range o.rounds {
		r, err := loop(ctx, o.connections, o.duration, raw)
		if err != nil {
			return fmt.Errorf("raw: %w", err)
		}
		s, err := loop(ctx, o.connections, o.duration, viaStore)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		w, err := load(ctx, addr, "increment-server", o)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		fmt.Printf("  round %d: raw SDK %6.0f/s, store %6.0f/s (%.2fx), server %6.0f/s (%.2fx)\n",
			round+1, r, s, s/r, w.rps, w.rps/r)
		samples = append(samples, sample{r, s, w.rps})
	}
	var rs, ss, ws []float64
	for _, s := range samples {
		rs, ss, ws = append(rs, s.raw), append(ss, s.store), append(ws, s.server)
	}
	r, s, w := medianOf(rs), medianOf(ss), medianOf(ws)
	table2 := fmt.Sprintf("| path | increments/s (median of %d) | vs raw SDK loop |\n|---|---|---|\n"+
		"| raw SDK UpdateItem loop (baseline) | %.0f | 1.00x |\n"+
		"| dynamostore.Store.Increment | %.0f | **%.2fx** |\n"+
		"| standalone server, STORE=dynamodb, under wrk | %.0f | **%.2fx** |\n",
		len(samples), r, s, s/r, w, w/r)
	fmt.Printf("\n%s", table2)

	// Nothing lost: each counter holds exactly what was acknowledged to it,
	// give or take the requests cut off when a round's time ran out.
	c, err := store.Get(ctx, "store")
	if err == nil {
		fmt.Printf("store counter after the runs: %d\n", c.Count)
	}
	fmt.Fprintf(report, "%s\n%d concurrent clients, %s rounds, DynamoDB Local %s in memory on the same machine.\n\n",
		table2, o.connections, o.duration, dynamolocal.Version)
	return nil
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

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
