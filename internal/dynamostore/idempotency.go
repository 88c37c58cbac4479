package dynamostore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Idempotency records: one item per keyed write, pk recordPrefix +
// base64url(key.Scope(w)), written in the same TransactWriteItems as the
// change it records. docs/dynamodb.md describes the design and its cost.
const (
	recordPrefix = "i#"
	// attrExpiresAt is the table's TTL attribute (Unix seconds): DynamoDB
	// deletes the item some time after it; until then the store ignores
	// an expired record.
	attrExpiresAt   = "expires_at"  // N
	attrFingerprint = "fingerprint" // B, counter.Write.Fingerprint
	attrCreated     = "created"     // BOOL, Result.Created
	attrErrCode     = "error_code"  // S, a refused write's error code
	attrErrMessage  = "error_msg"   // S, and its message
	// An applied create, set or increment also keeps attrCount,
	// attrCreatedAt and attrUpdatedAt: the counter as it was answered.
)

// maxKeyedAttempts bounds the transactions one keyed write tries when other
// writes keep changing its counter between its read and its transaction;
// after that it is Unavailable, with nothing applied.
const maxKeyedAttempts = 16

// errContention is the cause of that Unavailable error.
var errContention = errors.New("the counter kept changing: no transaction succeeded")

// Cancellation reason codes of TransactWriteItems.
const (
	reasonNone        = "None"
	reasonCondition   = "ConditionalCheckFailed"
	reasonConflict    = "TransactionConflict"
	reasonThrottling  = "ThrottlingError"
	reasonProvisioned = "ProvisionedThroughputExceeded"
)

// Expressions of keyed writes.
var (
	condRecordFree = aws.String("attribute_not_exists(#pk) OR #exp < :now")
	recordNames    = map[string]string{"#pk": attrPK, "#exp": attrExpiresAt}
	// A keyed increment of a counter in one item sets the count it
	// planned, with its visitor or without (visited).
	updateKeyedVisitor   = aws.String("SET #c = :count, #u = :now, #v = :v")
	updateKeyedNoVisitor = aws.String("SET #c = :count, #u = :now REMOVE #v")
	// updateKeyedSet also adds 1 to sets, as Set does: the stats
	// aggregator takes a change of count without one for an increment.
	updateKeyedSet = aws.String("SET #c = :count, #u = :now ADD #sets :one")
	lifeNames      = map[string]string{"#cr": attrCreatedAt}
	keyedNames     = map[string]string{"#c": attrCount, "#cr": attrCreatedAt, "#u": attrUpdatedAt}
	keyedSetNames  = map[string]string{"#c": attrCount, "#cr": attrCreatedAt, "#u": attrUpdatedAt, "#sets": attrSets}
)

