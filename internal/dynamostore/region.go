package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"time"

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
// create or set left) plus the count of each region's item of the same
// epoch (attrEpoch):
//
//	c#<name>           the counter's own item, as without regions, with
//	                   an epoch once a set started one
//	c#<name>#@<region> the increments served in <region>: count,
//	                   created_at, epoch (what it counts for), updated_at;
//	                   no name, so the listing index holds counters only
//
// No item is ever written by two regions' increments, so replication,
// which copies whole items, loses none. A read gets the counter's own item
// and every region's (BatchGetItem, one round trip, strongly consistent in
// the local replica) and sums those of the own item's epoch: a region item
// left by an epoch that a set or delete ended counts for nothing.
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

// attrEpoch is a region item's epoch, and the counter's own item's once
// a set has started one: a string unique to the create or set that started
// it. The own item's epoch is its attrEpoch, else "c" and its created_at
// (the create's). A region item counts only for the epoch it holds.
const attrEpoch = "epoch"

// rootEpoch is the epoch of the counter's own item.
func rootEpoch(item map[string]types.AttributeValue) (string, error) {
	if e, ok := item[attrEpoch].(*types.AttributeValueMemberS); ok {
		return e.Value, nil
	}
	created, err := decodeInt(item, attrCreatedAt)
	if err != nil {
		return "", err
	}
	return "c" + strconv.FormatInt(created, 10), nil
}

// itemEpoch is a region item's epoch ("" if it has none).
func itemEpoch(item map[string]types.AttributeValue) string {
	if e, ok := item[attrEpoch].(*types.AttributeValueMemberS); ok {
		return e.Value
	}
	return ""
}

// epochs remembers, per counter, the epoch this process last saw its
// region item hold, so that an increment is one UpdateItem conditioned on
// it.
type epochs struct {
	mu sync.Mutex
	m  map[string]epoch
}

// epoch is a counter's epoch and the created_at of its incarnation.
type epoch struct {
	id      string
	created int64
}

func (in *epochs) get(name string) (epoch, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	e, ok := in.m[name]
	return e, ok
}

func (in *epochs) set(name string, e epoch) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.m == nil {
		in.m = map[string]epoch{}
	}
	if len(in.m) >= maxHotCounters {
		for other := range in.m {
			delete(in.m, other)
			break
		}
	}
	in.m[name] = e
}

func (in *epochs) forget(name string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.m, name)
}

// Expressions of region-owned increments and sets.
var (
	condRegionAdd      = aws.String("#e = :e")
	condRegionAddFirst = aws.String("attribute_not_exists(#pk) OR #e = :e")
	condRegionReplace  = aws.String("attribute_not_exists(#pk) OR #e <> :e")
	condRootEpoch      = aws.String("#e = :e OR (attribute_not_exists(#e) AND #cr = :cr AND :e = :ce)")
	// A region increment's update with its visitor or without (visited).
	updateRegionAdd          = aws.String("SET #u = :now, #cr = :cr, #e = :e, #v = :v ADD #c :by")
	updateRegionAddNoVisitor = aws.String("SET #u = :now, #cr = :cr, #e = :e ADD #c :by REMOVE #v")
	// A bot adds to the serving region's item, made with no count if
	// missing: the stream carries the change of bots to the aggregator.
	updateRegionBot = aws.String("SET #at = :now, #cr = :cr, #e = :e, #c = if_not_exists(#c, :zero), #u = if_not_exists(#u, :now) ADD #b :one")
	updateRegionSet = aws.String("SET #n = :name, #c = :count, #u = :now, #cr = if_not_exists(#cr, :now), #e = :e ADD #sets :one")
	regionNames     = map[string]string{"#pk": attrPK, "#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#e": attrEpoch}
	regionAddNames  = map[string]string{"#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#e": attrEpoch}
)

// regionAttempts bounds the rounds of a region increment that finds the
// counter's epoch changed under it (a set, or a delete and a create).
const regionAttempts = 4

