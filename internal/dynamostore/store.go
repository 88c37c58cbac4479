package dynamostore

import (
	"context"
	"encoding/binary"
	"log/slog"
	"maps"
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
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error)
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

	// attrVisitor, on a counter's item, is the visitor (counter.Visitor,
	// 8 bytes big-endian) of the increment or hit that wrote the item last,
	// absent if it had none: the stream record of the write carries it to
	// the aggregator, which counts it in the bucket's sketch. An increment
	// without a visitor removes it, so that no record shows another's.
	attrVisitor = "v"
	// attrBots and attrBotAt, on a counter's own item, count the crawlers'
	// requests (counter.OpBot) and say when the last came: each is an ADD
	// that the aggregator reads from the stream as hits.
	attrBots  = "bots"
	attrBotAt = "bot_at"

	// counterPrefix starts the key of every item of a counter: its own
	// and its shards' (layout.go). Other item kinds (idempotency records)
	// get other prefixes.
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
	log        *slog.Logger // WithLogger
	maxShards  int          // WithMaxShards
	hot        hotCounters
	growths    growths
	// region serves this store's increments, one of regions, every
	// replica region (WithRegions); "" and nil on one region.
	region  string
	regions []string
	epochs  epochs
	// replicas reads the other replica regions' tables, by region
	// (WithReplicaClients): where a keyed write looks for its record
	// before it applies (recordElsewhere).
	replicas map[string]Client
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the time from now instead of the system clock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// WithLogger makes the store log when a counter's shard count changes (a
// warning when it grows on its own, the line template.yaml's metric filter
// counts); without it, nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// WithMaxShards sets the most shards a counter gains on its own when its
// writes are throttled, 1 (never: a throttled increment is Unavailable, as
// before shards existed) to counter.MaxShards, the default. A create or
// set may still ask for up to counter.MaxShards.
func WithMaxShards(n int) Option {
	return func(s *Store) { s.maxShards = min(max(n, 1), counter.MaxShards) }
}

// DefaultStatsSuffix makes the name of a store's stats table from its
// counter table's, unless WithStatsTable names it.
const DefaultStatsSuffix = "-stats"

// New returns a Store on the table, using client (a *dynamodb.Client built
// once and shared).
func New(client Client, table string, opts ...Option) *Store {
	s := &Store{client: client, table: aws.String(table), statsTable: aws.String(table + DefaultStatsSuffix), now: time.Now,
		log: slog.New(slog.DiscardHandler), maxShards: counter.MaxShards}
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
	condIncrement = aws.String("#c BETWEEN :lo AND :hi")
	// An increment's update with the visitor who made it, or without one
	// (attrVisitor): #v names it.
	updateIncrementVisitor   = aws.String("SET #u = :now, #v = :v ADD #c :by")
	updateIncrementNoVisitor = aws.String("SET #u = :now ADD #c :by REMOVE #v")
	updateSet                = aws.String("SET #n = :name, #c = :count, #u = :now, #cr = if_not_exists(#cr, :now) ADD #sets :one")
	incrementNames           = map[string]string{"#c": attrCount, "#u": attrUpdatedAt}
	createNames              = map[string]string{"#pk": attrPK}
	setNames                 = map[string]string{"#n": attrName, "#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#sets": attrSets, "#s": attrShards}
)

func key(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: counterPrefix + name}}
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Apply implements counter.Store. An unkeyed write of a counter kept in
// one item is one request on that item, as before shards existed: create a
// conditional PutItem, set and increment one UpdateItem each, delete a
// conditional DeleteItem. An increment of a sharded counter is one
// UpdateItem on one of its items (increment). A write that a sharded
// counter's other items must take part in (a set or delete of it, a create
// or set with shards, an increment no single item can take) is one
// transaction over them (applyPlanned). A keyed write is a transaction
// with its idempotency record (applyKeyed). Nothing invalid reaches
// DynamoDB.
func (s *Store) Apply(ctx context.Context, w counter.Write) (counter.Result, error) {
	if err := w.Validate(); err != nil {
		return counter.Result{}, wrap(w.Op.String(), w.Name, err)
	}
	if w.Keyed() {
		return s.applyKeyed(ctx, w)
	}
	switch {
	case w.Op == counter.OpIncrement:
		return s.increment(ctx, w.Name, w.By, w.Visitor)
	case w.Op == counter.OpHit:
		return s.hit(ctx, w.Name, w.Visitor)
	case w.Op == counter.OpBot && s.region != "":
		return s.regionBot(ctx, w.Name)
	case w.Op == counter.OpBot:
		return s.bot(ctx, w.Name)
	case w.Op == counter.OpSet && s.region != "":
		return s.regionSet(ctx, w.Name, w.Count, w.Shards)
	case w.Op == counter.OpCreate && s.region != "":
		return s.regionCreate(ctx, w.Name, w.Count, w.Shards)
	case w.Op == counter.OpDelete && s.region != "":
		return counter.Result{}, s.regionDelete(ctx, w)
	case w.Shards > 1:
		return s.applyPlanned(ctx, w)
	case w.Op == counter.OpCreate:
		return s.create(ctx, w.Name, w.Count)
	case w.Op == counter.OpSet:
		return s.set(ctx, w)
	default: // counter.OpDelete: Validate knows no other
		return counter.Result{}, s.delete(ctx, w)
	}
}

