package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// The stats table holds one item per counter incarnation and bucket with
// hits; docs/dynamodb.md describes it. Store.Stats reads it and
// internal/history's Aggregator writes it, with the pieces exported below
// (StatsBucketKey, StatsExpiry, StatsHits, StatsExpiresAt, StatsLastSeq,
// StatsHistoryQuery): its layout is defined here only. Its key is (pk, sk):
//
//	pk  S  <name>#<created_at>: the counter's name and creation time in Unix
//	       milliseconds, so a counter created again under the same name
//	       starts with no history, at once
//	sk  S  h#2026-11-27T05 (an hour) or d#2026-11-27 (a day), UTC
const (
	attrStatsSK = "sk"
	attrHits    = "hits" // N, the sum of the bucket's increments
	// attrExpiresAt (idempotency.go), N, Unix seconds, is the stats table's
	// TTL attribute too.
	// attrLastSeq is the stream sequence number of the last record added
	// to the bucket from the counter's item, zero-padded to 40 digits by
	// the aggregator so that string order is numeric order. A counter kept
	// in several items (c#<name> followed by a suffix: shards) has one per
	// item, attrLastSeq followed by that suffix (StatsLastSeq).
	attrLastSeq = "last_seq"

	hourLayout = "2006-01-02T15"
	dayLayout  = "2006-01-02"
)

// The bucket attributes the aggregator sets besides the key.
const (
	// StatsHits is the attribute (N) that sums a bucket's hits.
	StatsHits = attrHits
	// StatsBots is the attribute (N) that sums a bucket's bots.
	StatsBots = "bots"
	// StatsUniques is the attribute (N) of a bucket's unique visitors: the
	// estimate of its sketch (StatsSketchKey) at version
	// StatsUniquesVersion (N), which only grows, so that an older estimate
	// never replaces a newer one.
	StatsUniques        = "uniques"
	StatsUniquesVersion = "uniques_v"
	// StatsSketch (B, uniques.Sketch's encoding) and StatsSketchVersion
	// (N, one more at each write: the condition of the next) are the
	// attributes of a bucket's sketch item.
	StatsSketch        = "sketch"
	StatsSketchVersion = "sketch_v"
	// StatsExpiresAt is the attribute (N, Unix seconds; see StatsExpiry)
	// that the stats table's TTL reads.
	StatsExpiresAt = attrExpiresAt
)

// StatsLastSeq returns the bucket attribute (S) that holds the sequence
// number of the last stream record added to the bucket from the counter
// item whose key ends in item (CounterImage.Item): one per item, since the
// sequence numbers of different items are not comparable.
func StatsLastSeq(item string) string { return attrLastSeq + item }

// StatsBucketKey returns the key in the stats table of the bucket of period
// p starting at start, of the counter incarnation (name, createdAt).
func StatsBucketKey(name string, createdAt time.Time, p counter.Period, start time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK:      &types.AttributeValueMemberS{Value: statsPK(name, createdAt.UnixMilli())},
		attrStatsSK: &types.AttributeValueMemberS{Value: statsSK(p, start)},
	}
}

// StatsSketchKey returns the key in the stats table of the sketch of the
// visitors of a bucket (StatsBucketKey's arguments): an item of its own,
// beside the bucket's, so that reading hits never reads sketches (a dense
// one is 16 KiB), and its sort key is outside every range of buckets that
// Stats reads: u + the bucket's sort key.
func StatsSketchKey(name string, createdAt time.Time, p counter.Period, start time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK:      &types.AttributeValueMemberS{Value: statsPK(name, createdAt.UnixMilli())},
		attrStatsSK: &types.AttributeValueMemberS{Value: "u" + statsSK(p, start)},
	}
}

// StatsSketchQuery returns a strongly consistent Query of the stats table
// for the sketch item of a bucket (the aggregate function may Query the
// stats table, not GetItem from it).
func StatsSketchQuery(table, name string, createdAt time.Time, p counter.Period, start time.Time) *dynamodb.QueryInput {
	k := StatsSketchKey(name, createdAt, p, start)
	return &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk = :sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrStatsSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": k[attrPK], ":sk": k[attrStatsSK]},
		ConsistentRead:            aws.Bool(true),
	}
}

// StatsSketchExpiry returns when the sketch of the bucket of period p
// starting at start may expire, in Unix seconds: two days after the
// bucket's end, past which no stream record can still add to it (a
// stream keeps records 24 hours; the bucket keeps its estimate).
func StatsSketchExpiry(p counter.Period, start time.Time) int64 {
	return start.Add(p.Duration() + 48*time.Hour).Unix()
}

// StatsHistoryQuery returns a Query of the stats table for the keys of
// every bucket of the counter incarnation (name, createdAt): its history.
func StatsHistoryQuery(table, name string, createdAt time.Time) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ProjectionExpression:      aws.String("#pk, #sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrStatsSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: statsPK(name, createdAt.UnixMilli())}},
	}
}

// WithStatsTable names the table of hits over time (see CreateStatsTable)
// that Stats reads and internal/history's Aggregator writes; without it,
// it is the counter table's name followed by DefaultStatsSuffix.
func WithStatsTable(table string) Option {
	return func(s *Store) {
		if table != "" {
			s.statsTable = aws.String(table)
		}
	}
}