// regionIncrement adds by to the serving region's item of the counter
// name. A process that knows the counter's epoch sends one UpdateItem
// conditioned on the item holding it: one write unit. Otherwise (first
// increment, or the condition failed) it reads the counter's own item for
// its epoch (NotFound if there is none), then adds to the region item on
// the condition that it is missing or of that epoch; an item of another
// epoch is replaced by a transaction that checks that the counter's own
// item still has the epoch read (so that a process with an older read
// never replaces the item of a newer epoch). The answer is a read of every
// region's item after the write: it includes the increment, and if the
// counter's epoch is no longer the one written to (a set or delete came
// between), the write counts for nothing and is made again. A decrement
// is checked against the total first (another region's decrement in flight
// may still take the sum below 0; reads answer at least 0).
func (s *Store) regionIncrement(ctx context.Context, name string, by int64, v counter.Visitor) (counter.Result, error) {
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
		e, known, err := s.regionEpoch(ctx, name)
		if err != nil {
			return counter.Result{}, wrap("increment", name, err)
		}
		if err := s.regionAdd(ctx, name, by, v, e, !known); err != nil {
			if errors.Is(err, errStaleEpoch) && attempt < regionAttempts {
				s.epochs.forget(name)
				continue
			}
			return counter.Result{}, wrap("increment", name, err)
		}
		s.epochs.set(name, e)
		c, now, err := s.regionReadEpoch(ctx, name)
		if err != nil {
			if counter.ErrorCode(err) == counter.NotFound {
				s.epochs.forget(name)
			}
			return counter.Result{}, wrap("increment", name, err)
		}
		if now != e.id {
			// A set or delete came between: the write counts for an epoch
			// that is gone; it is made again on the new one, and taken
			// back from hits over time.
			s.epochs.forget(name)
			s.regionUndo(ctx, name, by, e)
			if attempt < regionAttempts {
				continue
			}
			return counter.Result{}, wrap("increment", name, counter.UnavailableError(errStaleEpoch))
		}
		return counter.Result{Counter: c}, nil
	}
}

// regionEpoch returns the epoch of the counter name: the one this process
// knows (known), else read from the counter's own item (NotFound if there
// is none).
func (s *Store) regionEpoch(ctx context.Context, name string) (e epoch, known bool, err error) {
	if e, ok := s.epochs.get(name); ok {
		return e, true, nil
	}
	item, err := s.read(ctx, name)
	if err != nil {
		return epoch{}, false, err
	}
	if len(item) == 0 {
		return epoch{}, false, counter.NotFoundError(name)
	}
	if e.created, err = decodeInt(item, attrCreatedAt); err != nil {
		return epoch{}, false, err
	}
	if e.id, err = rootEpoch(item); err != nil {
		return epoch{}, false, err
	}
	return e, false, nil
}

// regionBot counts a crawler's request in the serving region's item of the
// counter name (ADD bots, one UpdateItem; the item is made, with no count,
// if missing), never in an item that another region writes, so that no
// bot is lost to last writer wins; the aggregator reads the change from
// every region's stream. An item of an older epoch is made this epoch's
// first (regionAdd, adding 0). The answer is a read of every region's
// item.
func (s *Store) regionBot(ctx context.Context, name string) (counter.Result, error) {
	for attempt := 1; ; attempt++ {
		e, _, err := s.regionEpoch(ctx, name)
		if err != nil {
			return counter.Result{}, wrap("bot", name, err)
		}
		_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                s.table,
			Key:                      regionKey(name, s.region),
			UpdateExpression:         updateRegionBot,
			ConditionExpression:      condRegionAddFirst,
			ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#at": attrBotAt, "#cr": attrCreatedAt, "#e": attrEpoch, "#c": attrCount, "#u": attrUpdatedAt, "#b": attrBots},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now": number(s.timestamp()), ":cr": number(e.created), ":e": &types.AttributeValueMemberS{Value: e.id}, ":zero": number(0), ":one": number(1),
			},
		}, NoAmbiguousRetry) // a bot counted twice would not matter; a bot retried forever would
		if err != nil && conditionFailed(err) == nil {
			return counter.Result{}, wrap("bot", name, translate(err))
		}
		if err != nil {
			// The item holds another epoch: make it this one's (if the
			// counter still has it), then again.
			s.epochs.forget(name)
			if attempt == regionAttempts {
				return counter.Result{}, wrap("bot", name, counter.UnavailableError(errStaleEpoch))
			}
			if err := s.regionAdd(ctx, name, 0, 0, e, true); err != nil && !errors.Is(err, errStaleEpoch) {
				return counter.Result{}, wrap("bot", name, err)
			}
			continue
		}
		c, err := s.regionRead(ctx, name)
		if err != nil {
			return counter.Result{}, wrap("bot", name, err)
		}
		return counter.Result{Counter: c}, nil
	}
}

// attrUndone, on a region item, sums the increments that landed on an
// epoch a set or delete had just ended and were made again (or answered
// Unavailable): the aggregator subtracts its change from the hits, so that
// hits over time count each acknowledged increment once, as the count does.
const attrUndone = "undone"

