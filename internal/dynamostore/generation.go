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

// Generations (WithRegions): two regions may each create a counter before
// the other's create has replicated (a badge on a new page, viewed near
// both at once). Both creates are answered; replication then keeps the
// later one's own item in both regions (last writer wins). If each create
// started an epoch of its own, the region items of the other would count
// for nothing, and with them every hit acknowledged on them. So a counter
// created with replica regions has a generation that two such creates
// agree on, and its first epoch and its incarnation are that generation:
//
//	c#<name>  gen: the generation, 1 + the last one a delete ended (the
//	          g#<name> item); epoch "g<gen>" (until a set starts another)
//	g#<name>  gen: the last generation of the counter a delete ended
//	          (raised before the delete, never lowered; not a counter, so
//	          no listing, no history)
//
// Two creates of one generation make one counter: its starting count and
// created_at are the later create's (last writer wins on its own item),
// and every region's items of the generation count, whichever create
// made them. A delete raises g#<name> first, so that the next create
// starts a generation no region item of the deleted one holds.
//
// The incarnation, which names the counter's region items (their
// created_at) and its history (the stats table's keys), is the generation
// too: the two creates' created_at differ, their generation does not. A
// counter without a generation (created on one region, or before
// generations existed) keeps its created_at as incarnation and "c" and its
// created_at as first epoch.
const (
	generationPrefix = "g#"
	attrGen          = "gen"
)

// generationKey is the key of the item that holds the last generation a
// delete of the counter name ended.
func generationKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: generationPrefix + name}}
}

// generationEpoch is the first epoch of generation g.
func generationEpoch(g int64) *types.AttributeValueMemberS {
	return &types.AttributeValueMemberS{Value: "g" + strconv.FormatInt(g, 10)}
}

// incarnation returns what names the incarnation of the counter whose own
// item is item: its generation, else its created_at (Unix ms).
func incarnation(item map[string]types.AttributeValue) (int64, error) {
	if g, err := optionalInt(item, attrGen); err != nil || g > 0 {
		return g, err
	}
	return decodeInt(item, attrCreatedAt)
}

// nextGeneration returns the generation a create of the counter name
// starts: 1 + the last one a delete ended, as this region's replica has it
// (strongly consistent).
func (s *Store) nextGeneration(ctx context.Context, name string) (int64, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: generationKey(name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, translate(err)
	}
	g, err := optionalInt(out.Item, attrGen)
	return g + 1, err
}

// endGeneration records, before a delete of the counter name's generation
// g (0: a counter without one, which needs no record), that g is ended:
// g#<name> is raised to g, never lowered.
func (s *Store) endGeneration(ctx context.Context, name string, g int64) error {
	if g <= 0 {
		return nil
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       generationKey(name),
		UpdateExpression:          aws.String("SET #g = :g, #u = :now"),
		ConditionExpression:       aws.String("attribute_not_exists(#g) OR #g < :g"),
		ExpressionAttributeNames:  map[string]string{"#g": attrGen, "#u": attrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": number(g), ":now": number(s.timestamp())},
	})
	if conditionFailed(err) != nil {
		return nil // ended already
	}
	return translate(err)
}

// regionRoot is the own item of the counter name that a create (or a set
// of a missing counter) puts with replica regions: count, now, generation
// g and its epoch, and the region shards asked for (2 or more; else none).
func regionRoot(name string, count, now, g int64, shards int) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrPK:        &types.AttributeValueMemberS{Value: counterPrefix + name},
		attrName:      &types.AttributeValueMemberS{Value: name},
		attrCount:     number(count),
		attrCreatedAt: number(now),
		attrUpdatedAt: number(now),
		attrGen:       number(g),
		attrEpoch:     generationEpoch(g),
	}
	if shards > 1 {
		item[attrRegionShards] = number(int64(shards))
	}
	return item
}

// regionCreate makes the counter name with count, starting the next
// generation (one conditional PutItem after a read of g#<name>); shards
// (2 or more) asks each region for that many items. A hit creates the
// counter at 0 and adds its 1 to the region's item (regionHit), so that
// the hit is not in the counter's own item, which another region's create
// of the same generation may replace.
func (s *Store) regionCreate(ctx context.Context, name string, count int64, shards int) (counter.Result, error) {
	res, err := s.regionPut(ctx, name, count, shards)
	if err != nil {
		return counter.Result{}, wrap("create", name, err)
	}
	return res, nil
}

