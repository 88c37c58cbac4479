package localapi

import (
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
)

// streamEvent returns the DynamoDB stream event Lambda's event source
// mapping would send for records of the stream streamARN, at now. What a
// polled record does not carry is filled in as the local stream has it:
// the local region, NEW_AND_OLD_IMAGES, the sequence number as the event ID
// (unique in the stream, and the same when a record is delivered again, as
// Lambda's is) and the time of delivery as the approximate creation time
// (within a poll interval of it).
func streamEvent(records []history.Record, streamARN string, now time.Time) events.DynamoDBEvent {
	event := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, len(records))}
	for i, r := range records {
		event.Records[i] = events.DynamoDBEventRecord{
			AWSRegion:      dynamostore.LocalRegion,
			EventID:        r.SequenceNumber,
			EventName:      r.EventName,
			EventSource:    "aws:dynamodb",
			EventVersion:   "1.1",
			EventSourceArn: streamARN,
			Change: events.DynamoDBStreamRecord{
				ApproximateCreationDateTime: events.SecondsEpochTime{Time: now.Truncate(time.Second)},
				Keys:                        eventAttributes(r.Keys),
				OldImage:                    eventAttributes(r.OldImage),
				NewImage:                    eventAttributes(r.NewImage),
				SequenceNumber:              r.SequenceNumber,
				StreamViewType:              string(types.StreamViewTypeNewAndOldImages),
			},
		}
	}
	return event
}

func eventAttributes(m map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = eventAttribute(v)
	}
	return out
}

func eventAttribute(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(eventAttributes(v.Value))
	case *types.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, item := range v.Value {
			list[i] = eventAttribute(item)
		}
		return events.NewListAttribute(list)
	default: // NULL (Lambda's events know no NULL false), or a type newer than this code
		return events.NewNullAttribute()
	}
}