// hit adds 1 to the counter, or creates it at 1, a hit, if it is missing:
// the increment; if the counter is missing, the create (with
// attrCreateHits, so that the aggregator counts it); if another write
// created it meanwhile, the increment again. With replica regions, the
// hit is regionHit's (generation.go).
func (s *Store) hit(ctx context.Context, name string, v counter.Visitor) (counter.Result, error) {
	if s.region != "" {
		return s.regionHit(ctx, name, v)
	}
	res, err := s.increment(ctx, name, 1, v)
	if counter.ErrorCode(err) != counter.NotFound {
		return res, err
	}
	res, err = s.put(ctx, name, 1, true, v)
	if counter.ErrorCode(err) == counter.AlreadyExists {
		return s.increment(ctx, name, 1, v)
	}
	return res, err
}

// create makes the counter with one conditional PutItem.
func (s *Store) create(ctx context.Context, name string, count int64) (counter.Result, error) {
	return s.put(ctx, name, count, false, 0)
}

// put makes the counter with count with one conditional PutItem; byHit
// marks the creation as a hit (attrCreateHits). A hit's PutItem runs with
// NoAmbiguousRetry: hits that race to create a counter in the same
// millisecond would write the same item, so the item in the way cannot
// tell this call's own retried attempt from another hit's, and taking it
// for ours would lose a hit.
func (s *Store) put(ctx context.Context, name string, count int64, byHit bool, v counter.Visitor) (counter.Result, error) {
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
		retry = append(retry, NoAmbiguousRetry)
		if v != 0 {
			item[attrVisitor] = visitorValue(v)
		}
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
			if old, derr := decode(ccf.Item); !byHit && derr == nil && old.Count == count && old.CreatedAt.Equal(t) && old.UpdatedAt.Equal(t) && old.Shards == 0 {
				return counter.Result{Counter: created, Created: true}, nil
			}
			return counter.Result{}, wrap("create", name, counter.AlreadyExistsError(name))
		}
		return counter.Result{}, wrap("create", name, translate(err))
	}
	s.hot.forget(name)
	return counter.Result{Counter: created, Created: true}, nil
}

// Get implements counter.Store. A counter this process does not know as
// sharded is one strongly consistent GetItem of its own item, whose count
// is the counter's unless the item says it has shards; then, and for a
// counter this process knows as sharded (from the start), one
// TransactGetItems of its items (snapshot), which sums them as they were
// at one instant.
func (s *Store) Get(ctx context.Context, name string) (counter.Counter, error) {
	if err := counter.ValidateName(name); err != nil {
		return counter.Counter{}, wrap("get", name, err)
	}
	if s.region != "" {
		c, err := s.regionRead(ctx, name)
		if err != nil {
			return counter.Counter{}, wrap("get", name, err)
		}
		return c, nil
	}
	h := s.hot.get(name)
	n, _ := h.shardsOrZero()
	if h == nil {
		item, err := s.read(ctx, name)
		if err != nil {
			return counter.Counter{}, wrap("get", name, err)
		}
		if len(item) == 0 {
			return counter.Counter{}, wrap("get", name, counter.NotFoundError(name))
		}
		it, err := decodeItem(item)
		if err != nil {
			return counter.Counter{}, wrap("get", name, err)
		}
		if it.shards == 1 {
			c, err := decode(item)
			if err != nil {
				return counter.Counter{}, wrap("get", name, err)
			}
			return c, nil
		}
		n = it.shards
	}
	snap, err := s.snapshot(ctx, name, n)
	if err != nil {
		if counter.ErrorCode(err) == counter.NotFound {
			s.hot.forget(name)
		}
		return counter.Counter{}, wrap("get", name, err)
	}
	s.hot.learn(name, snap)
	return snap.counter(), nil
}

// Expressions of a set and a delete of a counter in one item.
var (
	condSetOne    = aws.String("attribute_not_exists(#s)")
	condDeleteOne = aws.String("attribute_exists(#pk) AND attribute_not_exists(#s)")
	deleteNames   = map[string]string{"#pk": attrPK, "#s": attrShards}
)

