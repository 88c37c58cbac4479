package dynamolocal

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
)

// EndpointEnv names the environment variable that makes ForTest use an
// already running DynamoDB Local (or other endpoint) instead of starting
// one: the SDK's own endpoint variable, which the service reads too.
const EndpointEnv = "AWS_ENDPOINT_URL_DYNAMODB"

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// ForTest returns the DynamoDB Local server shared by the tests of this test
// binary, starting it on first use; or, if $AWS_ENDPOINT_URL_DYNAMODB is
// set, an unmanaged Server for that endpoint. It fails tb (it never skips)
// if the server cannot start, for example without Java.
//
// The shared server is stopped by RunTests, or killed when the test binary
// exits. Tests must not Stop, Kill or Restart it: use StartForTest for a
// server of their own. Give each test its own table.
func ForTest(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() {
		if ep := os.Getenv(EndpointEnv); ep != "" {
			shared.srv = &Server{endpoint: ep, external: true}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // includes the first install
		defer cancel()
		shared.srv, shared.err = Start(ctx, Options{})
	})
	if shared.err != nil {
		tb.Fatalf("DynamoDB Local: %v", shared.err)
	}
	return shared.srv
}

// StartForTest starts a DynamoDB Local server of the test's own with opts,
// stopped when the test ends. It fails tb if the server cannot start.
func StartForTest(tb testing.TB, opts Options) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		tb.Fatalf("DynamoDB Local: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop DynamoDB Local: %v", err)
		}
	})
	return s
}

// RunTests runs the tests and then stops the shared server, if ForTest
// started one. Call it from TestMain: os.Exit(dynamolocal.RunTests(m)).
func RunTests(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil && !shared.srv.external {
		if err := shared.srv.Stop(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
		}
	}
	return code
}

var errExternal = errors.New("dynamolocal: the server was not started by this process")

// TablesText returns every item of the tables as text (names, then
// values, binary values as their bytes): what a test searches for data
// that must not be stored.
func (s *Server) TablesText(tb testing.TB, tables ...string) string {
	tb.Helper()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: s.Endpoint()})
	var b strings.Builder
	var text func(v types.AttributeValue)
	text = func(v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			b.WriteString(v.Value)
		case *types.AttributeValueMemberN:
			b.WriteString(v.Value)
		case *types.AttributeValueMemberB:
			b.Write(v.Value)
		case *types.AttributeValueMemberM:
			for k, x := range v.Value {
				b.WriteString(k)
				text(x)
			}
		case *types.AttributeValueMemberL:
			for _, x := range v.Value {
				text(x)
			}
		default:
			fmt.Fprint(&b, v)
		}
		b.WriteByte('\n')
	}
	for _, table := range tables {
		p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				tb.Fatalf("scan %s: %v", table, err)
			}
			for _, item := range page.Items {
				for k, v := range item {
					b.WriteString(k)
					b.WriteByte('=')
					text(v)
				}
			}
		}
	}
	return b.String()
}
