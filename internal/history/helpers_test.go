package history_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
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

// newTable creates a fresh counter table on the shared DynamoDB Local and
// returns a client for it and its name.
func newTable(tb testing.TB) (*dynamodb.Client, string) {
	tb.Helper()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.ForTest(tb).Endpoint()})
	name := fmt.Sprintf("t%d-%s", tables.Add(1), strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, tb.Name()))
	if len(name) > 200 { // leaves room for "-stats" within DynamoDB's 255
		name = name[:200]
	}
	if err := dynamostore.CreateTable(testContext(tb), client, name); err != nil {
		tb.Fatalf("CreateTable: %v", err)
	}
	return client, name
}
