package replsim

import (
	"context"
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

// StartForTest starts two DynamoDB Local servers of the test's own, one per
// region (RegionNames), creates table in each with create, and starts a
// Sim between them that runs until the test ends.
func StartForTest(tb testing.TB, table string, create CreateFunc, opts Options) (*Sim, [2]Region) {
	tb.Helper()
	var regions [2]Region
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, name := range RegionNames {
		srv := dynamolocal.StartForTest(tb, dynamolocal.Options{})
		cfg := dynamostore.ClientConfig{Region: name, Endpoint: srv.Endpoint()}
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
