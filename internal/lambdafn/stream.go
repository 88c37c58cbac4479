package lambdafn

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/history"
)

// adaptStream turns a handler of stream records into the handler of a
// Lambda function fed by a DynamoDB stream's event source mapping (with
// ReportBatchItemFailures): Lambda's event types stop here.
func adaptStream(handle func(context.Context, []history.Record) (history.BatchResult, error)) AggregateHandler {
	return func(ctx context.Context, event events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		result, err := handle(ctx, StreamRecords(event))
		return BatchResponse(result), err
	}
}

// StreamRecords returns the records of a DynamoDB stream event as the
// history package reads them, with their keys and images in the DynamoDB
// API's types.
func StreamRecords(event events.DynamoDBEvent) []history.Record {
	records := make([]history.Record, len(event.Records))
	for i, r := range event.Records {
		records[i] = history.Record{
			EventName:      r.EventName,
			SequenceNumber: r.Change.SequenceNumber,
			Keys:           attributes(r.Change.Keys),
			OldImage:       attributes(r.Change.OldImage),
			NewImage:       attributes(r.Change.NewImage),
		}
	}
	return records
}

// BatchResponse returns the partial batch response that reports result to
// Lambda: the first failed record, from which Lambda delivers again.
func BatchResponse(result history.BatchResult) events.DynamoDBEventResponse {
	if result.FirstFailed == "" {
		return events.DynamoDBEventResponse{}
	}
	return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: result.FirstFailed}}}
}

func attributes(m map[string]events.DynamoDBAttributeValue) map[string]types.AttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = attribute(v)
	}
	return out
}

func attribute(v events.DynamoDBAttributeValue) types.AttributeValue {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}
	case events.DataTypeMap:
		return &types.AttributeValueMemberM{Value: attributes(v.Map())}
	case events.DataTypeList:
		list := make([]types.AttributeValue, len(v.List()))
		for i, item := range v.List() {
			list[i] = attribute(item)
		}
		return &types.AttributeValueMemberL{Value: list}
	}
	// aws-lambda-go decodes no other type: an event with one fails to
	// unmarshal before the handler runs.
	return &types.UnknownUnionMember{Tag: "?"}
}