// set sets the count of a counter kept in one item (or creates it) with
// one UpdateItem that keeps created_at if the counter exists; the old item
// it returns tells whether it did. A sharded counter fails its condition,
// and is set across its items (applyPlanned).
func (s *Store) set(ctx context.Context, w counter.Write) (counter.Result, error) {
	name, count := w.Name, w.Count
	now := s.timestamp()
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                s.table,
		Key:                      key(name),
		UpdateExpression:         updateSet,
		ConditionExpression:      condSetOne,
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
		if conditionFailed(err) != nil {
			return s.applyPlanned(ctx, w)
		}
		return counter.Result{}, wrap("set", name, translate(err))
	}
	s.hot.forget(name)
	return setResult(name, count, now, out.Attributes)
}

// delete removes a counter kept in one item with one conditional
// DeleteItem; a sharded counter fails its condition, and is deleted with
// its items (applyPlanned).
func (s *Store) delete(ctx context.Context, w counter.Write) error {
	name := w.Name
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           s.table,
		Key:                                 key(name),
		ConditionExpression:                 condDeleteOne,
		ExpressionAttributeNames:            deleteNames,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	s.hot.forget(name)
	if err != nil {
		if ccf := conditionFailed(err); ccf != nil {
			if len(ccf.Item) == 0 {
				return wrap("delete", name, counter.NotFoundError(name))
			}
			_, err := s.applyPlanned(ctx, w)
			return err
		}
		return wrap("delete", name, translate(err))
	}
	return nil
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

// bot counts a crawler's request in the counter's own item (one
// UpdateItem, ADD bots, which the aggregator reads from the stream) and
// answers the counter: the item's count, or for a sharded counter the sum
// Get reads.
func (s *Store) bot(ctx context.Context, name string) (counter.Result, error) {
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       key(name),
		UpdateExpression:          aws.String("SET #at = :now ADD #b :one"),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  map[string]string{"#at": attrBotAt, "#b": attrBots, "#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": number(s.timestamp()), ":one": number(1)},
		ReturnValues:              types.ReturnValueAllNew,
	}, NoAmbiguousRetry) // a bot counted twice would not matter; a bot retried forever would
	if err != nil {
		if conditionFailed(err) != nil {
			return counter.Result{}, wrap("bot", name, counter.NotFoundError(name))
		}
		return counter.Result{}, wrap("bot", name, translate(err))
	}
	it, err := decodeItem(out.Attributes)
	if err != nil {
		return counter.Result{}, wrap("bot", name, err)
	}
	if it.shards > 1 {
		c, err := s.Get(ctx, name)
		return counter.Result{Counter: c}, err
	}
	return counter.Result{Counter: counterOf(it, it.count, it.updated)}, nil
}

// visitorValue is the attribute value of a visitor: 8 bytes, big-endian.
func visitorValue(v counter.Visitor) types.AttributeValue {
	return &types.AttributeValueMemberB{Value: binary.BigEndian.AppendUint64(nil, uint64(v))}
}

// visited returns the update of a write that changes an item's count, and
// its names and values, with the visitor who made it: withVisitor (which
// sets #v = :v) if v is known, else without (which removes #v). Every
// update that adds hits goes through it: the stream carries an item's
// visitor to the aggregator with the change of its count, so an item
// changed without one must not keep the previous write's. names and values
// are copied, not changed (names may be shared); the visitor's 12 bytes at
// most (attrVisitor, 8 bytes) keep a counter's item far below 1 KB, so the
// write costs what it cost without.
func visited(withVisitor, without *string, names map[string]string, values map[string]types.AttributeValue, v counter.Visitor) (*string, map[string]string, map[string]types.AttributeValue) {
	names = maps.Clone(names)
	names["#v"] = attrVisitor
	if v == 0 {
		return without, names, values
	}
	values = maps.Clone(values)
	values[":v"] = visitorValue(v)
	return withVisitor, names, values
}

// setResult is a set's answer from the item the write replaced (its
// ALL_OLD attributes): created when there was none, else the old creation
// time kept.
func setResult(name string, count, now int64, old map[string]types.AttributeValue) (counter.Result, error) {
	t := time.UnixMilli(now).UTC()
	c := counter.Counter{Name: name, Count: count, CreatedAt: t, UpdatedAt: t}
	if len(old) == 0 {
		return counter.Result{Counter: c, Created: true}, nil
	}
	prev, err := decode(old)
	if err != nil {
		return counter.Result{}, wrap("set", name, err)
	}
	c.CreatedAt = prev.CreatedAt
	return counter.Result{Counter: c}, nil
}
