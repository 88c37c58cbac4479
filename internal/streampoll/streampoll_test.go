package streampoll_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/hitcounter/hitcounter/internal/streampoll"
)

// fakeStream is a stream of shards held in memory, served through the
// streams API the Poller uses. Iterators are "<shard>/<position>".
type fakeStream struct {
	mu     sync.Mutex
	shards []fakeShard
	// expireNext makes the next GetRecords fail with an expired iterator.
	expireNext bool
}

type fakeShard struct {
	id, parent string
	seqs       []string
	closed     bool
}

var _ streampoll.Client = (*fakeStream)(nil)

func (f *fakeStream) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// One shard a page, to exercise pagination.
	start := 0
	if in.ExclusiveStartShardId != nil {
		for i, s := range f.shards {
			if s.id == *in.ExclusiveStartShardId {
				start = i + 1
			}
		}
	}
	desc := &types.StreamDescription{}
	if start < len(f.shards) {
		s := f.shards[start]
		sh := types.Shard{ShardId: aws.String(s.id)}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		desc.Shards = []types.Shard{sh}
		if start+1 < len(f.shards) {
			desc.LastEvaluatedShardId = aws.String(s.id)
		}
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: desc}, nil
}

func (f *fakeStream) shard(id string) *fakeShard {
	for i := range f.shards {
		if f.shards[i].id == id {
			return &f.shards[i]
		}
	}
	return nil
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(*in.ShardId)
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeAfterSequenceNumber:
		pos = slices.Index(s.seqs, *in.SequenceNumber) + 1
		if pos == 0 {
			return nil, fmt.Errorf("no record %s", *in.SequenceNumber)
		}
	default:
		return nil, fmt.Errorf("iterator type %s not faked", in.ShardIteratorType)
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(s.id + "/" + strconv.Itoa(pos))}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expireNext {
		f.expireNext = false
		return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
	}
	id, p, _ := strings.Cut(*in.ShardIterator, "/")
	pos, _ := strconv.Atoi(p)
	s := f.shard(id)
	end := min(pos+int(*in.Limit), len(s.seqs))
	out := &dynamodbstreams.GetRecordsOutput{}
	for _, seq := range s.seqs[pos:end] {
		out.Records = append(out.Records, types.Record{
			EventName: types.OperationTypeModify,
			Dynamodb: &types.StreamRecord{
				SequenceNumber: aws.String(seq),
				Keys:           map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#" + id}},
				NewImage: map[string]types.AttributeValue{
					"n": &types.AttributeValueMemberN{Value: "1"},
					"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: true}}}}},
				},
			},
		})
	}
	if end < len(s.seqs) || !s.closed {
		out.NextShardIterator = aws.String(id + "/" + strconv.Itoa(end))
	}
	return out, nil
}

// recorder is a handler that records what it handled and fails as told.
type recorder struct {
	handled []string // sequence numbers, in the order handled
	batches int
	// fail decides the fate of a batch: "" handles it all, "error" fails it
	// whole, another sequence number is reported as the first failed record
	// (the records before it are handled).
	fail func(batch int, seqs []string) string
}

func (r *recorder) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	r.batches++
	seqs := make([]string, len(ev.Records))
	for i, rec := range ev.Records {
		seqs[i] = rec.Change.SequenceNumber
		if rec.Change.NewImage["m"].Map()["l"].List()[0].Boolean() != true {
			return events.DynamoDBEventResponse{}, errors.New("image not converted")
		}
	}
	verdict := ""
	if r.fail != nil {
		verdict = r.fail(r.batches, seqs)
	}
	switch verdict {
	case "":
		r.handled = append(r.handled, seqs...)
		return events.DynamoDBEventResponse{}, nil
	case "error":
		return events.DynamoDBEventResponse{}, errors.New("batch failed")
	default:
		r.handled = append(r.handled, seqs[:slices.Index(seqs, verdict)]...)
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: verdict}}}, nil
	}
}

func seqs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

// TestPoller checks that every record is handled once and in order per
// shard, parents before children, whatever fails: whole batches, partial
// batches, an expired iterator.
func TestPoller(t *testing.T) {
	tests := map[string]struct {
		fail   func(batch int, seqs []string) string
		expire bool
	}{
		"no failures":                   {},
		"every third batch fails whole": {fail: func(b int, _ []string) string { return map[bool]string{true: "error"}[b%3 == 0] }},
		"partial failures": {fail: func(b int, s []string) string {
			if b%2 == 0 && len(s) > 2 {
				return s[2]
			}
			return ""
		}},
		"first record fails": {fail: func(b int, s []string) string { return map[bool]string{true: s[0]}[b%4 == 1] }},
		"expired iterator":   {expire: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Listed children first: the poller must still read parents first.
			f := &fakeStream{expireNext: tc.expire, shards: []fakeShard{
				{id: "child-a", parent: "root", seqs: seqs("3", 7)},
				{id: "grandchild", parent: "child-a", seqs: seqs("5", 4)},
				{id: "root", seqs: seqs("1", 23), closed: true},
				{id: "orphan", parent: "trimmed", seqs: seqs("2", 5), closed: true},
			}}
			f.shards[0].closed = true
			rec := &recorder{fail: tc.fail}
			p := streampoll.New(f, "arn:stream", rec.handle, streampoll.Options{BatchSize: 5, RetryDelay: 1})
			if err := p.Drain(t.Context()); err != nil {
				t.Fatalf("Drain: %v", err)
			}
			var want []string
			for _, s := range f.shards {
				want = append(want, s.seqs...)
			}
			got := slices.Clone(rec.handled)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("handled %v, want each of %v once", rec.handled, want)
			}
			// Per shard lineage in order: root (1..), then child-a (3..),
			// then grandchild (5..).
			pos := func(seq string) int { return slices.Index(rec.handled, seq) }
			if !(pos("1022") < pos("3000") && pos("3006") < pos("5000")) {
				t.Errorf("children handled before their parents' ends: %v", rec.handled)
			}
			for i := 1; i < len(rec.handled); i++ {
				a, b := rec.handled[i-1], rec.handled[i]
				if a[0] == b[0] && a > b {
					t.Errorf("out of order within a shard: %s before %s", a, b)
				}
			}
		})
	}
}

// TestPollerNewRecords checks that records added to an open shard after a
// Drain are handled by the next one.
func TestPollerNewRecords(t *testing.T) {
	f := &fakeStream{shards: []fakeShard{{id: "open", seqs: seqs("1", 3)}}}
	rec := &recorder{}
	p := streampoll.New(f, "arn:stream", rec.handle, streampoll.Options{})
	if err := p.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.shards[0].seqs = append(f.shards[0].seqs, "1003", "1004")
	f.mu.Unlock()
	if err := p.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1000", "1001", "1002", "1003", "1004"}; !slices.Equal(rec.handled, want) {
		t.Errorf("handled %v, want %v", rec.handled, want)
	}
}
