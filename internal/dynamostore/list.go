package dynamostore

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// IndexName is the counter table's listing index: a global secondary index
// whose partition key is name, an attribute only a counter's own item
// carries (not its shards, not idempotency records, not health#ping), so
// that it holds one entry per counter and nothing else. Its projection is
// the keys only: an increment changes no attribute it holds, so it costs
// nothing per increment. Counters written before the index existed carry
// name too: DynamoDB fills the index with them when it is added.
const IndexName = "counters"

// listReads bounds the reads of one page's counters in flight.
const listReads = 8

// List implements counter.Store: it scans the listing index (IndexName)
// for the page's counters, in the index's hash order (stable from walk to
// walk, not by name: docs/dynamodb.md says what name order would cost),
// then reads their counts: one strongly consistent BatchGetItem of their
// own items per 100, and one snapshot (TransactGetItems) per sharded
// counter. A page holds Limit counters whenever that many remain, each once
// with its total; its cost follows the page, not the table
// (docs/dynamodb.md). With a prefix the scan filters the index with
// begins_with: DynamoDB reads (and bills) every index entry it passes, so a
// search costs the whole index (about 50 bytes a counter: 0.5 read units
// per 80 counters), whatever it finds. The index is read eventually
// consistently (DynamoDB offers nothing else for a global index): a counter
// created or deleted within about a second may be missing from a page or
// still on it; one still on the index but deleted is left out, and the
// scan goes on to fill the page.
func (s *Store) List(ctx context.Context, opts counter.ListOptions) (counter.Page, error) {
	start, err := decodeCursor(opts.Cursor)
	if err != nil {
		return counter.Page{}, wrap("list", "", err)
	}
	if err := counter.ValidatePrefix(opts.Prefix); err != nil {
		return counter.Page{}, wrap("list", "", err)
	}
	limit := opts.Limit
	if limit <= 0 || limit > counter.MaxListLimit {
		limit = counter.DefaultListLimit
	}
	page := counter.Page{Counters: make([]counter.Counter, 0, min(limit, 128))}
	for {
		in := &dynamodb.ScanInput{
			TableName:         s.table,
			IndexName:         aws.String(IndexName),
			Limit:             aws.Int32(int32(limit - len(page.Counters))),
			ExclusiveStartKey: start,
		}
		if opts.Prefix != "" {
			// Limit counts the entries read, not the ones kept: read the
			// most a call may, and resume after the last one kept.
			in.Limit = aws.Int32(prefixScanLimit)
			in.FilterExpression = aws.String("begins_with(#n, :p)")
			in.ExpressionAttributeNames = map[string]string{"#n": attrName}
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: opts.Prefix}}
		}
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			return counter.Page{}, wrap("list", "", translate(err))
		}
		names := make([]string, 0, len(out.Items))
		for _, item := range out.Items {
			if name, ok := item[attrName].(*types.AttributeValueMemberS); ok && counter.ValidName(name.Value) {
				names = append(names, name.Value)
			}
		}
		next := out.LastEvaluatedKey
		if room := limit - len(page.Counters); len(names) > room {
			// More matched than the page holds: the walk goes on after the
			// last one it keeps.
			names = names[:room]
			next = indexKey(names[room-1])
		}
		counters, err := s.readCounters(ctx, names)
		if err != nil {
			return counter.Page{}, wrap("list", "", err)
		}
		page.Counters = append(page.Counters, counters...)
		if len(next) == 0 {
			return page, nil
		}
		if len(page.Counters) == limit {
			if page.NextCursor, err = encodeCursor(next); err != nil {
				return counter.Page{}, wrap("list", "", err)
			}
			return page, nil
		}
		start = next
	}
}

// prefixScanLimit is the most index entries one Scan call of a search
// reads (about 50 KB).
const prefixScanLimit = 1000

// indexKey is the listing index's key of the counter name: a scan's
// ExclusiveStartKey that resumes after it.
func indexKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK:   &types.AttributeValueMemberS{Value: counterPrefix + name},
		attrName: &types.AttributeValueMemberS{Value: name},
	}
}

// readCounters returns the counters names (in that order) that exist, with
// their totals: a strongly consistent BatchGetItem of their own items per
// 100 names, then a snapshot of each sharded one.
func (s *Store) readCounters(ctx context.Context, names []string) ([]counter.Counter, error) {
	items := make(map[string]map[string]types.AttributeValue, len(names))
	for i := 0; i < len(names); i += 100 {
		keys := make([]map[string]types.AttributeValue, 0, 100)
		for _, name := range names[i:min(i+100, len(names))] {
			keys = append(keys, key(name))
		}
		if err := s.batchGet(ctx, keys, items); err != nil {
			return nil, err
		}
	}
	if s.region != "" {
		return s.regionCounters(ctx, names, items)
	}
	counters := make([]counter.Counter, len(names))
	found := make([]bool, len(names))
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, listReads)
	for i, name := range names {
		item := items[name]
		if len(item) == 0 {
			continue // deleted since the index was read
		}
		it, err := decodeItem(item)
		if err != nil {
			return nil, err
		}
		if it.shards == 1 {
			if counters[i], err = decode(item); err != nil {
				return nil, err
			}
			found[i] = true
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			snap, err := s.snapshot(ctx, name, it.shards)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				counters[i], found[i] = snap.counter(), true
			case counter.ErrorCode(err) == counter.NotFound:
			case firstErr == nil:
				firstErr = err
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	out := counters[:0]
	for i, c := range counters {
		if found[i] {
			out = append(out, c)
		}
	}
	return out, nil
}

// batchGet reads the items at keys (at most 100) with strongly consistent
// BatchGetItems, again for those DynamoDB leaves unprocessed (throttled),
// into items by counter name.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, items map[string]map[string]types.AttributeValue) error {
	for attempt := 1; len(keys) > 0; attempt++ {
		out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{*s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}},
		})
		if err != nil {
			return translate(err)
		}
		for _, item := range out.Responses[*s.table] {
			if name, ok := item[attrName].(*types.AttributeValueMemberS); ok {
				items[name.Value] = item
			}
		}
		keys = out.UnprocessedKeys[*s.table].Keys
		if len(keys) > 0 {
			if attempt == maxSnapshotAttempts {
				return counter.UnavailableError(errUnprocessed)
			}
			if err := backoff(ctx, attempt+2); err != nil { // from 8 ms: DynamoDB asks for a backoff
				return err
			}
		}
	}
	return nil
}

// errUnprocessed is the cause of Unavailable when a page's counters could
// not all be read.
var errUnprocessed = errors.New("the counters' items stayed unprocessed (throttled)")