// statsPK returns the partition key of a counter incarnation's buckets.
func statsPK(name string, createdAtMillis int64) string {
	return name + "#" + strconv.FormatInt(createdAtMillis, 10)
}

// statsSK returns the sort key of the bucket of period p starting at start.
func statsSK(p counter.Period, start time.Time) string {
	if p == counter.Hour {
		return "h#" + start.UTC().Format(hourLayout)
	}
	return "d#" + start.UTC().Format(dayLayout)
}

// parseStatsSK returns the start of the bucket sk names.
func parseStatsSK(sk string) (time.Time, error) {
	if rest, ok := strings.CutPrefix(sk, "h#"); ok {
		return time.Parse(hourLayout, rest)
	}
	if rest, ok := strings.CutPrefix(sk, "d#"); ok {
		return time.Parse(dayLayout, rest)
	}
	return time.Time{}, fmt.Errorf("stats item: bad sort key %q", sk)
}

// StatsExpiry returns when the bucket of period p starting at start may
// expire, in Unix seconds: its retention after its end.
func StatsExpiry(p counter.Period, start time.Time) int64 {
	return start.Add(p.Duration() + p.Retention()).Unix()
}

var (
	statsKeyCondition  = aws.String("#pk = :pk AND #sk BETWEEN :from AND :to")
	statsQueryNames    = map[string]string{"#pk": attrPK, "#sk": attrStatsSK, "#h": attrHits, "#q": StatsUniques, "#b": StatsBots}
	statsProjection    = aws.String("#sk, #h, #q, #b")
	incarnationProject = aws.String("#cr, #g")
	incarnationNames   = map[string]string{"#cr": attrCreatedAt, "#g": attrGen}
)

// Stats implements counter.Store with one strongly consistent GetItem
// of the counter (it must exist; its creation time names its history) and
// one Query of its buckets in the stats table: the read does not grow with
// the number of hits. The buckets follow the increments through the
// table's stream (see internal/history), within seconds.
func (s *Store) Stats(ctx context.Context, name string, q counter.StatsQuery) ([]counter.Point, error) {
	q, err := q.Resolve(s.now())
	if err != nil {
		return nil, wrap("stats", name, err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                s.table,
		Key:                      key(name),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     incarnationProject,
		ExpressionAttributeNames: incarnationNames,
	})
	if err != nil {
		return nil, wrap("stats", name, translate(err))
	}
	if len(out.Item) == 0 {
		return nil, wrap("stats", name, counter.NotFoundError(name))
	}
	created, err := incarnation(out.Item)
	if err != nil {
		return nil, wrap("stats", name, err)
	}
	hits := make(map[int64]counter.Point)
	in := &dynamodb.QueryInput{
		TableName:                s.statsTable,
		KeyConditionExpression:   statsKeyCondition,
		ProjectionExpression:     statsProjection,
		ExpressionAttributeNames: statsQueryNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   &types.AttributeValueMemberS{Value: statsPK(name, created)},
			":from": &types.AttributeValueMemberS{Value: statsSK(q.Period, q.From)},
			":to":   &types.AttributeValueMemberS{Value: statsSK(q.Period, q.To)},
		},
		ConsistentRead: aws.Bool(true),
	}
	// 1,000 buckets of about 40 bytes fit one page (1 MB); the loop only
	// keeps the answer right if an item ever grew.
	for {
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, wrap("stats", name, translate(err))
		}
		for _, item := range page.Items {
			sk, _ := item[attrStatsSK].(*types.AttributeValueMemberS)
			if sk == nil {
				return nil, wrap("stats", name, errors.New("stats item without a sort key"))
			}
			start, err := parseStatsSK(sk.Value)
			if err != nil {
				return nil, wrap("stats", name, err)
			}
			n, err := decodeHits(item)
			if err != nil {
				return nil, wrap("stats", name, err)
			}
			p := counter.Point{Hits: n}
			if p.Uniques, err = optionalInt(item, StatsUniques); err != nil {
				return nil, wrap("stats", name, err)
			}
			if p.Bots, err = optionalInt(item, StatsBots); err != nil {
				return nil, wrap("stats", name, err)
			}
			hits[start.Unix()] = p
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return q.Densify(hits), nil
}

// decodeHits reads a bucket's hits: the exact sum the aggregator ADDs,
// which a DynamoDB number (38 digits) lets pass the int64 bounds. It is
// saturated there, as counter.HitSum saturates the memory store's, so a
// bucket never fails a query. DynamoDB gives a whole number back in plain
// digits, even one written as 1E+30 (TestStatsSaturates).
func decodeHits(item map[string]types.AttributeValue) (int64, error) {
	v, ok := item[attrHits].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("stats item has no number %q", attrHits)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range, ParseInt saturates
		return 0, fmt.Errorf("stats item attribute %q: %w", attrHits, err)
	}
	return n, nil
}

// CreateStatsTable creates the stats table (partition key pk and sort key
// sk, strings; on-demand capacity; TTL on expires_at, which DynamoDB Local
// applies within seconds: data dated in the past vanishes) unless it exists, and waits until it is
// active. Like CreateTable, it is meant for tests and local development.
func CreateStatsTable(ctx context.Context, client TableClient, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrStatsSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrStatsSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamodb: create table %q: %w", table, err)
	}
	if _, err := waitActive(ctx, client, table); err != nil {
		return err
	}
	return enableTTL(ctx, client, table)
}
