package dynamostore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// plan is one attempt at a write that one TransactWriteItems makes: the
// actions on the counter's items, and the answer it gives if the
// transaction succeeds.
type plan struct {
	changes []types.TransactWriteItem
	result  counter.Result
	// refusal is NotFound, AlreadyExists or OutOfRange; the changes are
	// ConditionChecks on the state that refused the write.
	refusal error
	// shards is the shard count a create or set gave the counter, from
	// fromShards (for the log line); 0 if it did not change it.
	shards, fromShards int
}

// Expressions of planned writes.
var (
	condOneItem       = aws.String("#cr = :cr AND attribute_not_exists(#s)")
	condOneItemCount  = aws.String("#c = :old AND #cr = :cr AND attribute_not_exists(#s)")
	condShards        = aws.String("#cr = :cr AND #s = :n")
	oneItemNames      = map[string]string{"#cr": attrCreatedAt, "#s": attrShards}
	oneItemCountNames = map[string]string{"#c": attrCount, "#cr": attrCreatedAt, "#s": attrShards}
	updateSetShard    = aws.String("SET #c = :count, #u = :now, #cr = :cr ADD #sets :one")
	setShardNames     = map[string]string{"#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#sets": attrSets}
	condAtMost        = aws.String("#c <= :c")
	condAtLeast       = aws.String("#c >= :c")
	countOnlyNames    = map[string]string{"#c": attrCount}
	addNames          = map[string]string{"#c": attrCount, "#u": attrUpdatedAt}
	condAddRoot       = aws.String("#c BETWEEN :lo AND :hi AND #s = :n")
	addRootNames      = map[string]string{"#c": attrCount, "#u": attrUpdatedAt, "#s": attrShards}
)

