package dynamostore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// listingRecords is how many idempotency records TestListingReadsCounters
// writes beside the counters: LISTING_RECORDS, or 2,000 (make test).
// scripts/stress.sh runs it with 100,000, the case of issue 21, which
// takes minutes to write into DynamoDB Local.
func listingRecords(t *testing.T) int {
	if v := os.Getenv("LISTING_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("LISTING_RECORDS=%q: want a whole number", v)
		}
		return n
	}
	return 2_000
}

// readUnits counts the read units DynamoDB reports for every read the
// store makes (ReturnConsumedCapacity), by operation.
type readUnits struct {
	dynamostore.Client
	mu    sync.Mutex
	units map[string]float64
	calls map[string]int
}

func (c *readUnits) add(op string, cc ...types.ConsumedCapacity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
	for _, x := range cc {
		c.units[op] += aws.ToFloat64(x.CapacityUnits)
	}
}

func (c *readUnits) total() (units float64, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for op, u := range c.units {
		units += u
		calls += c.calls[op]
	}
	return units, calls
}

func (c *readUnits) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.Scan(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add("Scan", *out.ConsumedCapacity)
	}
	return out, err
}

func (c *readUnits) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.BatchGetItem(ctx, in, optFns...)
	if err == nil {
		c.add("BatchGetItem", out.ConsumedCapacity...)
	}
	return out, err
}

func (c *readUnits) TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.TransactGetItems(ctx, in, optFns...)
	if err == nil {
		c.add("TransactGetItems", out.ConsumedCapacity...)
	}
	return out, err
}

func (c *readUnits) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.GetItem(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add("GetItem", *out.ConsumedCapacity)
	}
	return out, err
}

// TestListingReadsCounters: 10 counters, 3 of them spread over 4 items,
// beside thousands of idempotency records (and the shards' items): the
// first page of 100 holds all 10, each once with its total, and costs read
// units for those 10 counters, not for the table (issue 21: a Scan of the
// table answered empty pages with a cursor while it waded through the
// records). The units are logged, and printed as a line starting with
// "listing:".
func TestListingReadsCounters(t *testing.T) {
	records := listingRecords(t)
	client, table := newTable(t)
	ctx := testContext(t)
	units := &readUnits{Client: client, units: map[string]float64{}, calls: map[string]int{}}
	s := dynamostore.New(units, table)
	want := map[string]int64{}
	for i := range 10 {
		name := fmt.Sprintf("listed-%d", i)
		w := counter.Create(name, int64(i))
		if i < 3 {
			w = w.WithShards(4)
		}
		if _, err := s.Apply(ctx, w); err != nil {
			t.Fatal(err)
		}
		for range i {
			if _, err := s.Apply(ctx, counter.Increment(name, 1)); err != nil {
				t.Fatal(err)
			}
		}
		want[name] = int64(2 * i)
	}
	start := time.Now()
	writeRecords(t, client, table, records)
	t.Logf("wrote %d idempotency records in %v", records, time.Since(start).Round(time.Millisecond))
	ctx = testContext(t) // writing 100,000 takes minutes: the listing gets its own minute

	before, _ := units.total()
	page, err := s.List(ctx, counter.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	used, calls := units.total()
	used -= before
	got := map[string]int64{}
	for _, c := range page.Counters {
		if _, dup := got[c.Name]; dup {
			t.Errorf("%q listed twice", c.Name)
		}
		got[c.Name] = c.Count
		if (c.Shards == 4) != (c.Name < "listed-3") {
			t.Errorf("%q listed with %d shards", c.Name, c.Shards)
		}
	}
	if len(got) != 10 || page.NextCursor != "" {
		t.Errorf("first page: %d counters %v, cursor %q; want all 10 and no cursor", len(got), got, page.NextCursor)
	}
	for name, count := range want {
		if got[name] != count {
			t.Errorf("%q listed with %d, want %d", name, got[name], count)
		}
	}
	t.Logf("first page of 10 counters (3 with 4 shards) beside %d records: %.1f read units in %d requests (%v)", records, used, calls, units.units)
	fmt.Printf("listing: records=%d counters=10 sharded=3 first_page=%d read_units=%.1f\n", records, len(page.Counters), used)
	// A keys-only index page, one batch read of 10 items, 3 snapshots
	// of 4 items: about 0.5 + 10 + 3 x 8, whatever the records.
	if used > 40 {
		t.Errorf("the first page cost %.1f read units, want at most 40: it follows the page, not the table", used)
	}

	// Pages of 3: a cursor, and the walk sees each counter once.
	seen := map[string]int{}
	cursor := ""
	for range 10 {
		page, err := s.List(ctx, counter.ListOptions{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if page.NextCursor != "" && len(page.Counters) != 3 {
			t.Errorf("a page of %d counters with a cursor, want 3", len(page.Counters))
		}
		for _, c := range page.Counters {
			seen[c.Name]++
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 10 {
		t.Errorf("a walk in pages of 3 saw %v, want the 10 counters once each", seen)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%q seen %d times", name, n)
		}
	}
}

// writeRecords writes n idempotency-record-like items (their key prefix
// and expiry) with BatchWriteItem, 8 requests at a time.
func writeRecords(t *testing.T, client *dynamodb.Client, table string, n int) {
	t.Helper()
	expires := strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10)
	batches := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for first := range batches {
				reqs := make([]types.WriteRequest, 0, 25)
				for i := first; i < min(first+25, n); i++ {
					reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
						"pk":          &types.AttributeValueMemberS{Value: fmt.Sprintf("i#record-%07d", i)},
						"expires_at":  &types.AttributeValueMemberN{Value: expires},
						"fingerprint": &types.AttributeValueMemberB{Value: []byte("0123456789abcdef0123456789abcdef")},
						"created":     &types.AttributeValueMemberBOOL{Value: false},
						"count":       &types.AttributeValueMemberN{Value: "1"},
					}}})
				}
				for len(reqs) > 0 {
					out, err := client.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
						RequestItems: map[string][]types.WriteRequest{table: reqs},
					})
					if err != nil {
						t.Error(err)
						return
					}
					reqs = out.UnprocessedItems[table]
				}
			}
		})
	}
	for first := 0; first < n; first += 25 {
		batches <- first
	}
	close(batches)
	wg.Wait()
}

