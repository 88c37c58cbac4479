package dynamostore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
	"github.com/hitcounter/hitcounter/tools/replsim"
)

func TestMain(m *testing.M) { os.Exit(replsim.RunTests(m)) }

// testContext returns a context that ends with the test (or after a minute).
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

var tables atomic.Int64

// newTable creates a fresh table on the shared DynamoDB Local and returns a
// client for it and its name.
func newTable(tb testing.TB) (*dynamodb.Client, string) {
	tb.Helper()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.ForTest(tb).Endpoint()})
	name := fmt.Sprintf("t%d-%s", tables.Add(1), strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, tb.Name()))
	if len(name) > 255 {
		name = name[:255]
	}
	if err := dynamostore.CreateTable(testContext(tb), client, name); err != nil {
		tb.Fatalf("CreateTable: %v", err)
	}
	return client, name
}

// throttled is a table of the shared DynamoDB Local behind a proxy that
// throttles each key as DynamoDB does (limits), and a client through it.
type throttled struct {
	proxy  *dynamoproxy.Proxy
	client *dynamodb.Client // through the proxy
	direct *dynamodb.Client // straight to DynamoDB Local
	table  string
}

// newThrottled creates a fresh table behind a throttling proxy.
func newThrottled(tb testing.TB, limits dynamoproxy.Limits) throttled {
	tb.Helper()
	direct, table := newTable(tb)
	p, err := dynamoproxy.Start(dynamolocal.ForTest(tb).Endpoint())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	p.SetLimits(limits)
	return throttled{proxy: p, client: dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: p.URL()}), direct: direct, table: table}
}

// newStore returns a Store on a fresh table of the shared DynamoDB Local.
func newStore(tb testing.TB) *dynamostore.Store {
	tb.Helper()
	client, table := newTable(tb)
	return dynamostore.New(client, table)
}

// hotLoad counts the answers of a load of increments on a hot counter.
type hotLoad struct {
	acked, unavailable atomic.Int64
	maxAnswer          atomic.Int64 // the highest count an increment answered
}

// increment sends attempts increments of the counter name to s, one after
// another, counting their answers; after an Unavailable one it waits 20 ms,
// as a polite client backs off.
func (l *hotLoad) increment(ctx context.Context, t testing.TB, s counter.Store, name string, attempts int) {
	for range attempts {
		r, err := s.Apply(ctx, counter.Increment(name, 1))
		switch counter.ErrorCode(err) {
		case "":
			l.acked.Add(1)
			for m := l.maxAnswer.Load(); r.Counter.Count > m && !l.maxAnswer.CompareAndSwap(m, r.Counter.Count); m = l.maxAnswer.Load() {
			}
		case counter.Unavailable:
			l.unavailable.Add(1)
			time.Sleep(20 * time.Millisecond)
		default:
			t.Errorf("Increment: %v", err)
			return
		}
	}
}
