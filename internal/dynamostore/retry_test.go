package dynamostore_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// fastRetries gives a client the standard retryer (4 attempts) without
// backoff delays or a retry budget, so tests see every retry at once.
func fastRetries(o *dynamodb.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 4
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		so.RateLimiter = ratelimit.None
	})
}

// fakeDynamoDB is an httptest server whose handler answers the n-th
// request (from 1) of each operation; it counts requests per operation.
type fakeDynamoDB struct {
	srv    *httptest.Server
	counts map[string]*atomic.Int64
}

func newFakeDynamoDB(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, op string, n int64)) *fakeDynamoDB {
	t.Helper()
	f := &fakeDynamoDB{counts: map[string]*atomic.Int64{}}
	for _, op := range []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "TransactGetItems", "TransactWriteItems", "BatchGetItem"} {
		f.counts[op] = new(atomic.Int64)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		op := r.Header.Get("X-Amz-Target")
		if i := len("DynamoDB_20120810."); len(op) > i {
			op = op[i:]
		}
		c, ok := f.counts[op]
		if !ok {
			http.Error(w, "unexpected operation "+op, http.StatusBadRequest)
			return
		}
		answer(w, r, op, c.Add(1))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDynamoDB) count(op string) int64 { return f.counts[op].Load() }

func (f *fakeDynamoDB) store() *dynamostore.Store {
	return dynamostore.New(dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: f.srv.URL}, fastRetries), "table")
}

// dropConnection closes the connection after the request was read: the
// client cannot know whether it was applied.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

const itemJSON = `{"Attributes":{"pk":{"S":"c#hits"},"name":{"S":"hits"},"count":{"N":"8"},"created_at":{"N":"1767225600000"},"updated_at":{"N":"1767225600001"}}}`

func TestIncrementIsNotRetriedAfterAmbiguousFailure(t *testing.T) {
	tests := map[string]func(w http.ResponseWriter){
		"connection dropped after the request": dropConnection,
		"500 internal server error": func(w http.ResponseWriter) {
			writeJSON(w, 500, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}`)
		},
		"503 service unavailable": func(w http.ResponseWriter) {
			writeJSON(w, 503, `{"__type":"com.amazon.coral.availability#ServiceUnavailableException","message":"busy"}`)
		},
	}
	for name, fail := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeDynamoDB(t, func(w http.ResponseWriter, _ *http.Request, _ string, _ int64) { fail(w) })
			_, err := f.store().Apply(testContext(t), counter.Increment("hits", 1))
			if code := counter.ErrorCode(err); code != counter.Unavailable {
				t.Errorf("Increment code = %q (err %v), want %q", code, err, counter.Unavailable)
			}
			if got := f.count("UpdateItem"); got != 1 {
				t.Errorf("UpdateItem requests = %d, want exactly 1", got)
			}
			// The same failure on an idempotent operation is retried:
			// this proves the fake fails in a way the SDK would retry.
			_, err = f.store().Apply(testContext(t), counter.Set("hits", 1))
			if code := counter.ErrorCode(err); code != counter.Unavailable {
				t.Errorf("Set code = %q (err %v), want %q", code, err, counter.Unavailable)
			}
			if got := f.count("UpdateItem"); got != 1+4 {
				t.Errorf("UpdateItem requests after Set = %d, want 1+4 (Set retried)", got)
			}
		})
	}
}

// TestIncrementIsRetriedAfterThrottling: throttling of the table or the
// account is retried by the SDK, on the same item. (A hot key's throttling
// goes to another shard: TestHotKeyThrottlingGoesElsewhere.)
func TestIncrementIsRetriedAfterThrottling(t *testing.T) {
	tests := map[string]string{
		"ThrottlingException":  `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}`,
		"RequestLimitExceeded": `{"__type":"com.amazonaws.dynamodb.v20120810#RequestLimitExceeded","message":"slow down"}`,
		"table-wide ProvisionedThroughputExceededException": `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down",` +
			`"ThrottlingReasons":[{"reason":"TableWriteProvisionedThroughputExceeded","resource":"arn:aws:dynamodb:us-east-1:1:table/t"}]}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeDynamoDB(t, func(w http.ResponseWriter, _ *http.Request, _ string, n int64) {
				if n == 1 {
					writeJSON(w, 400, body)
					return
				}
				writeJSON(w, 200, itemJSON)
			})
			c, err := f.store().Apply(testContext(t), counter.Increment("hits", 1))
			if err != nil {
				t.Fatalf("Increment: %v", err)
			}
			if c.Counter.Name != "hits" || c.Counter.Count != 8 {
				t.Errorf("Increment = %+v, want hits at 8", c)
			}
			if got := f.count("UpdateItem"); got != 2 {
				t.Errorf("UpdateItem requests = %d, want 2 (one retry)", got)
			}
		})
	}
}

func TestThrottlingThatPersistsIsUnavailable(t *testing.T) {
	f := newFakeDynamoDB(t, func(w http.ResponseWriter, _ *http.Request, _ string, _ int64) {
		writeJSON(w, 400, `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}`)
	})
	_, err := f.store().Apply(testContext(t), counter.Increment("hits", 1))
	if code := counter.ErrorCode(err); code != counter.Unavailable {
		t.Errorf("code = %q (err %v), want %q", code, err, counter.Unavailable)
	}
	if got := f.count("UpdateItem"); got != 4 {
		t.Errorf("UpdateItem requests = %d, want 4 (all attempts)", got)
	}
}

// TestHotKeyThrottlingGoesElsewhere: DynamoDB refusing an increment because
// its key is hot (ProvisionedThroughputExceeded for a key range, or with no
// reason) is not retried on the same key by the SDK; with no shards to
// give (WithMaxShards(1)) the answer is Unavailable at once, nothing
// applied and nothing read (a read per throttled increment would buy
// nothing).
func TestHotKeyThrottlingGoesElsewhere(t *testing.T) {
	for name, body := range map[string]string{
		"key range": `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"hot",` +
			`"ThrottlingReasons":[{"reason":"TableWriteKeyRangeThroughputExceeded","resource":"arn:aws:dynamodb:us-east-1:1:table/t"}]}`,
		"no reason": `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"hot"}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeDynamoDB(t, func(w http.ResponseWriter, _ *http.Request, op string, _ int64) {
				if op == "GetItem" {
					writeJSON(w, 200, strings.Replace(itemJSON, `"Attributes"`, `"Item"`, 1))
					return
				}
				writeJSON(w, 400, body)
			})
			s := dynamostore.New(dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: f.srv.URL}, fastRetries), "table", dynamostore.WithMaxShards(1))
			_, err := s.Apply(testContext(t), counter.Increment("hits", 1))
			if code := counter.ErrorCode(err); code != counter.Unavailable {
				t.Errorf("code = %q (err %v), want %q", code, err, counter.Unavailable)
			}
			if got := f.count("UpdateItem"); got != 1 {
				t.Errorf("UpdateItem requests = %d, want 1 (a hot key is not retried on itself)", got)
			}
			if got := f.count("GetItem"); got != 0 {
				t.Errorf("GetItem requests = %d, want 0 (growth is off: nothing to read for)", got)
			}
		})
	}
}