// plan decides what w does to the counter whose own item is current (nil:
// none) at time now (Unix ms), conditioned on the state it was decided
// from, so that the transaction fails rather than apply it to another. A
// sharded counter's increment is planned on a snapshot of its items, read
// here.
//
//   - create, and a set of a missing counter: Put of the counter's own item
//     (and, asked for shards, of its shards, holding the count spread);
//   - set: an Update of every item (their counts spread the new count,
//     sets + 1 on each), on the same incarnation and shard count; with more
//     shards asked, Puts of the new ones;
//   - increment: of a counter in one item, SET count = old + by on the
//     count read; of a sharded one, ADDs spread over the items with room,
//     each within its bound;
//   - delete: Delete of every item, on the same incarnation and shard count.
func (s *Store) plan(ctx context.Context, w counter.Write, current map[string]types.AttributeValue, now int64) (plan, error) {
	name := w.Name
	if len(current) == 0 {
		switch w.Op {
		case counter.OpCreate, counter.OpSet:
			return s.planCreate(w, now), nil
		default: // increment, delete
			return s.check(name, 0, condNotExists, createNames, nil, counter.NotFoundError(name)), nil
		}
	}
	it, err := decodeItem(current)
	if err != nil {
		return plan{}, err
	}
	old, err := decode(current)
	if err != nil {
		return plan{}, err
	}
	n := it.shards
	life := map[string]types.AttributeValue{":cr": number(it.created)}
	updated := time.UnixMilli(now).UTC()
	switch w.Op {
	case counter.OpCreate:
		return s.check(name, 0, condExists, createNames, nil, counter.AlreadyExistsError(name)), nil
	case counter.OpSet:
		to := max(n, w.Shards)
		res := counter.Result{Counter: counter.Counter{Name: name, Count: w.Count, CreatedAt: old.CreatedAt, UpdatedAt: updated}}
		if to == 1 {
			values := map[string]types.AttributeValue{":cr": life[":cr"], ":count": number(w.Count), ":now": number(now), ":one": number(1)}
			return plan{result: res, changes: []types.TransactWriteItem{{Update: &types.Update{
				TableName: s.table, Key: itemKey(name, 0), UpdateExpression: updateKeyedSet, ConditionExpression: condOneItem,
				ExpressionAttributeNames: withShardsName(keyedSetNames), ExpressionAttributeValues: values,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}}}}, nil
		}
		res.Counter.Shards = to
		p := plan{result: res}
		if to > n {
			p.shards, p.fromShards = to, n
		}
		counts := spreadCount(w.Count, to)
		for k := range to {
			switch {
			case k == 0:
				p.changes = append(p.changes, s.setRoot(name, counts[0], n, to, it.created, now))
			case k < n:
				p.changes = append(p.changes, types.TransactWriteItem{Update: &types.Update{
					TableName: s.table, Key: itemKey(name, k), UpdateExpression: updateSetShard, ExpressionAttributeNames: setShardNames,
					ExpressionAttributeValues: map[string]types.AttributeValue{":count": number(counts[k]), ":now": number(now), ":cr": life[":cr"], ":one": number(1)},
				}})
			default:
				p.changes = append(p.changes, types.TransactWriteItem{Put: &types.Put{TableName: s.table, Item: shardItem(name, k, counts[k], it.created, now)}})
			}
		}
		return p, nil
	case counter.OpIncrement:
		if n == 1 {
			next := old.Count + w.By // cannot overflow: both are within ±MaxCount
			if next < 0 || next > counter.MaxCount {
				return s.check(name, 0, condOneItemCount, oneItemCountNames, map[string]types.AttributeValue{":old": number(old.Count), ":cr": life[":cr"]},
					counter.OutOfRangeError(name, old.Count, w.By)), nil
			}
			values := map[string]types.AttributeValue{":cr": life[":cr"], ":old": number(old.Count), ":count": number(next), ":now": number(now)}
			update, names, values := visited(updateKeyedVisitor, updateKeyedNoVisitor, withShardsName(keyedNames), values, w.Visitor)
			return plan{
				result: counter.Result{Counter: counter.Counter{Name: name, Count: next, CreatedAt: old.CreatedAt, UpdatedAt: updated}},
				changes: []types.TransactWriteItem{{Update: &types.Update{
					TableName: s.table, Key: itemKey(name, 0), UpdateExpression: update, ConditionExpression: condOneItemCount,
					ExpressionAttributeNames: names, ExpressionAttributeValues: values,
					ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
				}}},
			}, nil
		}
		snap, err := s.snapshot(ctx, name, n)
		if err != nil {
			return plan{}, err
		}
		return s.planSpread(name, snap, w.By, w.Visitor, now), nil
	default: // counter.OpDelete
		if n == 1 {
			return plan{changes: []types.TransactWriteItem{{Delete: &types.Delete{
				TableName: s.table, Key: itemKey(name, 0), ConditionExpression: condOneItem,
				ExpressionAttributeNames: oneItemNames, ExpressionAttributeValues: life,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}}}}, nil
		}
		life[":n"] = number(int64(n))
		p := plan{changes: []types.TransactWriteItem{{Delete: &types.Delete{
			TableName: s.table, Key: itemKey(name, 0), ConditionExpression: condShards,
			ExpressionAttributeNames: shardsNames, ExpressionAttributeValues: life,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}}}
		for k := 1; k < n; k++ {
			p.changes = append(p.changes, types.TransactWriteItem{Delete: &types.Delete{TableName: s.table, Key: itemKey(name, k)}})
		}
		return p, nil
	}
}

var shardsNames = map[string]string{"#cr": attrCreatedAt, "#s": attrShards}

// withShardsName returns names with #s for the shards attribute.
func withShardsName(names map[string]string) map[string]string {
	out := make(map[string]string, len(names)+1)
	for k, v := range names {
		out[k] = v
	}
	out["#s"] = attrShards
	return out
}

// planCreate puts the counter w names (a create, or a set of a missing
// counter), with the shards w asks for.
func (s *Store) planCreate(w counter.Write, now int64) plan {
	to := max(1, w.Shards)
	t := time.UnixMilli(now).UTC()
	p := plan{result: counter.Result{Counter: counter.Counter{Name: w.Name, Count: w.Count, CreatedAt: t, UpdatedAt: t}, Created: true}}
	counts := spreadCount(w.Count, to)
	root := map[string]types.AttributeValue{
		attrPK:        itemKey(w.Name, 0)[attrPK],
		attrName:      &types.AttributeValueMemberS{Value: w.Name},
		attrCount:     number(counts[0]),
		attrCreatedAt: number(now),
		attrUpdatedAt: number(now),
	}
	if to > 1 {
		root[attrShards], root[attrShardsAt] = number(int64(to)), number(now)
		p.result.Counter.Shards, p.shards, p.fromShards = to, to, 1
	}
	p.changes = append(p.changes, types.TransactWriteItem{Put: &types.Put{
		TableName: s.table, Item: root, ConditionExpression: condNotExists, ExpressionAttributeNames: createNames,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}})
	for k := 1; k < to; k++ {
		// Whatever is at the key is left by a deleted incarnation: replaced.
		p.changes = append(p.changes, types.TransactWriteItem{Put: &types.Put{TableName: s.table, Item: shardItem(w.Name, k, counts[k], now, now)}})
	}
	return p
}

// setRoot is the Update that sets the counter's own item of a sharded set
// to count, on the incarnation created and the shard count n, giving it to
// shards.
func (s *Store) setRoot(name string, count int64, n, to int, created, now int64) types.TransactWriteItem {
	expr := "SET #c = :count, #u = :now"
	values := map[string]types.AttributeValue{":count": number(count), ":now": number(now), ":cr": number(created), ":one": number(1)}
	names := map[string]string{"#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#sets": attrSets, "#s": attrShards}
	if to > n {
		expr += ", #s = :to, #sa = :now"
		values[":to"] = number(int64(to))
		names["#sa"] = attrShardsAt
	}
	cond := "#cr = :cr AND attribute_not_exists(#s)"
	if n > 1 {
		cond = "#cr = :cr AND #s = :n"
		values[":n"] = number(int64(n))
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: s.table, Key: itemKey(name, 0), UpdateExpression: aws.String(expr + " ADD #sets :one"),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// planSpread plans an increment by of the sharded counter snap shows: ADDs
// spread over the items with room, or OutOfRange with ConditionChecks that
// hold while the total still cannot take it.
func (s *Store) planSpread(name string, snap snapshot, by int64, v counter.Visitor, now int64) plan {
	total, updated := snap.total()
	n := snap.n()
	parts, ok := spread(snap, by)
	if !ok || total+by < 0 || total+by > counter.MaxCount {
		// Refused on these counts: it stays refused while no item moves
		// the other way (grows, for a decrement; shrinks, for an increment).
		cond := condAtMost
		if by > 0 {
			cond = condAtLeast
		}
		p := plan{refusal: counter.OutOfRangeError(name, total, by)}
		for k, it := range snap.items {
			p.changes = append(p.changes, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName: s.table, Key: itemKey(name, k), ConditionExpression: cond, ExpressionAttributeNames: countOnlyNames,
				ExpressionAttributeValues: map[string]types.AttributeValue{":c": number(it.count)},
			}})
		}
		return p
	}
	c := counterOf(snap.items[0], total+by, max(updated, now))
	p := plan{result: counter.Result{Counter: c}}
	for k, part := range parts {
		if part == 0 {
			continue
		}
		lo, hi := bounds(k, n, part)
		values := map[string]types.AttributeValue{":by": number(part), ":lo": number(lo), ":hi": number(hi), ":now": number(now)}
		cond, names := condIncrement, addNames
		if k == 0 { // its bound depends on the shard count: the count must be the one planned on
			cond, names = condAddRoot, addRootNames
			values[":n"] = number(int64(n))
		}
		update, names, values := visited(updateIncrementVisitor, updateIncrementNoVisitor, names, values, v)
		p.changes = append(p.changes, types.TransactWriteItem{Update: &types.Update{
			TableName: s.table, Key: itemKey(name, k), UpdateExpression: update, ConditionExpression: cond,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		}})
	}
	return p
}

// spreadCount splits count over n items: the counter's own takes what its
// bound allows, each shard after it up to shardCap.
func spreadCount(count int64, n int) []int64 {
	counts := make([]int64, n)
	left := count
	for k := range n {
		counts[k] = min(left, itemCap(k, n))
		left -= counts[k]
	}
	return counts
}

// check is a plan refusing w with a ConditionCheck on item k holding the
// state that refused it.
func (s *Store) check(name string, k int, cond *string, names map[string]string, values map[string]types.AttributeValue, refusal error) plan {
	return plan{refusal: refusal, changes: []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
		TableName: s.table, Key: itemKey(name, k), ConditionExpression: cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}}
}

