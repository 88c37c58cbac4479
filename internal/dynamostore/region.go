package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Region-owned items (WithRegions): on a global table, replication settles
// two writes to one item that cross between regions by last writer wins,
// which loses an increment whenever two regions add to one item within the
// replication delay. So with regions listed, each region adds only to an
// item it owns, and a counter's count is its own item's count (what a
// create left) plus the count of each region's item of the same
// incarnation (created_at):
//
//	c#<name>           the counter's own item, as without regions
//	c#<name>#@<region> the increments served in <region>: count,
//	                   created_at (the incarnation it counts for),
//	                   updated_at; no name, so the listing index holds
//	                   counters only
//
// No item is ever written by two regions' increments, so replication,
// which copies whole items, loses none. A read gets the counter's own item
// and every region's (BatchGetItem, one round trip, strongly consistent in
// the local replica) and sums those of the own item's incarnation: a
// region item left by an incarnation that was deleted counts for nothing.
// docs/dynamodb.md ("Across regions") has the rules.
const regionInfix = "#@"

// validRegion matches an AWS region name (us-east-1, eu-central-2, ...).
var validRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// ValidRegion reports whether r can name a region in WithRegions.
func ValidRegion(r string) bool { return validRegion.MatchString(r) }

// WithRegions makes the store write only the items of the region serving
// (one of all, every replica region of the table): see region-owned items
// above. Without it, or with fewer than two regions, the store keeps
// every counter in its own item (and shards), as on one region.
func WithRegions(serving string, all []string) Option {
	return func(s *Store) {
		if len(all) < 2 {
			return
		}
		s.region, s.regions = serving, append([]string(nil), all...)
	}
}

// regionKey is the key of region r's item of the counter name.
func regionKey(name, r string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: counterPrefix + name + regionInfix + r}}
}

// incarnations remembers, per counter, the incarnation (created_at) this
// process last saw its region item hold, so that an increment is one
// UpdateItem conditioned on it.
type incarnations struct {
	mu sync.Mutex
	m  map[string]int64
}

func (in *incarnations) get(name string) (int64, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c, ok := in.m[name]
	return c, ok
}

func (in *incarnations) set(name string, created int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.m == nil {
		in.m = map[string]int64{}
	}
	if len(in.m) >= maxHotCounters {
		for other := range in.m {
			delete(in.m, other)
			break
		}
	}
	in.m[name] = created
}

func (in *incarnations) forget(name string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.m, name)
}

