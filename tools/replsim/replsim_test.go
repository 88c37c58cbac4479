package replsim_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/tools/replsim"
)

func TestMain(m *testing.M) { os.Exit(replsim.RunTests(m)) }

// createPlain creates a table keyed by pk alone, with a stream of both images.
func createPlain(ctx context.Context, db *dynamodb.Client, table string) (string, error) {
	out, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.TableDescription.LatestStreamArn), nil
}

func pk(v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: v}}
}

// count reads the item's count in region r (-1: no item).
func count(t *testing.T, r replsim.Region, key string) int64 {
	t.Helper()
	out, err := r.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &r.Table, Key: pk(key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("get %s in %s: %v", key, r.Name, err)
	}
	if out.Item == nil {
		return -1
	}
	n, err := strconv.ParseInt(out.Item["count"].(*types.AttributeValueMemberN).Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func settle(t *testing.T, sim *replsim.Sim) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sim.Settle(ctx); err != nil {
		t.Fatalf("settle: %v", err)
	}
}

// TestReplicatesBothWays checks the simulator itself: a put, an update and
// a delete in either region reach the other, and writes that cross settle
// on one version in both.
func TestReplicatesBothWays(t *testing.T) {
	sim, regions := replsim.StartForTest(t, "items", createPlain, replsim.Options{Delay: 50 * time.Millisecond})
	a, b := regions[0], regions[1]
	ctx := context.Background()
	put := func(r replsim.Region, key string, n int) {
		t.Helper()
		item := pk(key)
		item["count"] = &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
		if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &r.Table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "x", 1)
	put(b, "y", 2)
	settle(t, sim)
	if got := [4]int64{count(t, a, "x"), count(t, b, "x"), count(t, a, "y"), count(t, b, "y")}; got != [4]int64{1, 1, 2, 2} {
		t.Fatalf("x in a, b and y in a, b = %v, want [1 1 2 2]", got)
	}
	if _, err := b.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &b.Table, Key: pk("x")}); err != nil {
		t.Fatal(err)
	}
	settle(t, sim)
	if got := [2]int64{count(t, a, "x"), count(t, b, "x")}; got != [2]int64{-1, -1} {
		t.Fatalf("x after delete in b: %v, want both gone", got)
	}
	// Crossing writes: both regions set z before either sees the other's.
	put(a, "z", 10)
	put(b, "z", 20)
	settle(t, sim)
	if za, zb := count(t, a, "z"), count(t, b, "z"); za != zb || za != 10 && za != 20 {
		t.Fatalf("z after crossing puts: a %d, b %d; want one of 10 or 20 in both", za, zb)
	}
}

// TestNaiveCounterLosesIncrements shows why a counter cannot be one item
// that every region adds to: both regions run UpdateItem ADD on one item at
// once; after replication settles both agree, on less than was
// acknowledged.
func TestNaiveCounterLosesIncrements(t *testing.T) {
	sim, regions := replsim.StartForTest(t, "naive", createPlain, replsim.Options{Delay: 100 * time.Millisecond})
	ctx := context.Background()
	item := pk("c#naive")
	item["count"] = &types.AttributeValueMemberN{Value: "0"}
	if _, err := regions[0].DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &regions[0].Table, Item: item}); err != nil {
		t.Fatal(err)
	}
	settle(t, sim)

	const clients = 16
	var acked atomic.Int64
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for _, r := range regions {
		for range clients {
			wg.Go(func() {
				for time.Now().Before(stop) {
					_, err := r.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
						TableName:                 &r.Table,
						Key:                       pk("c#naive"),
						UpdateExpression:          aws.String("ADD #c :one"),
						ExpressionAttributeNames:  map[string]string{"#c": "count"},
						ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
					})
					if err != nil {
						t.Errorf("increment in %s: %v", r.Name, err)
						return
					}
					acked.Add(1)
				}
			})
		}
	}
	wg.Wait()
	settle(t, sim)
	a, b := count(t, regions[0], "c#naive"), count(t, regions[1], "c#naive")
	if a != b {
		t.Fatalf("after settling: %d in %s, %d in %s; want the same", a, regions[0].Name, b, regions[1].Name)
	}
	lost := acked.Load() - a
	t.Logf("naive counter: %d increments acknowledged, %d left in both regions: %d lost (%.0f%%); replicator %+v",
		acked.Load(), a, lost, 100*float64(lost)/float64(acked.Load()), sim.Stats())
	if lost <= 0 {
		t.Fatalf("lost %d increments; want some lost to last writer wins", lost)
	}
}
