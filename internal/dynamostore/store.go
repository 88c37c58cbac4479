package dynamostore

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Client is the part of *dynamodb.Client that Store uses.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var (
	_ counter.Store = (*Store)(nil)
	_ Client        = (*dynamodb.Client)(nil)
)

// Attribute names and key prefixes; docs/dynamodb.md describes the schema.
const (
	attrPK        = "pk"         // S, partition key: counterPrefix + name
	attrName      = "name"       // S, the counter's name
	attrCount     = "count"      // N, 0..counter.MaxCount
	attrCreatedAt = "created_at" // N, Unix milliseconds UTC
	attrUpdatedAt = "updated_at" // N, Unix milliseconds UTC
	// attrSets counts the Set calls that changed the counter: a stream
	// record whose new image has another value is a set, not a hit
	// (internal/history). Increments leave it alone, so they stay one write
	// unit of the same size as before it existed.
	attrSets = "sets"
	// attrCreateHits, on a counter item a hit created (OpHit), is the
	// hits its creation counts: 1. The aggregator adds an INSERT's
	// create_hits to the buckets of its created_at, as it adds a MODIFY's
	// change of count; other creates have none. It is written only by that
	// PutItem, so the INSERT record is the one that carries it, and a
	// replayed record counts once, as any other (internal/history).
	attrCreateHits = "create_hits"

	// counterPrefix starts the key of every counter item. Other item kinds
	// (hot-counter shards, idempotency records) get other prefixes.
	counterPrefix = "c#"
	// pingKey is the key Ping reads: it never holds a counter.
	pingKey = "health#ping"
)

