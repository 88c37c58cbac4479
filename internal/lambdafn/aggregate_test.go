package lambdafn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

// TestStreamRecords checks the conversion of a DynamoDB stream event, as
// Lambda sends it, into history records: every attribute type an image
// can hold, as the JSON of the event writes it, nested ones too.
func TestStreamRecords(t *testing.T) {
	tests := map[string]struct {
		json string // the attribute value in the event
		want types.AttributeValue
	}{
		"S":          {`{"S": "home"}`, &types.AttributeValueMemberS{Value: "home"}},
		"empty S":    {`{"S": ""}`, &types.AttributeValueMemberS{Value: ""}},
		"N":          {`{"N": "-12.5"}`, &types.AttributeValueMemberN{Value: "-12.5"}},
		"big N":      {`{"N": "123456789012345678901234567890"}`, &types.AttributeValueMemberN{Value: "123456789012345678901234567890"}},
		"B":          {`{"B": "AAH/"}`, &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}}},
		"BOOL true":  {`{"BOOL": true}`, &types.AttributeValueMemberBOOL{Value: true}},
		"BOOL false": {`{"BOOL": false}`, &types.AttributeValueMemberBOOL{Value: false}},
		"NULL":       {`{"NULL": true}`, &types.AttributeValueMemberNULL{Value: true}},
		"SS":         {`{"SS": ["a", "b"]}`, &types.AttributeValueMemberSS{Value: []string{"a", "b"}}},
		"NS":         {`{"NS": ["1", "2.5"]}`, &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}}},
		"BS":         {`{"BS": ["AQ==", "AgM="]}`, &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}},
		"empty L":    {`{"L": []}`, &types.AttributeValueMemberL{Value: []types.AttributeValue{}}},
		"empty M":    {`{"M": {}}`, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}},
		"L": {`{"L": [{"S": "a"}, {"N": "1"}, {"BOOL": true}, {"NULL": true}, {"B": "AQ=="}, {"SS": ["x"]}, {"NS": ["2"]}, {"BS": ["Ag=="]}, {"M": {"k": {"L": [{"N": "3"}]}}}]}`,
			&types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberS{Value: "a"}, &types.AttributeValueMemberN{Value: "1"},
				&types.AttributeValueMemberBOOL{Value: true}, &types.AttributeValueMemberNULL{Value: true},
				&types.AttributeValueMemberB{Value: []byte{1}}, &types.AttributeValueMemberSS{Value: []string{"x"}},
				&types.AttributeValueMemberNS{Value: []string{"2"}}, &types.AttributeValueMemberBS{Value: [][]byte{{2}}},
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"k": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "3"}}},
				}},
			}}},
		"M": {`{"M": {"s": {"S": "a"}, "l": {"L": [{"M": {"n": {"NULL": true}}}]}, "bs": {"BS": ["AQ=="]}}}`,
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"s": &types.AttributeValueMemberS{Value: "a"},
				"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"n": &types.AttributeValueMemberNULL{Value: true}}},
				}},
				"bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}}},
			}}},
	}
	var image []string
	for name, tc := range tests {
		image = append(image, strconv.Quote(name)+": "+tc.json)
	}
	data := fmt.Sprintf(`{"Records": [
		{"eventName": "MODIFY", "eventSource": "aws:dynamodb", "dynamodb": {"Keys": {"pk": {"S": "c#home"}},
		 "OldImage": {%[1]s}, "NewImage": {%[1]s}, "SequenceNumber": "100000000012345678901", "StreamViewType": "NEW_AND_OLD_IMAGES"}},
		{"eventName": "REMOVE", "eventSource": "aws:dynamodb", "dynamodb": {"Keys": {"pk": {"S": "c#home"}},
		 "OldImage": {"n": {"N": "1"}}, "SequenceNumber": "100000000012345678902", "StreamViewType": "NEW_AND_OLD_IMAGES"}}
	]}`, strings.Join(image, ", "))
	var event events.DynamoDBEvent
	if err := json.Unmarshal([]byte(data), &event); err != nil {
		t.Fatalf("the event: %v", err)
	}
	records := lambdafn.StreamRecords(event)
	if len(records) != 2 {
		t.Fatalf("%d records, want 2", len(records))
	}
	modify, remove := records[0], records[1]
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#home"}}
	if modify.EventName != "MODIFY" || modify.SequenceNumber != "100000000012345678901" || !reflect.DeepEqual(modify.Keys, key) {
		t.Errorf("first record %s %s %#v, want MODIFY 100000000012345678901 with key c#home", modify.EventName, modify.SequenceNumber, modify.Keys)
	}
	if remove.EventName != "REMOVE" || remove.SequenceNumber != "100000000012345678902" || remove.NewImage != nil || len(remove.OldImage) != 1 {
		t.Errorf("second record %s %s, new image %v, old image %v; want REMOVE 100000000012345678902, no new image, one attribute in the old",
			remove.EventName, remove.SequenceNumber, remove.NewImage, remove.OldImage)
	}
	if len(modify.OldImage) != len(tests) || len(modify.NewImage) != len(tests) {
		t.Errorf("images of %d and %d attributes, want %d", len(modify.OldImage), len(modify.NewImage), len(tests))
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for which, img := range map[string]map[string]types.AttributeValue{"old": modify.OldImage, "new": modify.NewImage} {
				if got := img[name]; !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s image: got %#v, want %#v", which, got, tc.want)
				}
			}
		})
	}
}

