package dynamoproxy_test

import (
	"context"
	"errors"
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
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

// setup starts a proxy in front of the shared DynamoDB Local with limits,
// and returns a client through it (which never retries, so that each
// refusal shows), a fresh table of partition key pk, and the proxy's
// clock: it stands still until the test moves it, so that what a key is
// refused does not depend on how fast a busy machine sends.
func setup(t *testing.T, limits dynamoproxy.Limits) (*dynamoproxy.Proxy, *dynamodb.Client, string, *clock) {
	t.Helper()
	db := dynamolocal.ForTest(t)
	p, err := dynamoproxy.Start(db.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetLimits(limits)
	clk := &clock{at: time.Now()}
	p.SetClock(clk.now)
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: p.URL()}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	// A table of its own per run: DynamoDB Local outlives the test (-count).
	table := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	if err := dynamostore.CreateTable(t.Context(), dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: db.Endpoint()}), table); err != nil {
		t.Fatal(err)
	}
	return p, client, table, clk
}

// clock is a time that moves only when told to.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
}

func add(ctx context.Context, c *dynamodb.Client, table, pk string) error {
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: key(pk), UpdateExpression: aws.String("ADD n :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	})
	return err
}

// TestWriteLimitPerKey: a key takes its limit's burst, then is refused as
// DynamoDB refuses a hot key, while another key is not; what was refused
// was not applied.
func TestWriteLimitPerKey(t *testing.T) {
	p, c, table, clk := setup(t, dynamoproxy.Limits{WriteUnits: 10, ReadUnits: 30})
	ctx := t.Context()
	var applied, refused int
	var first error
	for range 40 { // at one instant: the burst, then refusals
		err := add(ctx, c, table, "hot")
		switch {
		case err == nil:
			applied++
		case first == nil:
			first = err
			fallthrough
		default:
			refused++
		}
	}
	if applied != 10 || refused != 30 {
		t.Fatalf("40 writes to one key at 10 units/s in one instant: %d applied, %d refused; want the burst of 10 applied, 30 refused", applied, refused)
	}
	var pte *types.ProvisionedThroughputExceededException
	if !errors.As(first, &pte) {
		t.Fatalf("refusal: got %v, want ProvisionedThroughputExceededException", first)
	}
	if len(pte.ThrottlingReasons) != 1 || aws.ToString(pte.ThrottlingReasons[0].Reason) != "TableWriteKeyRangeThroughputExceeded" ||
		!strings.HasSuffix(aws.ToString(pte.ThrottlingReasons[0].Resource), ":table/"+table) {
		t.Errorf("throttling reasons %+v, want one TableWriteKeyRangeThroughputExceeded on the table", pte.ThrottlingReasons)
	}
	if err := add(ctx, c, table, "cold"); err != nil {
		t.Errorf("another key: %v", err)
	}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("hot"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Item["n"].(*types.AttributeValueMemberN).Value; got != fmt.Sprint(applied) {
		t.Errorf("the hot key holds %s, want the %d writes applied", got, applied)
	}
	u := p.Usage()
	if u.ThrottledWrites != refused || u.WriteUnits != float64(applied+1) {
		t.Errorf("usage %+v, want %d throttled writes and %d write units", u, refused, applied+1)
	}
	// The bucket refills at the limit's rate: 3 units in 300 ms.
	clk.advance(300 * time.Millisecond)
	for i := range 4 {
		if err := add(ctx, c, table, "hot"); (err == nil) != (i < 3) {
			t.Errorf("write %d after 300 ms: %v, want the first 3 applied and the 4th refused", i+1, err)
		}
	}
}

// TestReadLimitAndTransactions: reads have their own limit; a transaction
// whose items include a throttled key is cancelled with ThrottlingError
// for that item and None for the others; a BatchGetItem returns the keys
// it refused in UnprocessedKeys.
func TestReadLimitAndTransactions(t *testing.T) {
	_, c, table, _ := setup(t, dynamoproxy.Limits{WriteUnits: 4, ReadUnits: 4})
	ctx := t.Context()
	for _, pk := range []string{"a", "b"} {
		if err := add(ctx, c, table, pk); err != nil {
			t.Fatal(err)
		}
	}
	for range 8 { // use up a's writes
		_ = add(ctx, c, table, "a")
	}
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String(table), Key: key("b"), UpdateExpression: aws.String("SET m = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "1"}}}},
		{Update: &types.Update{TableName: aws.String(table), Key: key("a"), UpdateExpression: aws.String("SET m = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "1"}}}},
	}})
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) || len(canceled.CancellationReasons) != 2 ||
		aws.ToString(canceled.CancellationReasons[0].Code) != "None" || aws.ToString(canceled.CancellationReasons[1].Code) != "ThrottlingError" {
		t.Fatalf("transaction on a throttled key: got %v, want TransactionCanceledException [None, ThrottlingError]", err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("b"), ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item["m"] != nil {
		t.Fatalf("the cancelled transaction applied its other item: %v, %v", got, err)
	}

	var batchUnprocessed int
	for i := range 30 { // reads of a: 4 units a second, 1 each; the other key is new each time
		out, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			table: {Keys: []map[string]types.AttributeValue{key("a"), key(fmt.Sprint("cold-", i))}, ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			t.Fatalf("BatchGetItem: %v", err)
		}
		if u := out.UnprocessedKeys[table]; len(u.Keys) > 0 {
			batchUnprocessed++
			if len(u.Keys) != 1 || u.Keys[0]["pk"].(*types.AttributeValueMemberS).Value != "a" || !aws.ToBool(u.ConsistentRead) {
				t.Errorf("UnprocessedKeys %+v, want key a, consistent", u)
			}
		}
	}
	if batchUnprocessed == 0 {
		t.Errorf("30 batch reads of one key at 4 units/s: none left it unprocessed")
	}
	_, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("a"), ConsistentRead: aws.Bool(true)})
	var pte *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pte) || aws.ToString(pte.ThrottlingReasons[0].Reason) != "TableReadKeyRangeThroughputExceeded" {
		t.Errorf("read of a key whose reads are used up: got %v, want TableReadKeyRangeThroughputExceeded", err)
	}
}
