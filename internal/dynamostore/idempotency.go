package dynamostore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
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
	condSameCount  = aws.String("#c = :old")
	condSameLife   = aws.String("#cr = :cr")
	condSameBoth   = aws.String("#c = :old AND #cr = :cr")
	updateKeyed    = aws.String("SET #c = :count, #u = :now")
	// updateKeyedSet also adds 1 to sets, as Set does: the stats
	// aggregator takes a change of count without one for an increment.
	updateKeyedSet = aws.String("SET #c = :count, #u = :now ADD #sets :one")
	countNames     = map[string]string{"#c": attrCount}
	lifeNames      = map[string]string{"#cr": attrCreatedAt}
	keyedNames     = map[string]string{"#c": attrCount, "#cr": attrCreatedAt, "#u": attrUpdatedAt}
	keyedSetNames  = map[string]string{"#c": attrCount, "#cr": attrCreatedAt, "#u": attrUpdatedAt, "#sets": attrSets}
)

// applyKeyed applies a keyed write (valid) with optimistic concurrency:
// a strongly consistent GetItem of the counter, then one TransactWriteItems
// of two actions: the change (or, for a write refused as not_found,
// already_exists or out_of_range, a ConditionCheck) conditioned on the
// state that was read, and the Put of the record conditioned on there
// being no live one. If the record's condition fails, the write was made
// before: its record is replayed (or the key was reused: 422). If the
// counter's fails, the counter changed meanwhile: the transaction is
// tried again on the state DynamoDB returned with the failure, up to
// maxKeyedAttempts times with jittered backoff.
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
	current, err := s.read(ctx, w.Name)
	if err != nil {
		return counter.Result{}, wrap(op, w.Name, err)
	}
	for attempt := 1; ; attempt++ {
		now := s.now()
		p, err := s.plan(w, current, now.UnixMilli())
		if err != nil {
			return counter.Result{}, wrap(op, w.Name, err)
		}
		record := recordItem(recordKey, fingerprint, p, now)
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{p.change, {Put: &types.Put{
				TableName:                           s.table,
				Item:                                record,
				ConditionExpression:                 condRecordFree,
				ExpressionAttributeNames:            recordNames,
				ExpressionAttributeValues:           map[string]types.AttributeValue{":now": number(now.Unix())},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}}},
		})
		if err == nil {
			if p.refusal != nil {
				return counter.Result{}, wrap(op, w.Name, p.refusal)
			}
			return p.result, nil
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) || len(canceled.CancellationReasons) != 2 {
			return counter.Result{}, wrap(op, w.Name, translate(err))
		}
		change, rec := canceled.CancellationReasons[0], canceled.CancellationReasons[1]
		switch {
		case reason(rec) == reasonCondition:
			res, refusal, err := replay(rec.Item, fingerprint, w)
			switch {
			case err != nil:
				return counter.Result{}, wrap(op, w.Name, err)
			case refusal != nil:
				return counter.Result{Replayed: true}, wrap(op, w.Name, refusal)
			}
			res.Replayed = true
			return res, nil
		case reason(change) == reasonCondition && reason(rec) == reasonNone:
			current = change.Item // the state that failed the condition
		case reason(change) == reasonConflict || reason(rec) == reasonConflict:
			// Another transaction holds one of the items: nothing is
			// known about the counter's state; read it again.
			if current, err = s.read(ctx, w.Name); err != nil {
				return counter.Result{}, wrap(op, w.Name, err)
			}
		case throttled(change) || throttled(rec):
			return counter.Result{}, wrap(op, w.Name, counter.UnavailableError(err))
		default:
			return counter.Result{}, wrap(op, w.Name, err)
		}
		if attempt == maxKeyedAttempts {
			return counter.Result{}, wrap(op, w.Name, counter.UnavailableError(errContention))
		}
		// Full jitter, from 2 ms up to 64 ms: contenders spread out.
		wait := time.Duration(rand.N(int64(2*time.Millisecond) << min(attempt, 5)))
		select {
		case <-ctx.Done():
			return counter.Result{}, wrap(op, w.Name, ctx.Err())
		case <-time.After(wait):
		}
	}
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

