package history

import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// Record is one record of the counter table's stream (NEW_AND_OLD_IMAGES),
// as the Aggregator needs it.
type Record struct {
	// EventName is INSERT, MODIFY or REMOVE.
	EventName string
	// SequenceNumber is the record's sequence number in the stream, 21 to
	// 40 decimal digits; it names the record in a BatchResult.
	SequenceNumber string
	// Keys is the key of the item changed; OldImage and NewImage are the
	// item before and after the change (nil for an INSERT's old and a
	// REMOVE's new).
	Keys, OldImage, NewImage map[string]types.AttributeValue
}

// BatchResult is what became of a batch of records.
type BatchResult struct {
	// FirstFailed is the sequence number of the first record of the batch
	// not known to be applied, "" if every record was: the batch is to be
	// delivered again from that record on (as Lambda does with a partial
	// batch response); the records before it are done.
	FirstFailed string
}
