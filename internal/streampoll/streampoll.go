// Package streampoll feeds a DynamoDB stream to a handler the way Lambda's
// event source mapping does: it polls every shard, parents before children,
// hands each shard's records over in batches (as history.Record), delivers
// a failed batch again from its first failed record, and moves on only
// after success. Local runs use it where AWS runs the event source
// mapping: the standalone server on DynamoDB Local (handler in process)
// and the local API (handler = the aggregate function's bootstrap under
// the Lambda emulator).
package streampoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/history"
)

// Client is the part of *dynamodbstreams.Client that a Poller uses.
type Client interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ Client = (*dynamodbstreams.Client)(nil)

// Handler processes one batch of one shard's records, in stream order. It
// names the first record it could not process in the BatchResult (the rest
// of the batch is delivered again from there); an error fails the whole
// batch.
type Handler func(context.Context, []history.Record) (history.BatchResult, error)

// Options configure a Poller.
type Options struct {
	// BatchSize is the largest number of records in one batch (default
	// 100, at most 1,000: GetRecords' limit).
	BatchSize int
	// Interval is the pause after a round that found fewer records than
	// BatchSize (default 250 ms, Lambda's polling rate of 4 per second):
	// under a steady load, batches fill up instead of the poller spinning
	// on small ones. A round that found a full batch is followed at once.
	Interval time.Duration
	// RetryDelay is the pause before a failed batch is delivered again
	// (default 1 s).
	RetryDelay time.Duration
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
}

// Poller reads one stream. Run it, or drive it with Poll and Drain; it is
// not safe for concurrent use.
type Poller struct {
	client  Client
	arn     *string
	handler Handler
	opts    Options
	shards  map[string]*shard
	order   []string // shard IDs in the order DescribeStream lists them
}

// shard is the reading position in one shard.
type shard struct {
	id, parent string
	iterator   *string // nil: not started, or to be got again from last
	last       string  // sequence number of the last record handled
	done       bool    // closed and read to its end
}

// New returns a Poller of the stream streamARN feeding handler. It starts
// each shard at its oldest record (TRIM_HORIZON): a handler that applies
// each record once, as the stats aggregator does, can be fed from the
// start again after any restart.
func New(client Client, streamARN string, handler Handler, opts Options) *Poller {
	if opts.BatchSize <= 0 || opts.BatchSize > 1000 {
		opts.BatchSize = 100
	}
	if opts.Interval <= 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Poller{client: client, arn: aws.String(streamARN), handler: handler, opts: opts, shards: map[string]*shard{}}
}

// Run polls until ctx ends; it returns ctx's error. Failures (of the
// stream API or of the handler) are logged and retried after RetryDelay.
func (p *Poller) Run(ctx context.Context) error {
	for {
		n, err := p.Poll(ctx)
		wait := p.opts.Interval
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.opts.Logger.WarnContext(ctx, "stream poll failed", "stream", *p.arn, "err", err)
			wait = p.opts.RetryDelay
		} else if n >= p.opts.BatchSize {
			continue // a full batch: more are likely waiting
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait): // the stream API has no change notification
		}
	}
}

// Drain polls until a round finds no new record in any shard: every change
// made to the table before Drain was called has then been handled. A batch
// that fails is retried after RetryDelay until it succeeds or ctx ends.
func (p *Poller) Drain(ctx context.Context) error {
	for {
		n, finished, err := p.poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			p.opts.Logger.WarnContext(ctx, "stream poll failed", "stream", *p.arn, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(p.opts.RetryDelay):
			}
			continue
		}
		if n == 0 && finished == 0 { // a shard that finished may free its children
			return nil
		}
	}
}

// Poll lists the shards, then reads one batch from each shard that is
// ready (its parent read to the end) and hands it to the handler. It
// returns the number of records handled. On a failure it stops and
// returns the error; the next Poll starts that shard again at its first
// record not handled.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	n, _, err := p.poll(ctx)
	return n, err
}

// poll is Poll that also returns the number of shards it read to the end.
func (p *Poller) poll(ctx context.Context) (records, finished int, err error) {
	if err := p.listShards(ctx); err != nil {
		return 0, 0, err
	}
	for _, id := range p.order {
		s := p.shards[id]
		if s.done || !p.ready(s) {
			continue
		}
		n, err := p.pollShard(ctx, s)
		records += n
		if s.done {
			finished++
		}
		if err != nil {
			return records, finished, fmt.Errorf("shard %s: %w", s.id, err)
		}
	}
	return records, finished, nil
}

// ready reports whether s may be read: its parent is done, or gone from
// the stream (trimmed), or unknown.
func (p *Poller) ready(s *shard) bool {
	parent, ok := p.shards[s.parent]
	return s.parent == "" || !ok || parent.done
}