// applyKeyed applies a keyed write (valid) with optimistic concurrency:
// a strongly consistent GetItem of the counter's own item, then one
// TransactWriteItems of the changes plan decides on that state (or, for a
// write refused as not_found, already_exists or out_of_range,
// ConditionChecks of the state that refused it) and the Put of the record,
// conditioned on there being no live one. If the record's condition fails,
// the write was made before: its record is replayed (or the key was
// reused: 422). If a change's fails, the counter changed meanwhile: the
// transaction is tried again on the new state, up to maxKeyedAttempts
// times with jittered backoff.
//
// An increment by a positive amount of a sharded counter is one ADD to one
// of its items (as an unkeyed one), whose answer is this process's total
// (as an unkeyed one's, at most answerStaleness old when it began): no
// contention between concurrent keyed increments. A throttled item is left
// for another, and the counter grows, as for an unkeyed increment: a
// cancelled transaction applied nothing.
//
// The SDK retries a transaction with the same ClientRequestToken, which
// DynamoDB deduplicates, and a client that retries after an Unavailable
// error finds the record if the first attempt was applied.
func (s *Store) applyKeyed(ctx context.Context, w counter.Write) (counter.Result, error) {
	op := "keyed " + w.Op.String()
	scope := w.Scope()
	fingerprint := w.Fingerprint()
	recordKey := map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: recordPrefix + base64.RawURLEncoding.EncodeToString(scope[:])},
	}
	if s.region != "" {
		// Across regions: a record of this key in another region's
		// replica, not replicated here yet, answers as one here would.
		if rec := s.recordElsewhere(ctx, recordKey); rec != nil {
			return replayed(op, rec, fingerprint, w)
		}
	}
	current, err := s.read(ctx, w.Name)
	if err != nil {
		return counter.Result{}, wrap(op, w.Name, err)
	}
	var tried uint64 // items of a sharded (or region) increment throttled in this call
	exact := false   // a sharded increment no single item could take
	for attempt := 1; ; attempt++ {
		now := s.now()
		var p plan
		shard := -1
		if s.region != "" {
			p, shard, err = s.planRegion(ctx, w, current, tried, now.UnixMilli())
		} else if !exact && w.Op == counter.OpIncrement && w.By > 0 && shardsOf(current) > 1 {
			p, shard, err = s.planKeyedAdd(ctx, w, current, tried, now.UnixMilli())
		} else {
			p, err = s.plan(ctx, w, current, now.UnixMilli())
		}
		if err != nil {
			return counter.Result{}, wrap(op, w.Name, err)
		}
		record := recordItem(recordKey, fingerprint, p, now)
		items := append(p.changes, types.TransactWriteItem{Put: &types.Put{
			TableName:                           s.table,
			Item:                                record,
			ConditionExpression:                 condRecordFree,
			ExpressionAttributeNames:            recordNames,
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": number(now.Unix())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			if p.refusal != nil {
				return counter.Result{}, wrap(op, w.Name, p.refusal)
			}
			s.applied(ctx, w, p)
			return p.result, nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) || len(canceled.CancellationReasons) != len(items) {
			return counter.Result{}, wrap(op, w.Name, translate(err))
		}
		changes, rec := canceled.CancellationReasons[:len(p.changes)], canceled.CancellationReasons[len(p.changes)]
		switch {
		case reason(rec) == reasonCondition:
			return replayed(op, rec.Item, fingerprint, w)
		case shard >= 0 && s.region != "" && throttled(changes[0]):
			tried |= 1 << shard
			continue // another of the region's items, at once: nothing was applied
		case shard >= 0 && s.region == "" && reason(changes[0]) == reasonCondition && reason(rec) == reasonNone:
			// The item could not take it within its bound (or is gone):
			// spread it over the items, on a snapshot.
			exact = true
			if current, err = s.read(ctx, w.Name); err != nil {
				return counter.Result{}, wrap(op, w.Name, err)
			}
		case shard >= 0 && s.region == "" && throttled(changes[0]):
			tried |= 1 << shard
			if h := s.hot.get(w.Name); h != nil {
				h.throttled(shard)
			}
			n := shardsOf(current)
			if bits.OnesCount64(tried) >= min(n, 2) {
				if grown, gerr := s.grow(ctx, w.Name, s.hot.get(w.Name)); gerr == nil && grown > n {
					if current, err = s.read(ctx, w.Name); err != nil {
						return counter.Result{}, wrap(op, w.Name, err)
					}
					continue
				}
			}
			if tried == 1<<n-1 {
				return counter.Result{}, wrap(op, w.Name, counter.UnavailableError(err))
			}
			continue // another item, at once: nothing was applied
		case anyReason(changes, reasonCondition) && reason(rec) == reasonNone:
			if len(changes) == 1 && len(changes[0].Item) > 0 && p.changes[0].Put == nil {
				current = changes[0].Item // the counter's own item, as it failed the condition
			} else if current, err = s.read(ctx, w.Name); err != nil {
				return counter.Result{}, wrap(op, w.Name, err)
			}
		case anyReason(changes, reasonConflict) || reason(rec) == reasonConflict:
			// Another transaction holds one of the items: nothing is
			// known about the counter's state; read it again.
			if current, err = s.read(ctx, w.Name); err != nil {
				return counter.Result{}, wrap(op, w.Name, err)
			}
		case anyThrottled(changes) || throttled(rec):
			return counter.Result{}, wrap(op, w.Name, counter.UnavailableError(err))
		default:
			return counter.Result{}, wrap(op, w.Name, err)
		}
		if attempt == maxKeyedAttempts {
			return counter.Result{}, wrap(op, w.Name, counter.UnavailableError(errContention))
		}
		if err := backoff(ctx, attempt); err != nil {
			return counter.Result{}, wrap(op, w.Name, err)
		}
	}
}