// Expressions of region-owned increments.
var (
	condRegionAdd      = aws.String("#cr = :cr")
	condRegionAddFirst = aws.String("attribute_not_exists(#pk) OR #cr = :cr")
	condRegionReplace  = aws.String("#cr = :old")
	updateRegionAdd    = aws.String("SET #u = :now, #cr = :cr ADD #c :by")
	regionNames        = map[string]string{"#pk": attrPK, "#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt}
	regionAddNames     = map[string]string{"#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt}
)

// regionAttempts bounds the rounds of a region increment that finds the
// counter replaced (deleted and created again) under it.
const regionAttempts = 4

// regionIncrement adds by to the serving region's item of the counter
// name. A process that knows the counter's incarnation sends one UpdateItem
// conditioned on it: one write unit. Otherwise (first increment, or the
// condition failed) it reads the counter's own item for its incarnation
// (NotFound if there is none), then adds to the region item on the
// condition that it is missing or of that incarnation, replacing an item
// left by an older incarnation. The answer is a read of every region's
// item after the write: it includes the increment. A decrement is checked
// against that total first (another region's decrement in flight may still
// take the sum below 0; reads answer at least 0).
func (s *Store) regionIncrement(ctx context.Context, name string, by int64) (counter.Result, error) {
	if by < 0 {
		c, err := s.regionRead(ctx, name)
		if err != nil {
			return counter.Result{}, wrap("increment", name, err)
		}
		if c.Count+by < 0 {
			return counter.Result{}, wrap("increment", name, counter.OutOfRangeError(name, c.Count, by))
		}
	}
	for attempt := 1; ; attempt++ {
		created, known := s.incs.get(name)
		if !known {
			item, err := s.read(ctx, name)
			if err != nil {
				return counter.Result{}, wrap("increment", name, err)
			}
			if len(item) == 0 {
				return counter.Result{}, wrap("increment", name, counter.NotFoundError(name))
			}
			it, err := decodeItem(item)
			if err != nil {
				return counter.Result{}, wrap("increment", name, err)
			}
			created = it.created
		}
		if err := s.regionAdd(ctx, name, by, created, !known); err != nil {
			if errors.Is(err, errStaleIncarnation) && attempt < regionAttempts {
				s.incs.forget(name)
				continue
			}
			return counter.Result{}, wrap("increment", name, err)
		}
		s.incs.set(name, created)
		c, cr, err := s.regionReadIncarnation(ctx, name)
		if err != nil {
			return counter.Result{}, wrap("increment", name, err)
		}
		if cr != created {
			// The counter was replaced between the write and the read:
			// the write counts for the old incarnation, which is gone.
			s.incs.forget(name)
			if attempt < regionAttempts {
				continue
			}
			return counter.Result{}, wrap("increment", name, counter.NotFoundError(name))
		}
		return counter.Result{Counter: c}, nil
	}
}

// errStaleIncarnation is a region item that belongs to another incarnation
// than the one the increment was for.
var errStaleIncarnation = errors.New("the region item belongs to another incarnation")

// regionAdd adds by to the serving region's item of incarnation created.
// With first, a missing item is created and one of an older incarnation
// replaced.
func (s *Store) regionAdd(ctx context.Context, name string, by, created int64, first bool) error {
	now := s.timestamp()
	values := map[string]types.AttributeValue{":by": number(by), ":now": number(now), ":cr": number(created)}
	cond, names := condRegionAdd, regionAddNames
	if first {
		cond, names = condRegionAddFirst, regionNames
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 regionKey(name, s.region),
		UpdateExpression:                    updateRegionAdd,
		ConditionExpression:                 cond,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, NoAmbiguousRetry)
	if err == nil {
		return nil
	}
	ccf := conditionFailed(err)
	if ccf == nil {
		return translate(err)
	}
	if !first || len(ccf.Item) == 0 {
		return errStaleIncarnation
	}
	old, err := decodeInt(ccf.Item, attrCreatedAt)
	if err != nil {
		return err
	}
	if old > created {
		return errStaleIncarnation // the item is newer than the counter read: read again
	}
	// An item of an older incarnation: replace it, unless another write
	// replaced it first.
	item := regionKey(name, s.region)
	item[attrCount], item[attrCreatedAt], item[attrUpdatedAt] = number(by), number(created), number(now)
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 s.table,
		Item:                      item,
		ConditionExpression:       condRegionReplace,
		ExpressionAttributeNames:  map[string]string{"#cr": attrCreatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":old": number(old)},
	}, NoAmbiguousRetry)
	if conditionFailed(err) != nil {
		return errStaleIncarnation
	}
	if err != nil {
		return translate(err)
	}
	return nil
}

// regionRead returns the counter name summed over its own item and every
// region's item of its incarnation.
func (s *Store) regionRead(ctx context.Context, name string) (counter.Counter, error) {
	c, _, err := s.regionReadIncarnation(ctx, name)
	return c, err
}

// regionReadIncarnation is regionRead that also returns the incarnation
// (the own item's created_at, Unix ms).
func (s *Store) regionReadIncarnation(ctx context.Context, name string) (counter.Counter, int64, error) {
	keys := []map[string]types.AttributeValue{key(name)}
	for _, r := range s.regions {
		keys = append(keys, regionKey(name, r))
	}
	items, err := s.batchGetKeys(ctx, keys)
	if err != nil {
		return counter.Counter{}, 0, err
	}
	own := counterPrefix + name
	rootItem, ok := items[own]
	if !ok {
		return counter.Counter{}, 0, counter.NotFoundError(name)
	}
	root, err := decodeItem(rootItem)
	if err != nil {
		return counter.Counter{}, 0, err
	}
	total, updated := root.count, root.updated
	for pk, item := range items {
		if pk == own {
			continue
		}
		it, err := decodeItem(item)
		if err != nil {
			return counter.Counter{}, 0, fmt.Errorf("item %q: %w", pk, err)
		}
		if it.created != root.created {
			continue // left by an incarnation that is gone
		}
		total += it.count
		updated = max(updated, it.updated)
	}
	c := counterOf(root, min(max(total, 0), counter.MaxCount), updated)
	return c, root.created, nil
}

// batchGetKeys reads keys (at most 100) with strongly consistent reads, by
// partition key; it asks again for what DynamoDB leaves unprocessed.
func (s *Store) batchGetKeys(ctx context.Context, keys []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	out := map[string]map[string]types.AttributeValue{}
	req := map[string]types.KeysAndAttributes{*s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 1; len(req) > 0; attempt++ {
		res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, translate(err)
		}
		for _, item := range res.Responses[*s.table] {
			if pk, ok := item[attrPK].(*types.AttributeValueMemberS); ok {
				out[pk.Value] = item
			}
		}
		req = res.UnprocessedKeys
		if len(req) > 0 {
			if attempt == maxSnapshotAttempts {
				return nil, counter.UnavailableError(errors.New("DynamoDB left keys of a batch read unprocessed"))
			}
			if err := backoff(ctx, attempt); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