// applyPlanned applies an unkeyed write as plan decides it, in one
// TransactWriteItems: a create or set with shards, a set or delete of a
// sharded counter, an increment no single item can take. A write refused
// on the state read needs no transaction. If the state changed between the
// read and the transaction, it is read and planned again, up to
// maxKeyedAttempts times; then Unavailable, with nothing applied.
func (s *Store) applyPlanned(ctx context.Context, w counter.Write) (counter.Result, error) {
	op := w.Op.String()
	for attempt := 1; ; attempt++ {
		current, err := s.read(ctx, w.Name)
		if err != nil {
			return counter.Result{}, wrap(op, w.Name, err)
		}
		p, err := s.plan(ctx, w, current, s.timestamp())
		if err != nil {
			return counter.Result{}, wrap(op, w.Name, err)
		}
		if p.refusal != nil {
			return counter.Result{}, wrap(op, w.Name, p.refusal)
		}
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: p.changes})
		if err == nil {
			s.applied(ctx, w, p)
			return p.result, nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			return counter.Result{}, wrap(op, w.Name, translate(err))
		}
		for _, r := range canceled.CancellationReasons {
			if throttled(r) {
				return counter.Result{}, wrap(op, w.Name, counter.UnavailableError(err))
			}
		}
		if attempt == maxKeyedAttempts {
			return counter.Result{}, wrap(op, w.Name, counter.UnavailableError(errContention))
		}
		if err := backoff(ctx, attempt); err != nil {
			return counter.Result{}, wrap(op, w.Name, err)
		}
	}
}