// TestOldTableGainsListingIndex: a table created before the listing index,
// holding counters as the code before shards wrote them, gains the index
// from CreateTable (as the template's update adds it on AWS), and then
// lists, reads and increments those counters: no migration step.
func TestOldTableGainsListingIndex(t *testing.T) {
	// A DynamoDB Local of its own: the shared one, after the package's
	// other tests, took over 4 minutes to fill a new index under -race
	// (25 s alone).
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.StartForTest(t, dynamolocal.Options{}).Endpoint()})
	const table = "old-table"
	ctx := slowContext(t)
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for i := range 5 {
		name := fmt.Sprintf("old-%d", i)
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"pk":         &types.AttributeValueMemberS{Value: "c#" + name},
			"name":       &types.AttributeValueMemberS{Value: name},
			"count":      &types.AttributeValueMemberN{Value: strconv.Itoa(i)},
			"created_at": &types.AttributeValueMemberN{Value: now},
			"updated_at": &types.AttributeValueMemberN{Value: now},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Fatalf("CreateTable on the old table: %v", err)
	}
	s := dynamostore.New(client, table)
	page, err := s.List(ctx, counter.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range page.Counters {
		got[c.Name] = c.Count
	}
	for i := range 5 {
		if name := fmt.Sprintf("old-%d", i); got[name] != int64(i) {
			t.Errorf("listing after the index was added: %q = %d (listed: %v), want %d", name, got[name], got, i)
		}
	}
	r, err := s.Apply(ctx, counter.Increment("old-4", 1))
	if err != nil || r.Counter.Count != 5 || r.Counter.Shards != 0 {
		t.Errorf("increment of an old counter: %+v, %v; want count 5 in one item", r, err)
	}
	if c, err := s.Get(ctx, "old-4"); err != nil || c.Count != 5 {
		t.Errorf("get of an old counter: %+v, %v; want 5", c, err)
	}
}