// planKeyedAdd plans a keyed increment by a positive amount of a sharded
// counter whose own item is current: an ADD to one item not in tried, at
// random, answered with this process's total (read again if older than
// answerStaleness). It returns the item (-1 if none is left).
func (s *Store) planKeyedAdd(ctx context.Context, w counter.Write, current map[string]types.AttributeValue, tried uint64, now int64) (plan, int, error) {
	root, err := decodeItem(current)
	if err != nil {
		return plan{}, -1, err
	}
	h := s.hot.get(w.Name)
	if n, created := h.shardsOrZero(); n != root.shards || created != root.created {
		if _, err := s.refresh(ctx, w.Name, h, time.Now(), root.shards); err != nil {
			return plan{}, -1, err
		}
		if h = s.hot.get(w.Name); h == nil {
			return plan{}, -1, counter.UnavailableError(errors.New("the counter changed while read"))
		}
	}
	k := h.pick(tried)
	if k < 0 {
		return plan{}, -1, counter.UnavailableError(errAllThrottled)
	}
	started := time.Now()
	total, oldest, updated := h.totalWith(-1, 0)
	if oldest.Before(started.Add(-answerStaleness)) {
		if _, err := s.refresh(ctx, w.Name, h, started.Add(-answerStaleness), 0); err != nil {
			return plan{}, -1, err
		}
		total, _, updated = h.totalWith(-1, 0)
	}
	n, created := h.shards()
	lo, hi := bounds(k, n, w.By)
	values := map[string]types.AttributeValue{":by": number(w.By), ":lo": number(lo), ":hi": number(hi), ":now": number(now)}
	cond, names := condIncrement, addNames
	if k == 0 {
		cond, names = condAddRoot, addRootNames
		values[":n"] = number(int64(n))
	}
	c := counter.Counter{
		Name:      w.Name,
		Count:     min(max(total+w.By, 0), counter.MaxCount),
		CreatedAt: time.UnixMilli(created).UTC(),
		UpdatedAt: time.UnixMilli(max(updated, now)).UTC(),
		Shards:    n,
	}
	update, names, values := visited(updateIncrementVisitor, updateIncrementNoVisitor, names, values, w.Visitor)
	return plan{result: counter.Result{Counter: c}, changes: []types.TransactWriteItem{{Update: &types.Update{
		TableName: s.table, Key: itemKey(w.Name, k), UpdateExpression: update, ConditionExpression: cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}}}, k, nil
}

// shardsOrZero is shards for a counter this process may not know (nil).
func (h *hotCounter) shardsOrZero() (int, int64) {
	if h == nil {
		return 0, 0
	}
	return h.shards()
}

// shardsOf is the shard count of a counter's own item (1 if none or
// unreadable).
func shardsOf(item map[string]types.AttributeValue) int {
	it, err := decodeItem(item)
	if err != nil || len(item) == 0 {
		return 1
	}
	return it.shards
}

func anyReason(rs []types.CancellationReason, code string) bool {
	for _, r := range rs {
		if reason(r) == code {
			return true
		}
	}
	return false
}

func anyThrottled(rs []types.CancellationReason) bool {
	for _, r := range rs {
		if throttled(r) {
			return true
		}
	}
	return false
}

// read returns the counter item with a strongly consistent GetItem; nil if
// there is none.
func (s *Store) read(ctx context.Context, name string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: key(name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, translate(err)
	}
	return out.Item, nil
}

func reason(r types.CancellationReason) string { return aws.ToString(r.Code) }

func throttled(r types.CancellationReason) bool {
	return reason(r) == reasonThrottling || reason(r) == reasonProvisioned
}

// recordItem is the record of the answer p gives, written at now.
func recordItem(recordKey map[string]types.AttributeValue, fingerprint [32]byte, p plan, now time.Time) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrPK:          recordKey[attrPK],
		attrExpiresAt:   number(now.Add(counter.IdempotencyTTL).Unix()),
		attrFingerprint: &types.AttributeValueMemberB{Value: fingerprint[:]},
	}
	if p.refusal != nil {
		item[attrErrCode] = &types.AttributeValueMemberS{Value: counter.ErrorCode(p.refusal)}
		item[attrErrMessage] = &types.AttributeValueMemberS{Value: counter.ErrorMessage(p.refusal)}
		return item
	}
	item[attrCreated] = &types.AttributeValueMemberBOOL{Value: p.result.Created}
	if c := p.result.Counter; c.Name != "" {
		item[attrCount] = number(c.Count)
		item[attrCreatedAt] = number(c.CreatedAt.UnixMilli())
		item[attrUpdatedAt] = number(c.UpdatedAt.UnixMilli())
		if c.Shards > 1 {
			item[attrShards] = number(int64(c.Shards))
		}
	}
	return item
}

