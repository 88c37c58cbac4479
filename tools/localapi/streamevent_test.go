package localapi

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

// TestStreamEvent checks the event make local sends to a stream consumer:
// through JSON and the aggregate function's own conversion
// (lambdafn.StreamRecords), every record comes back as polled, whatever
// the attribute types of its images; and the record carries what Lambda's
// would.
func TestStreamEvent(t *testing.T) {
	all := map[string]types.AttributeValue{
		"S":       &types.AttributeValueMemberS{Value: "home"},
		"N":       &types.AttributeValueMemberN{Value: "-12.5"},
		"B":       &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}},
		"BOOL":    &types.AttributeValueMemberBOOL{Value: true},
		"NULL":    &types.AttributeValueMemberNULL{Value: true},
		"SS":      &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"NS":      &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"BS":      &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"empty L": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"empty M": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
	}
	var list []types.AttributeValue
	for _, v := range all {
		list = append(list, v)
	}
	image := map[string]types.AttributeValue{
		"L": &types.AttributeValueMemberL{Value: append(list, &types.AttributeValueMemberM{Value: all})},
		"M": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"m": &types.AttributeValueMemberM{Value: all}, "l": &types.AttributeValueMemberL{Value: list}}},
	}
	for k, v := range all {
		image[k] = v
	}
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#home"}}
	records := []history.Record{
		{EventName: "INSERT", SequenceNumber: "100000000000000000001", Keys: key, NewImage: image},
		{EventName: "MODIFY", SequenceNumber: "100000000000000000002", Keys: key, OldImage: image, NewImage: image},
		{EventName: "REMOVE", SequenceNumber: "100000000000000000003", Keys: key, OldImage: image},
	}
	const arn = "arn:aws:dynamodb:ddblocal:000000000000:table/hits/stream/2026-12-01T00:00:00.000"
	now := time.Now()
	data, err := json.Marshal(streamEvent(records, arn, now))
	if err != nil {
		t.Fatal(err)
	}
	var event events.DynamoDBEvent
	if err := json.Unmarshal(data, &event); err != nil {
		t.Fatalf("the event does not decode as Lambda's: %v", err)
	}
	if got := lambdafn.StreamRecords(event); !reflect.DeepEqual(got, records) {
		t.Errorf("records through the event:\n got %#v\nwant %#v", got, records)
	}
	for i, r := range event.Records {
		if r.EventSource != "aws:dynamodb" || r.EventSourceArn != arn || r.EventID == "" || r.AWSRegion == "" ||
			r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" || r.Change.ApproximateCreationDateTime.Unix() != now.Unix() {
			t.Errorf("record %d: %+v, want the source, the stream's ARN, an event ID, a region, the view type and the time of delivery", i, r)
		}
	}
}
