package dynamostore_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func keyedIncrement(name string) counter.Write {
	return counter.Write{Op: counter.OpIncrement, Name: name, By: 1}
}

// TestKeyedRecordItem checks the record a keyed write leaves in the table:
// an i# item with the TTL attribute 24 h ahead and the fingerprint, which
// listings skip; and that the table has TTL enabled on that attribute.
func TestKeyedRecordItem(t *testing.T) {
	clock := time.Now().UTC().AddDate(1, 0, 0).Truncate(time.Second) // see TestKeyedRecordExpires
	client, table := newTable(t)
	s := dynamostore.New(client, table, dynamostore.WithClock(func() time.Time { return clock }))
	ctx := testContext(t)
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, keyedIncrement("x").WithKey(counter.IdempotencyKey{Key: "k"})); err != nil {
		t.Fatal(err)
	}
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var records []map[string]types.AttributeValue
	for _, item := range out.Items {
		if pk := item["pk"].(*types.AttributeValueMemberS).Value; strings.HasPrefix(pk, "i#") {
			records = append(records, item)
		}
	}
	if len(records) != 1 || len(out.Items) != 2 {
		t.Fatalf("table holds %v, want the counter and one i# record", out.Items)
	}
	rec := records[0]
	if exp, ok := rec["expires_at"].(*types.AttributeValueMemberN); !ok || exp.Value != strconv.FormatInt(clock.Add(24*time.Hour).Unix(), 10) {
		t.Errorf("record expires_at = %v, want %d", rec["expires_at"], clock.Add(24*time.Hour).Unix())
	}
	if fp, ok := rec["fingerprint"].(*types.AttributeValueMemberB); !ok || len(fp.Value) != 32 {
		t.Errorf("record fingerprint = %v, want 32 bytes", rec["fingerprint"])
	}
	page, err := s.List(ctx, counter.ListOptions{Limit: 10})
	if err != nil || len(page.Counters) != 1 {
		t.Errorf("List = %+v, %v; want only the counter", page, err)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "expires_at" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL = %+v, want enabled on expires_at", d)
	}
	// CreateTable on the existing table leaves TTL as it is.
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Errorf("CreateTable again: %v", err)
	}
}

// TestKeyedRecordExpires checks that a record older than the TTL, which
// DynamoDB may not have deleted yet, no longer answers: the write is new.
//
// The clock runs a year ahead of the real one: DynamoDB Local does expire
// items by TTL, and a record whose expires_at is already past in real time
// could be deleted under the test, which would prove nothing.
func TestKeyedRecordExpires(t *testing.T) {
	clock := time.Now().UTC().AddDate(1, 0, 0).Truncate(time.Second)
	client, table := newTable(t)
	s := dynamostore.New(client, table, dynamostore.WithClock(func() time.Time { return clock }))
	ctx := testContext(t)
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	start := clock
	key := counter.IdempotencyKey{Key: "k"}
	for _, st := range []struct {
		after        time.Duration
		wantCount    int64
		wantReplayed bool
	}{
		{0, 1, false},
		{24*time.Hour - time.Second, 1, true},
		{24*time.Hour + time.Second, 2, false},
		{25 * time.Hour, 2, true},
	} {
		clock = start.Add(st.after)
		o, err := s.Apply(ctx, keyedIncrement("x").WithKey(key))
		replayed := o.Replayed
		if err != nil || o.Counter.Count != st.wantCount || replayed != st.wantReplayed {
			t.Errorf("after %v: keyed Apply = %d, replayed %t, %v; want %d, replayed %t", st.after, o.Counter.Count, replayed, err, st.wantCount, st.wantReplayed)
		}
	}
}