// replayed answers w (a keyed op) as its record says: the recorded result
// with Replayed set, or the recorded refusal (wrapped), or the error
// replay finds.
func replayed(op string, record map[string]types.AttributeValue, fingerprint [32]byte, w counter.Write) (counter.Result, error) {
	res, refusal, err := replay(record, fingerprint, w)
	switch {
	case err != nil:
		return counter.Result{}, wrap(op, w.Name, err)
	case refusal != nil:
		return counter.Result{Replayed: true}, wrap(op, w.Name, refusal)
	}
	res.Replayed = true
	return res, nil
}

// replay returns the answer a record holds for w: a result, or the
// refusal the write was answered with. It returns IdempotencyKeyReused if
// the record is of another request, and an error if it cannot be read.
func replay(record map[string]types.AttributeValue, fingerprint [32]byte, w counter.Write) (o counter.Result, refusal, err error) {
	fp, ok := record[attrFingerprint].(*types.AttributeValueMemberB)
	if !ok {
		return o, nil, fmt.Errorf("record %v has no fingerprint", record[attrPK])
	}
	if !bytes.Equal(fp.Value, fingerprint[:]) {
		return o, nil, counter.IdempotencyKeyReusedError(w)
	}
	if code, ok := record[attrErrCode].(*types.AttributeValueMemberS); ok {
		msg, ok := record[attrErrMessage].(*types.AttributeValueMemberS)
		if !ok {
			return o, nil, fmt.Errorf("record %v has no error message", record[attrPK])
		}
		return o, &counter.Error{Code: code.Value, Message: msg.Value}, nil
	}
	created, ok := record[attrCreated].(*types.AttributeValueMemberBOOL)
	if !ok {
		return o, nil, fmt.Errorf("record %v has no outcome", record[attrPK])
	}
	o.Created = created.Value
	if w.Op == counter.OpDelete {
		return o, nil, nil
	}
	record[attrName] = &types.AttributeValueMemberS{Value: w.Name}
	if o.Counter, err = decode(record); err != nil {
		return counter.Result{}, nil, fmt.Errorf("record: %w", err)
	}
	return o, nil, nil
}

// isTransactionConflict reports whether err is DynamoDB refusing a
// request, unapplied, because a transaction holds its item.
func isTransactionConflict(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "TransactionConflictException" || api.ErrorCode() == "TransactionInProgressException")
}