// regionUndo takes back from hits over time an increment by that landed on
// the region item of epoch e after a set or delete ended e: ADD undone on
// the item, if it still belongs to the incarnation (a delete and create
// took the old one's history with it). It is best effort: if it fails, the
// stats count that increment twice (a failure is as rare as the race).
func (s *Store) regionUndo(ctx context.Context, name string, by int64, e epoch) {
	_, _ = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       regionKey(name, s.region),
		UpdateExpression:          aws.String("ADD #x :by REMOVE #v"),
		ConditionExpression:       aws.String("#cr = :cr"),
		ExpressionAttributeNames:  map[string]string{"#x": attrUndone, "#v": attrVisitor, "#cr": attrCreatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":by": number(by), ":cr": number(e.created)},
	}, NoAmbiguousRetry) // an undo applied twice would take back a hit that counts
}

// errStaleEpoch is a region item or counter of another epoch than the one
// the increment was for.
var errStaleEpoch = errors.New("the counter's epoch changed under the increment")

// regionAdd adds by to the serving region's item of epoch e, with its
// visitor v (0: none). With first, a missing item is created and one of
// another epoch replaced (if the counter's own item still has epoch e).
func (s *Store) regionAdd(ctx context.Context, name string, by int64, v counter.Visitor, e epoch, first bool) error {
	now := s.timestamp()
	values := map[string]types.AttributeValue{":by": number(by), ":now": number(now), ":cr": number(e.created), ":e": &types.AttributeValueMemberS{Value: e.id}}
	cond, names := condRegionAdd, regionAddNames
	if first {
		cond, names = condRegionAddFirst, regionNames
	}
	update, names, values := visited(updateRegionAdd, updateRegionAddNoVisitor, names, values, v)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 regionKey(name, s.region),
		UpdateExpression:                    update,
		ConditionExpression:                 cond,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureNone,
	}, NoAmbiguousRetry)
	if err == nil {
		return nil
	}
	if conditionFailed(err) == nil {
		return translate(err)
	}
	if !first {
		return errStaleEpoch
	}
	// An item of another epoch: replace it, if the counter still has e.
	item := regionKey(name, s.region)
	item[attrCount], item[attrCreatedAt], item[attrUpdatedAt] = number(by), number(e.created), number(now)
	item[attrEpoch] = &types.AttributeValueMemberS{Value: e.id}
	if v != 0 {
		item[attrVisitor] = visitorValue(v)
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName:                s.table,
			Key:                      key(name),
			ConditionExpression:      condRootEpoch,
			ExpressionAttributeNames: map[string]string{"#e": attrEpoch, "#cr": attrCreatedAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":e": item[attrEpoch], ":cr": number(e.created), ":ce": &types.AttributeValueMemberS{Value: "c" + strconv.FormatInt(e.created, 10)},
			},
		}},
		{Put: &types.Put{
			TableName:                 s.table,
			Item:                      item,
			ConditionExpression:       condRegionReplace,
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#e": attrEpoch},
			ExpressionAttributeValues: map[string]types.AttributeValue{":e": item[attrEpoch]},
		}},
	}}, NoAmbiguousRetry)
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		return errStaleEpoch // the counter's epoch moved on, or another process made the item
	}
	if err != nil {
		return translate(err)
	}
	return nil
}

// regionSet sets the counter name to count (creating it if missing) and
// starts a new epoch: every region's item of the epoch before counts for
// nothing from then on, in every region the set reaches.
func (s *Store) regionSet(ctx context.Context, name string, count int64) (counter.Result, error) {
	now := s.timestamp()
	id := fmt.Sprintf("%d.%s.%x", now, s.region, rand.Uint64())
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                s.table,
		Key:                      key(name),
		UpdateExpression:         updateRegionSet,
		ConditionExpression:      aws.String("attribute_not_exists(#s)"),
		ExpressionAttributeNames: map[string]string{"#n": attrName, "#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#e": attrEpoch, "#sets": attrSets, "#s": attrShards},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":name": &types.AttributeValueMemberS{Value: name}, ":count": number(count), ":now": number(now),
			":one": number(1), ":e": &types.AttributeValueMemberS{Value: id},
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		if conditionFailed(err) != nil {
			return counter.Result{}, wrap("set", name, counter.UnavailableError(errors.New("a sharded counter cannot be set across regions")))
		}
		return counter.Result{}, wrap("set", name, translate(err))
	}
	s.epochs.forget(name)
	return setResult(name, count, now, out.Attributes)
}

// regionRead returns the counter name summed over its own item and every
// region's item of its incarnation.
func (s *Store) regionRead(ctx context.Context, name string) (counter.Counter, error) {
	c, _, err := s.regionReadEpoch(ctx, name)
	return c, err
}

// regionReadEpoch is regionRead that also returns the counter's epoch.
func (s *Store) regionReadEpoch(ctx context.Context, name string) (counter.Counter, string, error) {
	keys := []map[string]types.AttributeValue{key(name)}
	for _, r := range s.regions {
		keys = append(keys, regionKey(name, r))
	}
	items, err := s.batchGetKeys(ctx, keys)
	if err != nil {
		return counter.Counter{}, "", err
	}
	return s.regionSum(name, items)
}