// dropFirstAnswer is a proxy to upstream (DynamoDB Local) that forwards
// every request but drops the connection, unanswered, after the first
// request of the operation (e.g. "PutItem") was applied; count counts the
// requests of that operation.
func dropFirstAnswer(t *testing.T, upstream, operation string) (url string, count *atomic.Int64) {
	t.Helper()
	count = &atomic.Int64{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, err := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+operation) && count.Add(1) == 1 {
			dropConnection(w) // applied, never acknowledged
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	return proxy.URL, count
}

// TestKeyedAppliedButUnacknowledged: the transaction of a keyed increment
// is applied but its answer is lost. If the SDK retries it (same
// ClientRequestToken), DynamoDB deduplicates it; if nobody retries, the
// increment is Unavailable and the client's retry with the same key
// replays it. Either way it is counted once.
func TestKeyedAppliedButUnacknowledged(t *testing.T) {
	noRetries := func(o *dynamodb.Options) { o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 1) }
	tests := map[string]struct {
		retryer          func(*dynamodb.Options)
		wantUnavailable  bool
		wantTransactions int64
	}{
		"the SDK retries":    {retryer: fastRetries, wantTransactions: 2},
		"the client retries": {retryer: noRetries, wantUnavailable: true, wantTransactions: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, table := newTable(t)
			url, transactions := dropFirstAnswer(t, dynamolocal.ForTest(t).Endpoint(), "TransactWriteItems")
			s := dynamostore.New(dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: url}, tc.retryer), table)
			ctx := testContext(t)
			if _, err := s.Apply(ctx, counter.Create("x", 41)); err != nil {
				t.Fatal(err)
			}
			key := counter.IdempotencyKey{Key: "k"}
			o, err := s.Apply(ctx, keyedIncrement("x").WithKey(key))
			if tc.wantUnavailable {
				if counter.ErrorCode(err) != counter.Unavailable {
					t.Fatalf("first keyed Apply = %+v, %v; want unavailable", o, err)
				}
				o, err = s.Apply(ctx, keyedIncrement("x").WithKey(key))
				if err != nil || !o.Replayed {
					t.Fatalf("retried keyed Apply = %+v, %v; want the replayed answer", o, err)
				}
			} else if err != nil || o.Replayed {
				t.Fatalf("keyed Apply = %+v, %v; want applied", o, err)
			}
			if o.Counter.Count != 42 {
				t.Errorf("answered count %d, want 42", o.Counter.Count)
			}
			if got, err := s.Get(ctx, "x"); err != nil || got.Count != 42 {
				t.Errorf("Get = %+v, %v; want count 42: counted once", got, err)
			}
			if got := transactions.Load(); got != tc.wantTransactions {
				t.Errorf("TransactWriteItems requests = %d, want %d", got, tc.wantTransactions)
			}
		})
	}
}

// capacityClient asks DynamoDB for the capacity every request consumes and
// adds it up.
type capacityClient struct {
	*dynamodb.Client
	mu          sync.Mutex
	read, write float64
}

func (c *capacityClient) add(cc ...types.ConsumedCapacity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range cc {
		c.read += aws.ToFloat64(x.ReadCapacityUnits)
		c.write += aws.ToFloat64(x.WriteCapacityUnits)
		if x.ReadCapacityUnits == nil && x.WriteCapacityUnits == nil {
			c.write += aws.ToFloat64(x.CapacityUnits) // DynamoDB Local reports only the total on writes
		}
	}
}

func (c *capacityClient) reset() (read, write float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	read, write, c.read, c.write = c.read, c.write, 0, 0
	return read, write
}

func (c *capacityClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.GetItem(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.mu.Lock()
		c.read += aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		c.mu.Unlock()
	}
	return out, err
}

func (c *capacityClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.UpdateItem(ctx, in, optFns...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add(*out.ConsumedCapacity)
	}
	return out, err
}

func (c *capacityClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.TransactWriteItems(ctx, in, optFns...)
	if err == nil {
		c.add(out.ConsumedCapacity...)
	}
	return out, err
}

// TestKeyedIncrementCost reports the capacity units DynamoDB Local says an
// unkeyed and a keyed increment consume (docs/dynamodb.md quotes them),
// and holds the unkeyed one to today's single write unit. DynamoDB Local
// reports a flat 2.0 for any TransactWriteItems (1, 2 or 3 items: checked
// by hand); AWS bills 2 write units per item of a transaction.
func TestKeyedIncrementCost(t *testing.T) {
	client, table := newTable(t)
	cc := &capacityClient{Client: client}
	s := dynamostore.New(cc, table)
	ctx := testContext(t)
	if _, err := s.Apply(ctx, counter.Create("x", 0)); err != nil {
		t.Fatal(err)
	}
	cc.reset()
	if _, err := s.Apply(ctx, counter.Increment("x", 1)); err != nil {
		t.Fatal(err)
	}
	ur, uw := cc.reset()
	if _, err := s.Apply(ctx, keyedIncrement("x").WithKey(counter.IdempotencyKey{Key: "k"})); err != nil {
		t.Fatal(err)
	}
	kr, kw := cc.reset()
	if r, err := s.Apply(ctx, keyedIncrement("x").WithKey(counter.IdempotencyKey{Key: "k"})); err != nil || !r.Replayed {
		t.Fatalf("replay: %+v, %v", r, err)
	}
	rr, rw := cc.reset()
	t.Logf("unkeyed increment: %.1f read, %.1f write units; keyed: %.1f read, %.1f write; keyed replay: %.1f read, %.1f write (a failed transaction reports none)", ur, uw, kr, kw, rr, rw)
	if ur != 0 || uw != 1 {
		t.Errorf("unkeyed increment consumed %.1f read and %.1f write units, want 0 and 1", ur, uw)
	}
	if kw <= uw {
		t.Errorf("keyed increment consumed %.1f write units, want more than the unkeyed %.1f (a transaction of two items)", kw, uw)
	}
}