func (p *Poller) listShards(ctx context.Context) error {
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: p.arn}
	for {
		out, err := p.client.DescribeStream(ctx, in)
		if err != nil {
			return fmt.Errorf("describe stream: %w", err)
		}
		desc := out.StreamDescription
		if desc == nil {
			return errors.New("describe stream: no description")
		}
		for _, sh := range desc.Shards {
			id := aws.ToString(sh.ShardId)
			if _, ok := p.shards[id]; !ok && id != "" {
				p.shards[id] = &shard{id: id, parent: aws.ToString(sh.ParentShardId)}
				p.order = append(p.order, id)
			}
		}
		if desc.LastEvaluatedShardId == nil {
			return nil
		}
		in.ExclusiveStartShardId = desc.LastEvaluatedShardId
	}
}

// pollShard reads and handles one batch of s.
func (p *Poller) pollShard(ctx context.Context, s *shard) (int, error) {
	if s.iterator == nil {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: p.arn, ShardId: aws.String(s.id), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
		if s.last != "" {
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
		}
		out, err := p.client.GetShardIterator(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("get shard iterator: %w", err)
		}
		s.iterator = out.ShardIterator
	}
	out, err := p.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iterator, Limit: aws.Int32(int32(p.opts.BatchSize))})
	if err != nil {
		var expired *types.ExpiredIteratorException
		if errors.As(err, &expired) {
			s.iterator = nil // got again from s.last next time
		}
		return 0, fmt.Errorf("get records: %w", err)
	}
	if len(out.Records) == 0 {
		s.iterator = out.NextShardIterator
		s.done = out.NextShardIterator == nil
		return 0, nil
	}
	records := make([]history.Record, len(out.Records))
	for i, r := range out.Records {
		records[i] = record(r)
	}
	result, err := p.handler(ctx, records)
	if failed := result.FirstFailed; err == nil && failed != "" {
		for i, r := range records {
			if r.SequenceNumber != failed {
				continue
			}
			if i > 0 {
				s.last = records[i-1].SequenceNumber
			}
			s.iterator = nil // deliver again from the failed record
			return i, fmt.Errorf("batch failed at record %s", failed)
		}
		err = fmt.Errorf("the handler reported record %q, which is not in the batch", failed)
	}
	if err != nil {
		s.iterator = nil // deliver the whole batch again
		return 0, fmt.Errorf("handler: %w", err)
	}
	s.last = records[len(records)-1].SequenceNumber
	s.iterator = out.NextShardIterator
	s.done = out.NextShardIterator == nil
	return len(records), nil
}

// record returns what the handler needs of r.
func record(r types.Record) history.Record {
	out := history.Record{EventName: string(r.EventName)}
	if d := r.Dynamodb; d != nil {
		out.SequenceNumber = aws.ToString(d.SequenceNumber)
		out.Keys, out.OldImage, out.NewImage = attributes(d.Keys), attributes(d.OldImage), attributes(d.NewImage)
	}
	return out
}

// attributes converts an item of the DynamoDB Streams API to the DynamoDB
// API's types, which are other Go types for the same values.
func attributes(m map[string]types.AttributeValue) map[string]dynamodbtypes.AttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]dynamodbtypes.AttributeValue, len(m))
	for k, v := range m {
		out[k] = attribute(v)
	}
	return out
}

func attribute(v types.AttributeValue) dynamodbtypes.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &dynamodbtypes.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &dynamodbtypes.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &dynamodbtypes.AttributeValueMemberB{Value: v.Value}
	case *types.AttributeValueMemberBOOL:
		return &dynamodbtypes.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &dynamodbtypes.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberSS:
		return &dynamodbtypes.AttributeValueMemberSS{Value: v.Value}
	case *types.AttributeValueMemberNS:
		return &dynamodbtypes.AttributeValueMemberNS{Value: v.Value}
	case *types.AttributeValueMemberBS:
		return &dynamodbtypes.AttributeValueMemberBS{Value: v.Value}
	case *types.AttributeValueMemberM:
		return &dynamodbtypes.AttributeValueMemberM{Value: attributes(v.Value)}
	case *types.AttributeValueMemberL:
		list := make([]dynamodbtypes.AttributeValue, len(v.Value))
		for i, item := range v.Value {
			list[i] = attribute(item)
		}
		return &dynamodbtypes.AttributeValueMemberL{Value: list}
	case *types.UnknownUnionMember:
		// A type newer than this code: kept, for the handler to refuse.
		return &dynamodbtypes.UnknownUnionMember{Tag: v.Tag, Value: v.Value}
	default: // nil
		return nil
	}
}

// NewClient builds a DynamoDB Streams client from the DynamoDB client's
// configuration, as dynamostore.NewClient builds a DynamoDB one: a local
// endpoint (DynamoDB Local serves both APIs on one port) gets a region and
// dummy credentials if cfg has none.
func NewClient(cfg dynamostore.ClientConfig, optFns ...func(*dynamodbstreams.Options)) *dynamodbstreams.Client {
	opts := dynamodbstreams.Options{Region: cfg.Region, Credentials: cfg.Credentials}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.Local() {
		if opts.Region == "" {
			opts.Region = dynamostore.LocalRegion
		}
		if opts.Credentials == nil {
			opts.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
	}
	return dynamodbstreams.New(opts, optFns...)
}