// Store is a counter.Store on one DynamoDB table. It is safe for concurrent
// use. Build it with New.
type Store struct {
	client     Client
	table      *string
	statsTable *string // WithStatsTable
	now        func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the time from now instead of the system clock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// DefaultStatsSuffix makes the name of a store's stats table from its
// counter table's, unless WithStatsTable names it.
const DefaultStatsSuffix = "-stats"

// New returns a Store on the table, using client (a *dynamodb.Client built
// once and shared).
func New(client Client, table string, opts ...Option) *Store {
	s := &Store{client: client, table: aws.String(table), statsTable: aws.String(table + DefaultStatsSuffix), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// timestamp returns the current time, UTC, in milliseconds.
func (s *Store) timestamp() int64 { return s.now().UnixMilli() }

// Expressions, attribute names and values shared read-only by every request.
var (
	condNotExists = aws.String("attribute_not_exists(#pk)")
	condExists    = aws.String("attribute_exists(#pk)")
	// A comparison with a missing attribute is false, so this also fails
	// when the counter does not exist.
	condIncrement   = aws.String("#c BETWEEN :lo AND :hi")
	updateIncrement = aws.String("SET #u = :now ADD #c :by")
	updateSet       = aws.String("SET #n = :name, #c = :count, #u = :now, #cr = if_not_exists(#cr, :now) ADD #sets :one")
	scanFilter      = aws.String("begins_with(#pk, :prefix)")
	scanNames       = map[string]string{"#pk": attrPK}
	incrementNames  = map[string]string{"#c": attrCount, "#u": attrUpdatedAt}
	createNames     = map[string]string{"#pk": attrPK}
	setNames        = map[string]string{"#n": attrName, "#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#sets": attrSets}
	prefixValue     = map[string]types.AttributeValue{":prefix": &types.AttributeValueMemberS{Value: counterPrefix}}
)

func key(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: counterPrefix + name}}
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Apply implements counter.Store. An unkeyed write is one request on the
// counter's item: create a conditional PutItem, set and increment one
// UpdateItem each, delete a conditional DeleteItem. A keyed write is a
// transaction with its idempotency record (applyKeyed). Nothing invalid
// reaches DynamoDB.
func (s *Store) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	if err := w.Validate(); err != nil {
		return counter.Result{}, wrap(w.Op.String(), w.Name, err)
	}
	if w.Keyed() {
		return s.applyKeyed(ctx, w)
	}
	switch w.Op {
	case counter.OpCreate:
		return s.create(ctx, w.Name, w.Count)
	case counter.OpSet:
		return s.set(ctx, w.Name, w.Count)
	case counter.OpIncrement:
		return s.increment(ctx, w.Name, w.By)
	case counter.OpHit:
		return s.hit(ctx, w.Name)
	default: // counter.OpDelete: Validate knows no other
		return counter.Result{}, s.delete(ctx, w.Name)
	}
}

// hit adds 1 to the counter, or creates it at 1, a hit, if it is missing:
// the increment; if the counter is missing, the create (with
// attrCreateHits, so that the aggregator counts it); if another write
// created it meanwhile, the increment again.
func (s *Store) hit(ctx context.Context, name string) (counter.Result, error) {
	res, err := s.increment(ctx, name, 1)
	if counter.ErrorCode(err) != counter.NotFound {
		return res, err
	}
	res, err = s.put(ctx, name, 1, true)
	if counter.ErrorCode(err) == counter.AlreadyExists {
		return s.increment(ctx, name, 1)
	}
	return res, err
}

// create makes the counter with one conditional PutItem.
func (s *Store) create(ctx context.Context, name string, count int64) (counter.Result, error) {
	return s.put(ctx, name, count, false)
}

// put makes the counter with count with one conditional PutItem; byHit
// marks the creation as a hit (attrCreateHits). A hit's PutItem runs with
// noAmbiguousRetry: hits that race to create a counter in the same
// millisecond would write the same item, so the item in the way cannot
// tell this call's own retried attempt from another hit's, and taking it
// for ours would lose a hit.
func (s *Store) put(ctx context.Context, name string, count int64, byHit bool) (counter.Result, error) {
	now := s.timestamp()
	item := map[string]types.AttributeValue{
		attrPK:        &types.AttributeValueMemberS{Value: counterPrefix + name},
		attrName:      &types.AttributeValueMemberS{Value: name},
		attrCount:     number(count),
		attrCreatedAt: number(now),
		attrUpdatedAt: number(now),
	}
	var retry []func(*dynamodb.Options)
	if byHit {
		item[attrCreateHits] = number(count)
		retry = append(retry, noAmbiguousRetry)
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           s.table,
		Item:                                item,
		ConditionExpression:                 condNotExists,
		ExpressionAttributeNames:            createNames,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, retry...)
	t := time.UnixMilli(now).UTC()
	created := counter.Counter{Name: name, Count: count, CreatedAt: t, UpdatedAt: t}
	if err != nil {
		if ccf := conditionFailed(err); ccf != nil {
			// The SDK may have retried a PutItem whose first attempt was
			// applied but not acknowledged: then the item in the way is
			// exactly the one this call wrote, and the create succeeded.
			if old, derr := decode(ccf.Item); !byHit && derr == nil && old.Count == count && old.CreatedAt.Equal(t) && old.UpdatedAt.Equal(t) {
				return counter.Result{Counter: created, Created: true}, nil
			}
			return counter.Result{}, wrap("create", name, counter.AlreadyExistsError(name))
		}
		return counter.Result{}, wrap("create", name, translate(err))
	}
	return counter.Result{Counter: created, Created: true}, nil
}

// Get implements counter.Store with one strongly consistent GetItem.
func (s *Store) Get(ctx context.Context, name string) (counter.Counter, error) {
	if err := counter.ValidateName(name); err != nil {
		return counter.Counter{}, wrap("get", name, err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      s.table,
		Key:            key(name),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return counter.Counter{}, wrap("get", name, translate(err))
	}
	if len(out.Item) == 0 {
		return counter.Counter{}, wrap("get", name, counter.NotFoundError(name))
	}
	c, err := decode(out.Item)
	if err != nil {
		return counter.Counter{}, wrap("get", name, err)
	}
	return c, nil
}

// increment adds by (valid: nothing below overflows) with one UpdateItem
// under the condition that the counter exists and the result stays in
// 0..counter.MaxCount. It runs with a retryer that never resends a request
// DynamoDB may have applied (see NoAmbiguousRetry).
func (s *Store) increment(ctx context.Context, name string, by int64) (counter.Result, error) {
	// The count before the change must lie in lo..hi for the result to lie
	// in 0..MaxCount.
	lo, hi := max(0, -by), min(counter.MaxCount, counter.MaxCount-by)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                s.table,
		Key:                      key(name),
		UpdateExpression:         updateIncrement,
		ConditionExpression:      condIncrement,
		ExpressionAttributeNames: incrementNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":by":  number(by),
			":lo":  number(lo),
			":hi":  number(hi),
			":now": number(s.timestamp()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, noAmbiguousRetry)
	if err != nil {
		if ccf := conditionFailed(err); ccf != nil {
			if len(ccf.Item) == 0 {
				return counter.Result{}, wrap("increment", name, counter.NotFoundError(name))
			}
			old, derr := decode(ccf.Item)
			if derr != nil {
				return counter.Result{}, wrap("increment", name, derr)
			}
			return counter.Result{}, wrap("increment", name, counter.OutOfRangeError(name, old.Count, by))
		}
		return counter.Result{}, wrap("increment", name, translate(err))
	}
	c, err := decode(out.Attributes)
	if err != nil {
		return counter.Result{}, wrap("increment", name, err)
	}
	return counter.Result{Counter: c}, nil
}

// set sets the count with one UpdateItem that keeps created_at if the
// counter exists; the old item it returns tells whether it did.
func (s *Store) set(ctx context.Context, name string, count int64) (counter.Result, error) {
	now := s.timestamp()
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                s.table,
		Key:                      key(name),
		UpdateExpression:         updateSet,
		ExpressionAttributeNames: setNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":name":  &types.AttributeValueMemberS{Value: name},
			":count": number(count),
			":now":   number(now),
			":one":   number(1),
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return counter.Result{}, wrap("set", name, translate(err))
	}
	t := time.UnixMilli(now).UTC()
	c := counter.Counter{Name: name, Count: count, CreatedAt: t, UpdatedAt: t}
	if len(out.Attributes) == 0 {
		return counter.Result{Counter: c, Created: true}, nil
	}
	old, err := decode(out.Attributes)
	if err != nil {
		return counter.Result{}, wrap("set", name, err)
	}
	c.CreatedAt = old.CreatedAt
	return counter.Result{Counter: c}, nil
}

// delete removes the counter with one conditional DeleteItem.
func (s *Store) delete(ctx context.Context, name string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                s.table,
		Key:                      key(name),
		ConditionExpression:      condExists,
		ExpressionAttributeNames: createNames,
	})
	if err != nil {
		if conditionFailed(err) != nil {
			return wrap("delete", name, counter.NotFoundError(name))
		}
		return wrap("delete", name, translate(err))
	}
	return nil
}