func TestBatchResponse(t *testing.T) {
	tests := map[string]struct {
		result history.BatchResult
		want   events.DynamoDBEventResponse
	}{
		"all applied": {history.BatchResult{}, events.DynamoDBEventResponse{}},
		"a failure": {history.BatchResult{FirstFailed: "100000000012345678902"},
			events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "100000000012345678902"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := lambdafn.BatchResponse(tc.result); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestAggregateEventFixture feeds events/aggregate.json (the fixture of the
// aggregate function: a create, an increment by 3, a set, an increment by
// -1 and an idempotency record) to the aggregate function's handler, wired
// from the environment as in Lambda, on DynamoDB Local, twice: the buckets
// get each hit once. The fixture's times are moved to yesterday first
// (moveFixture): DynamoDB Local applies the stats table's TTL.
func TestAggregateEventFixture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "aggregate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var event events.DynamoDBEvent
	if err := json.Unmarshal(data, &event); err != nil {
		t.Fatalf("events/aggregate.json: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint := dynamolocal.ForTest(t).Endpoint()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint})
	table := "aggregate-fixture-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	if err := dynamostore.CreateStatsTable(ctx, client, table+"-stats"); err != nil {
		t.Fatal(err)
	}
	created := counter.Day.Start(time.Now()).AddDate(0, 0, -1).Add(5 * time.Hour)
	moveFixture(t, event, created)
	clock := countertest.NewClock(created)
	store := dynamostore.New(client, table, dynamostore.WithStatsTable(table+"-stats"), dynamostore.WithClock(clock.Now))
	if _, err := store.Apply(ctx, counter.Create("home", 5)); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STORE": "dynamodb", "TABLE_NAME": table, "AWS_ENDPOINT_URL_DYNAMODB": endpoint}
	handle, err := lambdafn.NewAggregate(ctx, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		resp, err := handle(ctx, event)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("handler = %+v, %v", resp, err)
		}
	}
	tests := map[string]struct {
		q    counter.StatsQuery
		want []int64
	}{
		"hours": {counter.StatsQuery{Period: counter.Hour, From: created, To: created.Add(time.Hour)}, []int64{3, -1}},
		"day":   {counter.StatsQuery{Period: counter.Day, From: created, To: created}, []int64{2}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			points, err := store.Stats(ctx, "home", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, p := range points {
				got = append(got, p.Hits)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("hits %v, want %v", got, tc.want)
			}
		})
	}
}

// moveFixture shifts every time in the event's counter images (created_at
// and updated_at, Unix milliseconds) and its records' creation times by the
// same amount, so that the first record's created_at becomes created: the
// fixture's own dates would be past the buckets' TTL on a later day.
func moveFixture(t *testing.T, event events.DynamoDBEvent, created time.Time) {
	t.Helper()
	first, err := event.Records[0].Change.NewImage["created_at"].Int64()
	if err != nil {
		t.Fatalf("first record's created_at: %v", err)
	}
	shift := created.UnixMilli() - first
	for i := range event.Records {
		c := &event.Records[i].Change
		for _, image := range []map[string]events.DynamoDBAttributeValue{c.OldImage, c.NewImage} {
			for _, attr := range []string{"created_at", "updated_at"} {
				if v, ok := image[attr]; ok {
					ms, err := v.Int64()
					if err != nil {
						t.Fatalf("record %d %s: %v", i, attr, err)
					}
					image[attr] = events.NewNumberAttribute(strconv.FormatInt(ms+shift, 10))
				}
			}
		}
		if !c.ApproximateCreationDateTime.IsZero() {
			c.ApproximateCreationDateTime = events.SecondsEpochTime{Time: c.ApproximateCreationDateTime.Add(time.Duration(shift) * time.Millisecond)}
		}
	}
}