// regionPut is regionCreate with its errors unwrapped.
func (s *Store) regionPut(ctx context.Context, name string, count int64, shards int) (counter.Result, error) {
	g, err := s.nextGeneration(ctx, name)
	if err != nil {
		return counter.Result{}, err
	}
	now := s.timestamp()
	item := regionRoot(name, count, now, g, shards)
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           s.table,
		Item:                                item,
		ConditionExpression:                 condNotExists,
		ExpressionAttributeNames:            createNames,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	t := time.UnixMilli(now).UTC()
	created := counter.Counter{Name: name, Count: count, CreatedAt: t, UpdatedAt: t}
	if shards > 1 {
		created.Shards = shards
	}
	if ccf := conditionFailed(err); ccf != nil {
		// A retried PutItem whose first attempt was applied finds its own
		// item: the create succeeded. (So does a create of the same count
		// made in the same millisecond in this region: both are answered
		// as made, and they made one counter.)
		if old, derr := decode(ccf.Item); derr == nil && old.Count == count && old.CreatedAt.Equal(t) && optionalEqual(ccf.Item, attrGen, g) {
			return counter.Result{Counter: created, Created: true}, nil
		}
		return counter.Result{}, counter.AlreadyExistsError(name)
	}
	if err != nil {
		return counter.Result{}, translate(err)
	}
	s.epochs.forget(name)
	return counter.Result{Counter: created, Created: true}, nil
}

// optionalEqual reports whether item's number attribute attr is want.
func optionalEqual(item map[string]types.AttributeValue, attr string, want int64) bool {
	n, err := optionalInt(item, attr)
	return err == nil && n == want
}

// regionHit adds a hit to the counter name, creating it first (at 0, in
// the next generation) if it is missing: the hit itself goes to the
// serving region's item, as any increment does. A hit never answers
// NotFound: if the counter is deleted again under it (another region's
// delete, settled after this region's create by last writer wins), it
// creates it again, up to regionAttempts times, then answers Unavailable.
func (s *Store) regionHit(ctx context.Context, name string, v counter.Visitor) (counter.Result, error) {
	created := false
	for attempt := 1; ; attempt++ {
		res, err := s.regionIncrement(ctx, name, 1, v)
		if counter.ErrorCode(err) != counter.NotFound {
			res.Created = created && err == nil
			return res, err
		}
		if attempt == regionAttempts {
			return counter.Result{}, wrap("hit", name, counter.UnavailableError(errors.New("the counter kept being deleted under the hit")))
		}
		_, err = s.regionCreate(ctx, name, 0, 0)
		switch {
		case err == nil:
			created = true
		case counter.ErrorCode(err) != counter.AlreadyExists:
			return counter.Result{}, err
		}
	}
}

// regionDelete deletes the counter name: it reads the counter's own item,
// ends its generation (endGeneration), then deletes the item on the
// condition that it is still that incarnation (else again, from the read).
func (s *Store) regionDelete(ctx context.Context, w counter.Write) error {
	name := w.Name
	for attempt := 1; ; attempt++ {
		item, err := s.read(ctx, name)
		if err != nil {
			return wrap("delete", name, err)
		}
		if len(item) == 0 {
			return wrap("delete", name, counter.NotFoundError(name))
		}
		if _, sharded := item[attrShards]; sharded {
			return s.delete(ctx, w) // sharded on one region, before regions were listed
		}
		g, err := optionalInt(item, attrGen)
		if err != nil {
			return wrap("delete", name, err)
		}
		if err := s.endGeneration(ctx, name, g); err != nil {
			return wrap("delete", name, err)
		}
		created, err := decodeInt(item, attrCreatedAt)
		if err != nil {
			return wrap("delete", name, err)
		}
		_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 s.table,
			Key:                       key(name),
			ConditionExpression:       aws.String("#cr = :cr"),
			ExpressionAttributeNames:  map[string]string{"#cr": attrCreatedAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{":cr": number(created)},
		})
		s.epochs.forget(name)
		if conditionFailed(err) != nil {
			if attempt < regionAttempts {
				continue // created again, or replaced by another region's create
			}
			return wrap("delete", name, counter.UnavailableError(errors.New("the counter kept being created again under the delete")))
		}
		if err != nil {
			return wrap("delete", name, translate(err))
		}
		return nil
	}
}