// List implements counter.Store with one strongly consistent Scan page.
// Counters come in DynamoDB's hash order. Items that are not counters are
// filtered out, so a page may hold fewer than Limit counters and still have
// a NextCursor.
func (s *Store) List(ctx context.Context, opts counter.ListOptions) (counter.Page, error) {
	start, err := decodeCursor(opts.Cursor)
	if err != nil {
		return counter.Page{}, wrap("list", "", err)
	}
	limit := opts.Limit
	if limit <= 0 || limit > counter.MaxListLimit {
		limit = counter.DefaultListLimit
	}
	out, err := s.client.Scan(ctx, &dynamodb.ScanInput{
		TableName:                 s.table,
		Limit:                     aws.Int32(int32(limit)),
		ExclusiveStartKey:         start,
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          scanFilter,
		ExpressionAttributeNames:  scanNames,
		ExpressionAttributeValues: prefixValue,
	})
	if err != nil {
		return counter.Page{}, wrap("list", "", translate(err))
	}
	page := counter.Page{Counters: make([]counter.Counter, 0, len(out.Items))}
	for _, item := range out.Items {
		c, err := decode(item)
		if err != nil {
			return counter.Page{}, wrap("list", "", err)
		}
		page.Counters = append(page.Counters, c)
	}
	if len(out.LastEvaluatedKey) > 0 {
		if page.NextCursor, err = encodeCursor(out.LastEvaluatedKey); err != nil {
			return counter.Page{}, wrap("list", "", err)
		}
	}
	return page, nil
}

// Ping implements counter.Store with one GetItem of a key that never holds a
// counter: it needs no permission beyond what Get needs.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table,
		Key:       map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: pingKey}},
	})
	if err != nil {
		return wrap("ping", "", counter.UnavailableError(err))
	}
	return nil
}
