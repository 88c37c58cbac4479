package streampoll_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/streampoll"
)

// fakeStream is a stream of shards held in memory, served through the
// streams API the Poller uses. Iterators are "<shard>/<position>".
type fakeStream struct {
	mu     sync.Mutex
	shards []fakeShard
	// expireNext makes the next GetRecords fail with an expired iterator.
	expireNext bool
	// image is the old and new image of every record (default: a number).
	image map[string]types.AttributeValue
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
	image := f.image
	if image == nil {
		image = map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "1"}}
	}
	for _, seq := range s.seqs[pos:end] {
		out.Records = append(out.Records, types.Record{
			EventName: types.OperationTypeModify,
			Dynamodb: &types.StreamRecord{
				SequenceNumber: aws.String(seq),
				Keys:           map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#" + id}},
				OldImage:       image,
				NewImage:       image,
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

func (r *recorder) handle(_ context.Context, records []history.Record) (history.BatchResult, error) {
	r.batches++
	seqs := make([]string, len(records))
	for i, rec := range records {
		seqs[i] = rec.SequenceNumber
		if _, ok := rec.NewImage["n"].(*dynamodbtypes.AttributeValueMemberN); !ok {
			return history.BatchResult{}, errors.New("image not converted")
		}
	}
	verdict := ""
	if r.fail != nil {
		verdict = r.fail(r.batches, seqs)
	}
	switch verdict {
	case "":
		r.handled = append(r.handled, seqs...)
		return history.BatchResult{}, nil
	case "error":
		return history.BatchResult{}, errors.New("batch failed")
	default:
		r.handled = append(r.handled, seqs[:slices.Index(seqs, verdict)]...)
		return history.BatchResult{FirstFailed: verdict}, nil
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

// TestPollerConvertsRecords checks that the handler gets each record's
// event name, sequence number, keys and images, every attribute of the
// DynamoDB Streams API turned into the same value of the DynamoDB API
// (other Go types), nested ones too.
func TestPollerConvertsRecords(t *testing.T) {
	type sv = types.AttributeValue
	type dv = dynamodbtypes.AttributeValue
	tests := map[string]struct {
		in   sv
		want dv
	}{
		"S":            {&types.AttributeValueMemberS{Value: "home"}, &dynamodbtypes.AttributeValueMemberS{Value: "home"}},
		"N":            {&types.AttributeValueMemberN{Value: "-12.5"}, &dynamodbtypes.AttributeValueMemberN{Value: "-12.5"}},
		"B":            {&types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}}, &dynamodbtypes.AttributeValueMemberB{Value: []byte{0, 1, 0xff}}},
		"BOOL true":    {&types.AttributeValueMemberBOOL{Value: true}, &dynamodbtypes.AttributeValueMemberBOOL{Value: true}},
		"BOOL false":   {&types.AttributeValueMemberBOOL{Value: false}, &dynamodbtypes.AttributeValueMemberBOOL{Value: false}},
		"NULL":         {&types.AttributeValueMemberNULL{Value: true}, &dynamodbtypes.AttributeValueMemberNULL{Value: true}},
		"SS":           {&types.AttributeValueMemberSS{Value: []string{"a", "b"}}, &dynamodbtypes.AttributeValueMemberSS{Value: []string{"a", "b"}}},
		"NS":           {&types.AttributeValueMemberNS{Value: []string{"1", "2.5"}}, &dynamodbtypes.AttributeValueMemberNS{Value: []string{"1", "2.5"}}},
		"BS":           {&types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}, &dynamodbtypes.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}},
		"empty L":      {&types.AttributeValueMemberL{Value: []sv{}}, &dynamodbtypes.AttributeValueMemberL{Value: []dv{}}},
		"empty M":      {&types.AttributeValueMemberM{Value: map[string]sv{}}, &dynamodbtypes.AttributeValueMemberM{Value: map[string]dv{}}},
		"unknown type": {&types.UnknownUnionMember{Tag: "X", Value: []byte("?")}, &dynamodbtypes.UnknownUnionMember{Tag: "X", Value: []byte("?")}},
	}
	// Every value also inside a list and a map, and those inside each other.
	image := map[string]sv{}
	var list []sv
	var listWant []dv
	inner, innerWant := map[string]sv{}, map[string]dv{}
	for name, tc := range tests {
		image[name] = tc.in
		list, listWant = append(list, tc.in), append(listWant, tc.want)
		inner[name], innerWant[name] = tc.in, tc.want
	}
	tests["L"] = struct {
		in   sv
		want dv
	}{
		&types.AttributeValueMemberL{Value: append(slices.Clone(list), &types.AttributeValueMemberM{Value: inner})},
		&dynamodbtypes.AttributeValueMemberL{Value: append(slices.Clone(listWant), &dynamodbtypes.AttributeValueMemberM{Value: innerWant})},
	}
	tests["M"] = struct {
		in   sv
		want dv
	}{
		&types.AttributeValueMemberM{Value: map[string]sv{"map": &types.AttributeValueMemberM{Value: inner}, "list": &types.AttributeValueMemberL{Value: list}}},
		&dynamodbtypes.AttributeValueMemberM{Value: map[string]dv{"map": &dynamodbtypes.AttributeValueMemberM{Value: innerWant}, "list": &dynamodbtypes.AttributeValueMemberL{Value: listWant}}},
	}
	image["L"], image["M"] = tests["L"].in, tests["M"].in

	f := &fakeStream{image: image, shards: []fakeShard{{id: "s", seqs: []string{"100000000000000000001"}, closed: true}}}
	var got []history.Record
	p := streampoll.New(f, "arn:stream", func(_ context.Context, records []history.Record) (history.BatchResult, error) {
		got = append(got, records...)
		return history.BatchResult{}, nil
	}, streampoll.Options{})
	if err := p.Drain(t.Context()); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("handled %d records, want 1", len(got))
	}
	r := got[0]
	if r.EventName != "MODIFY" || r.SequenceNumber != "100000000000000000001" {
		t.Errorf("event %q, sequence number %q; want MODIFY, 100000000000000000001", r.EventName, r.SequenceNumber)
	}
	if want := map[string]dv{"pk": &dynamodbtypes.AttributeValueMemberS{Value: "c#s"}}; !reflect.DeepEqual(r.Keys, want) {
		t.Errorf("keys %#v, want %#v", r.Keys, want)
	}
	if len(r.NewImage) != len(tests) || len(r.OldImage) != len(tests) {
		t.Errorf("images of %d and %d attributes, want %d", len(r.OldImage), len(r.NewImage), len(tests))
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for which, img := range map[string]map[string]dv{"old": r.OldImage, "new": r.NewImage} {
				if got := img[name]; !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s image: got %#v, want %#v", which, got, tc.want)
				}
			}
		})
	}
}
