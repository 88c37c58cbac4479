package replsim

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/streampoll"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// RegionNames are the regions StartForTest simulates.
var RegionNames = [2]string{"us-east-1", "eu-west-1"}

// CreateFunc creates table with client and returns its stream's ARN.
type CreateFunc func(ctx context.Context, client *dynamodb.Client, table string) (streamARN string, err error)

// shared are the two DynamoDB Local servers (one per region) of the test
// binary, started on first use and stopped by RunTests.
var shared struct {
	once    sync.Once
	servers [2]*dynamolocal.Server
	err     error
	tables  atomic.Int64
}

// StartForTest creates a table of the test's own named after table in each
// of two regions (RegionNames; two DynamoDB Local servers shared by the
// test binary, started on first use), with create, and starts a Sim
// between them that runs until the test ends.
func StartForTest(tb testing.TB, table string, create CreateFunc, opts Options) (*Sim, [2]Region) {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		for i := range shared.servers {
			if shared.servers[i], shared.err = dynamolocal.Start(ctx, dynamolocal.Options{}); shared.err != nil {
				return
			}
		}
	})
	if shared.err != nil {
		tb.Fatalf("DynamoDB Local: %v", shared.err)
	}
	table += "-" + strconv.FormatInt(shared.tables.Add(1), 10)
	var regions [2]Region
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, name := range RegionNames {
		cfg := dynamostore.ClientConfig{Region: name, Endpoint: shared.servers[i].Endpoint()}
		db := dynamostore.NewClient(cfg)
		arn, err := create(ctx, db, table)
		if err != nil {
			tb.Fatalf("create %s in %s: %v", table, name, err)
		}
		regions[i] = Region{Name: name, DB: db, Streams: streampoll.NewClient(cfg), Table: table, StreamARN: arn}
	}
	sim := New(regions[0], regions[1], opts)
	run, stop := context.WithCancel(context.Background())
	tb.Cleanup(stop)
	sim.Start(run)
	return sim, regions
}

// RunTests runs the tests (with dynamolocal.RunTests) and then stops the
// servers StartForTest started. Call it from TestMain:
// os.Exit(replsim.RunTests(m)).
func RunTests(m *testing.M) int {
	code := dynamolocal.RunTests(m)
	var errs []error
	for _, s := range shared.servers {
		if s != nil {
			errs = append(errs, s.Stop())
		}
	}
	if err := errors.Join(errs...); err != nil {
		println(err.Error())
	}
	return code
}