// countingHTTPClient counts the requests the SDK tries to send.
type countingHTTPClient struct {
	n atomic.Int64
}

func (c *countingHTTPClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultClient.Do(r)
}

func TestIncrementIsRetriedWhenConnectFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	hc := &countingHTTPClient{}
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint}, fastRetries, func(o *dynamodb.Options) { o.HTTPClient = hc })
	_, err = dynamostore.New(client, "table").Apply(testContext(t), counter.Increment("hits", 1))
	if code := counter.ErrorCode(err); code != counter.Unavailable {
		t.Errorf("code = %q (err %v), want %q", code, err, counter.Unavailable)
	}
	if got := hc.n.Load(); got != 4 {
		t.Errorf("attempts = %d, want 4 (a refused connection is safe to retry)", got)
	}
}

// TestDeadlineOnHangingEndpoint checks that a store that does not answer
// makes every operation fail as Unavailable by the context's deadline.
func TestDeadlineOnHangingEndpoint(t *testing.T) {
	release := make(chan struct{})
	f := newFakeDynamoDB(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int64) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	ops := everyOperation(f.store())
	const deadline = 200 * time.Millisecond
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := op(ctx)
			if code := counter.ErrorCode(err); code != counter.Unavailable {
				t.Errorf("code = %q (err %v), want %q", code, err, counter.Unavailable)
			}
			if took := time.Since(start); took > deadline+time.Second {
				t.Errorf("took %v, want about %v", took, deadline)
			}
		})
	}
}

// TestDynamoDBLocalDown kills a DynamoDB Local of its own and checks that
// every operation then fails as Unavailable.
func TestDynamoDBLocalDown(t *testing.T) {
	srv := dynamolocal.StartForTest(t, dynamolocal.Options{})
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: srv.Endpoint()}, fastRetries)
	if err := dynamostore.CreateTable(testContext(t), client, "down"); err != nil {
		t.Fatal(err)
	}
	s := dynamostore.New(client, "down")
	if _, err := s.Apply(testContext(t), counter.Create("x", 1)); err != nil {
		t.Fatalf("Create while up: %v", err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	for name, op := range everyOperation(s) {
		t.Run(name, func(t *testing.T) {
			err := op(testContext(t))
			if code := counter.ErrorCode(err); code != counter.Unavailable {
				t.Errorf("code = %q (err %v), want %q", code, err, counter.Unavailable)
			}
		})
	}
}

// everyOperation calls each Store method once: Create on the new counter
// "y", the others on "x".
func everyOperation(s *dynamostore.Store) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"Create":    func(ctx context.Context) error { _, err := s.Apply(ctx, counter.Create("y", 1)); return err },
		"Get":       func(ctx context.Context) error { _, err := s.Get(ctx, "x"); return err },
		"Increment": func(ctx context.Context) error { _, err := s.Apply(ctx, counter.Increment("x", 1)); return err },
		"Set":       func(ctx context.Context) error { _, err := s.Apply(ctx, counter.Set("x", 1)); return err },
		"Delete":    func(ctx context.Context) error { _, err := s.Apply(ctx, counter.Delete("x")); return err },
		"List":      func(ctx context.Context) error { _, err := s.List(ctx, counter.ListOptions{}); return err },
		"Ping":      s.Ping,
	}
}