// plan is one attempt of a keyed write: the action on the counter's item
// and the answer it gives if the transaction succeeds.
type plan struct {
	change  types.TransactWriteItem
	result  counter.Result
	refusal error // NotFound, AlreadyExists or OutOfRange; the change is a ConditionCheck
}

// plan decides what w does to the counter whose item is current (nil: none)
// at time now (Unix milliseconds), conditioned on that item being unchanged
// in what the answer depends on.
func (s *Store) plan(w counter.Write, current map[string]types.AttributeValue, now int64) (plan, error) {
	exists := len(current) > 0
	var old counter.Counter
	if exists {
		var err error
		if old, err = decode(current); err != nil {
			return plan{}, err
		}
	}
	check := func(cond *string, names map[string]string, values map[string]types.AttributeValue, refusal error) plan {
		return plan{refusal: refusal, change: types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: s.table, Key: key(w.Name), ConditionExpression: cond,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}}
	}
	update := func(count int64, cond *string, values map[string]types.AttributeValue) types.TransactWriteItem {
		values[":count"], values[":now"] = number(count), number(now)
		expr, names := updateKeyed, keyedNames
		if w.Op == counter.OpSet {
			expr, names = updateKeyedSet, keyedSetNames
			values[":one"] = number(1)
		}
		return types.TransactWriteItem{Update: &types.Update{
			TableName: s.table, Key: key(w.Name), UpdateExpression: expr, ConditionExpression: cond,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	put := func() plan {
		t := time.UnixMilli(now).UTC()
		return plan{
			result: counter.Result{Counter: counter.Counter{Name: w.Name, Count: w.Count, CreatedAt: t, UpdatedAt: t}, Created: true},
			change: types.TransactWriteItem{Put: &types.Put{
				TableName: s.table,
				Item: map[string]types.AttributeValue{
					attrPK:        &types.AttributeValueMemberS{Value: counterPrefix + w.Name},
					attrName:      &types.AttributeValueMemberS{Value: w.Name},
					attrCount:     number(w.Count),
					attrCreatedAt: number(now),
					attrUpdatedAt: number(now),
				},
				ConditionExpression:                 condNotExists,
				ExpressionAttributeNames:            createNames,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}},
		}
	}
	life := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{":cr": number(old.CreatedAt.UnixMilli())}
	}
	switch w.Op {
	case counter.OpCreate:
		if exists {
			return check(condExists, createNames, nil, counter.AlreadyExistsError(w.Name)), nil
		}
		return put(), nil
	case counter.OpSet:
		if !exists {
			return put(), nil
		}
		return plan{
			change: update(w.Count, condSameLife, life()),
			result: counter.Result{Counter: counter.Counter{Name: w.Name, Count: w.Count, CreatedAt: old.CreatedAt, UpdatedAt: time.UnixMilli(now).UTC()}},
		}, nil
	case counter.OpIncrement:
		if !exists {
			return check(condNotExists, createNames, nil, counter.NotFoundError(w.Name)), nil
		}
		n := old.Count + w.By // cannot overflow: both are within ±MaxCount
		if n < 0 || n > counter.MaxCount {
			return check(condSameCount, countNames, map[string]types.AttributeValue{":old": number(old.Count)},
				counter.OutOfRangeError(w.Name, old.Count, w.By)), nil
		}
		values := life()
		values[":old"] = number(old.Count)
		return plan{
			change: update(n, condSameBoth, values),
			result: counter.Result{Counter: counter.Counter{Name: w.Name, Count: n, CreatedAt: old.CreatedAt, UpdatedAt: time.UnixMilli(now).UTC()}},
		}, nil
	case counter.OpDelete:
		if !exists {
			return check(condNotExists, createNames, nil, counter.NotFoundError(w.Name)), nil
		}
		return plan{change: types.TransactWriteItem{Delete: &types.Delete{
			TableName: s.table, Key: key(w.Name), ConditionExpression: condSameLife,
			ExpressionAttributeNames: lifeNames, ExpressionAttributeValues: life(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}}, nil
	}
	return plan{}, counter.Errorf(counter.InvalidRequest, "unknown write %s", w.Op)
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
	}
	return item
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