// applied updates what this process knows of a counter after it applied p
// for w: a set, create or delete makes its counts unknown (the next use
// reads them again); a create or set that gave it shards says so in the
// log.
func (s *Store) applied(ctx context.Context, w counter.Write, p plan) {
	if w.Op != counter.OpIncrement {
		s.hot.forget(w.Name)
		s.epochs.forget(w.Name) // a set's new epoch, a delete's, a create's
	} else if h := s.hot.get(w.Name); h != nil {
		for k, c := range p.changes {
			if c.Update != nil {
				if by, ok := c.Update.ExpressionAttributeValues[":by"].(*types.AttributeValueMemberN); ok {
					n, _ := strconv.ParseInt(by.Value, 10, 64)
					h.added(itemIndex(c.Update.Key, k), n)
				}
			}
		}
	}
	if p.shards > 0 {
		s.log.InfoContext(ctx, "counter shards set", "counter", w.Name, "from", p.fromShards, "shards", p.shards, "op", w.Op.String())
	}
}

// itemIndex returns the shard number of an item's key (0 for the counter's
// own, or fallback if the key cannot be read).
func itemIndex(key map[string]types.AttributeValue, fallback int) int {
	pk, _ := key[attrPK].(*types.AttributeValueMemberS)
	if pk == nil {
		return fallback
	}
	_, suffix, ok := shardOfKey(pk.Value)
	if !ok {
		return fallback
	}
	if suffix == "" {
		return 0
	}
	k, err := strconv.Atoi(suffix[1:])
	if err != nil {
		return fallback
	}
	return k
}