// regionSum returns the counter name from items, by key: its own item and
// the region items of its epoch (others are ignored); NotFound without its
// own item.
func (s *Store) regionSum(name string, items map[string]map[string]types.AttributeValue) (counter.Counter, string, error) {
	own := counterPrefix + name
	rootItem, ok := items[own]
	if !ok {
		return counter.Counter{}, "", counter.NotFoundError(name)
	}
	root, err := decodeItem(rootItem)
	if err != nil {
		return counter.Counter{}, "", err
	}
	e, err := rootEpoch(rootItem)
	if err != nil {
		return counter.Counter{}, "", err
	}
	total, updated := root.count, root.updated
	for _, r := range s.regions {
		pk := own + regionInfix + r
		item, ok := items[pk]
		if !ok {
			continue
		}
		it, err := decodeItem(item)
		if err != nil {
			return counter.Counter{}, "", fmt.Errorf("item %q: %w", pk, err)
		}
		if it.created != root.created || itemEpoch(item) != e {
			continue // left by an epoch that is gone
		}
		total += it.count
		updated = max(updated, it.updated)
	}
	c := counterOf(root, min(max(total, 0), counter.MaxCount), updated)
	return c, e, nil
}

// regionCounters returns the counters names (in that order) whose own
// items are in roots (by name), summed over their region items: one
// BatchGetItem per 100 region items.
func (s *Store) regionCounters(ctx context.Context, names []string, roots map[string]map[string]types.AttributeValue) ([]counter.Counter, error) {
	var keys []map[string]types.AttributeValue
	for _, name := range names {
		if len(roots[name]) > 0 {
			for _, r := range s.regions {
				keys = append(keys, regionKey(name, r))
			}
		}
	}
	items := map[string]map[string]types.AttributeValue{}
	for i := 0; i < len(keys); i += 100 {
		got, err := s.batchGetKeys(ctx, keys[i:min(i+100, len(keys))])
		if err != nil {
			return nil, err
		}
		maps.Copy(items, got)
	}
	out := make([]counter.Counter, 0, len(names))
	for _, name := range names {
		if len(roots[name]) == 0 {
			continue // deleted since the index was read
		}
		items[counterPrefix+name] = roots[name]
		c, _, err := s.regionSum(name, items)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
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

// planRegionAdd plans a keyed increment (by > 0) across regions, in the
// transaction of its idempotency record: an ADD to the serving region's
// item of the counter's epoch (created if missing), and a check that the
// counter's own item still has that epoch, so that the record never says
// applied for an increment that counts for nothing. The answer is the
// counter as read before plus by. current is the counter's own item (nil:
// NotFound). A region item of another epoch is made
// this epoch's first (once per process and epoch), as an unkeyed
// increment's first write does, adding 0.
func (s *Store) planRegionAdd(ctx context.Context, w counter.Write, current map[string]types.AttributeValue, now int64) (plan, error) {
	if len(current) == 0 {
		return plan{}, counter.NotFoundError(w.Name)
	}
	c, id, err := s.regionReadEpoch(ctx, w.Name)
	if err != nil {
		return plan{}, err
	}
	created := c.CreatedAt.UnixMilli()
	e := &types.AttributeValueMemberS{Value: id}
	if known, ok := s.epochs.get(w.Name); !ok || known.id != id {
		// The region item may hold another epoch: make it this one's.
		if err := s.regionAdd(ctx, w.Name, 0, 0, epoch{id: id, created: created}, true); err != nil {
			if !errors.Is(err, errStaleEpoch) {
				return plan{}, err
			}
		} else {
			s.epochs.set(w.Name, epoch{id: id, created: created})
		}
	}
	c.Count = min(c.Count+w.By, counter.MaxCount)
	c.UpdatedAt = time.UnixMilli(max(now, c.UpdatedAt.UnixMilli())).UTC()
	update, names, values := visited(updateRegionAdd, updateRegionAddNoVisitor, regionAddNames,
		map[string]types.AttributeValue{":by": number(w.By), ":now": number(now), ":cr": number(created), ":e": e}, w.Visitor)
	return plan{result: counter.Result{Counter: c}, changes: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: s.table, Key: regionKey(w.Name, s.region), UpdateExpression: update, ConditionExpression: condRegionAdd,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: s.table, Key: key(w.Name), ConditionExpression: condRootEpoch,
			ExpressionAttributeNames: map[string]string{"#e": attrEpoch, "#cr": attrCreatedAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":e": e, ":cr": number(created), ":ce": &types.AttributeValueMemberS{Value: "c" + strconv.FormatInt(created, 10)},
			},
		}},
	}}, nil
}
