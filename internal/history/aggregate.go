package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// Client is the part of *dynamodb.Client that the Aggregator uses, all on
// the stats table: UpdateItem adds to buckets; Query and BatchWriteItem
// find and delete a deleted counter's buckets.
type Client interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// Aggregator adds the increments recorded in the counter table's stream
// into hour and day buckets of the stats table, which
// dynamostore.Store.Stats reads. It is the handler of the aggregate Lambda
// function (fed by an event source mapping) and of the in-process stream
// poller of local runs.
//
// Each increment is counted in its buckets exactly once, however often and
// in whatever pieces its record is delivered: a bucket remembers, for each
// item of the counter table that adds to it, the sequence number of the
// last record it added from that item, and every addition is conditional
// on it. An item's records come in order; the records of different items
// (shards of one counter) need not. See docs/dynamodb.md.
type Aggregator struct {
	client Client
	table  *string
	log    *slog.Logger
}

// NewAggregator returns an Aggregator writing to the stats table; logger
// receives the causes of failed batches (nil discards them).
func NewAggregator(client Client, statsTable string, logger *slog.Logger) *Aggregator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Aggregator{client: client, table: aws.String(statsTable), log: logger}
}

// seqWidth is the width sequence numbers are padded to: DynamoDB Streams
// sequence numbers are 21 to 40 decimal digits.
const seqWidth = 40

// padSeq returns the sequence number zero-padded to seqWidth digits, so that
// comparing two as strings (as a DynamoDB condition does) compares them as
// numbers.
func padSeq(seq string) (string, error) {
	if seq == "" || len(seq) > seqWidth || strings.Trim(seq, "0123456789") != "" {
		return "", fmt.Errorf("sequence number %q is not 1 to %d decimal digits", seq, seqWidth)
	}
	return strings.Repeat("0", seqWidth-len(seq)) + seq, nil
}

// hit is one record's contribution to a bucket: hits or bots.
type hit struct {
	seq  string // padded
	by   int64
	bots int64
}

// bucket names a bucket of the stats table: a counter incarnation's hour
// or day.
type bucket struct {
	name    string
	created time.Time // the incarnation's creation time
	period  counter.Period
	start   time.Time
}

func (b bucket) String() string {
	return fmt.Sprintf("%s#%d %s %s", b.name, b.created.UnixMilli(), b.period, b.start.UTC().Format(time.RFC3339))
}

// bucketUpdate is what one batch adds to one bucket: its hits, by the item
// of the counter table they come from.
type bucketUpdate struct {
	bucket
	sources []*sourceHits
	// visitors are the visitors of the batch's hits in the bucket, for its
	// sketch (duplicates included: a sketch counts each once).
	visitors []counter.Visitor
	// firstSeq is the batch's original sequence number of the first record,
	// to report as the failed item.
	firstSeq string
}

// sourceHits are the hits one item of the counter table adds to a bucket,
// in stream order, and the bucket attribute of that item's last sequence
// number.
type sourceHits struct {
	attr string
	hits []hit
}

// add appends a hit from the item whose sequence-number attribute is attr.
func (u *bucketUpdate) add(attr string, h hit) {
	for _, s := range u.sources {
		if s.attr == attr {
			s.hits = append(s.hits, h)
			return
		}
	}
	u.sources = append(u.sources, &sourceHits{attr: attr, hits: []hit{h}})
}

// removal is a deleted counter incarnation whose buckets go.
type removal struct {
	name    string
	created time.Time
	seq     string // as in the batch
}

// badRecord is a counter record the aggregator cannot read.
type badRecord struct {
	seq string // as in the batch
	err error
}

// batchPlan is what one batch of stream records asks of the stats table.
type batchPlan struct {
	updates  []*bucketUpdate // in the order of their first record
	removals []removal
	bad      []badRecord
	// order maps a record's batch sequence number to its place in the
	// batch, to find the first failed one.
	order map[string]int
}

// bucketKey identifies a bucket within a batch.
type bucketKey struct {
	name           string
	created, start int64 // Unix milliseconds
	period         counter.Period
}

// planBatch reads a batch of stream records of the counter table: for each
// increment (a MODIFY of a counter item whose count changed and whose sets
// did not), its hits = NEW.count - OLD.count go into the hour and day buckets
// of NEW.updated_at, under the counter incarnation NEW.created_at; so do
// the create_hits of an INSERT, the creation of a counter by a hit, and
// the count of a region item's INSERT or of its MODIFY to a new epoch (its
// first increment of that epoch). Other INSERTs (creates, sets that
// create), sets, and items that are not counters (idempotency records, the
// health item) add nothing; a REMOVE of a counter asks for its
// incarnation's buckets to be deleted.
//
// With replica regions, each region's stream carries its own writes and
// the other regions' replicated puts of their region items (each a MODIFY
// or INSERT of the whole new image, whose change of count is the other
// region's increments): each region's aggregator counts every region's
// hits once, into its own regional stats table.
func planBatch(records []Record) batchPlan {
	p := batchPlan{order: make(map[string]int, len(records))}
	byKey := map[bucketKey]*bucketUpdate{}
	for i, r := range records {
		seq := r.SequenceNumber
		p.order[seq] = i
		var c change
		var ok bool
		var err error
		switch r.EventName {
		case "MODIFY":
			c, ok, err = increment(r)
		case "INSERT": // a create, a set that creates, or a hit that creates
			c, ok, err = createdByHit(r)
		case "REMOVE":
			old, ok, err := dynamostore.DecodeCounterImage(r.Keys, r.OldImage)
			if err != nil {
				p.bad = append(p.bad, badRecord{seq, fmt.Errorf("REMOVE: old image: %w", err)})
			} else if ok && old.Item == "" {
				// The counter's own item: its history goes. Its shards go
				// in the same transaction; their records add nothing more.
				p.removals = append(p.removals, removal{name: old.Name, created: old.CreatedAt, seq: seq})
			}
			continue
		default:
			continue
		}
		if err != nil {
			p.bad = append(p.bad, badRecord{seq, fmt.Errorf("%s: %w", r.EventName, err)})
			continue
		}
		if !ok || c.by == 0 && c.bots == 0 {
			continue // not a counter, a set, a create, or a write that left the count alone
		}
		padded, err := padSeq(seq)
		if err != nil {
			p.bad = append(p.bad, badRecord{seq, err})
			continue
		}
		attr := dynamostore.StatsLastSeq(c.item)
		for _, period := range []counter.Period{counter.Hour, counter.Day} {
			start := period.Start(c.at)
			k := bucketKey{name: c.name, created: c.created.UnixMilli(), start: start.UnixMilli(), period: period}
			u := byKey[k]
			if u == nil {
				u = &bucketUpdate{bucket: bucket{name: c.name, created: c.created, period: period, start: start}, firstSeq: seq}
				byKey[k] = u
				p.updates = append(p.updates, u)
			}
			u.add(attr, hit{seq: padded, by: c.by, bots: c.bots})
			if c.visitor != 0 {
				u.visitors = append(u.visitors, c.visitor)
			}
		}
	}
	for _, u := range p.updates {
		// Lambda and the poller deliver a shard's records in order; sort
		// anyway, the conditions below rely on it. An item's sequence
		// numbers rise; those of different items are not compared.
		for _, s := range u.sources {
			slices.SortStableFunc(s.hits, func(a, b hit) int { return cmp.Compare(a.seq, b.seq) })
		}
	}
	return p
}

// change is what a MODIFY of a counter item adds to its history.
type change struct {
	name    string
	created time.Time // the incarnation
	item    string    // the counter item (dynamostore.CounterImage.Item)
	by      int64     // the hits, 0 for a set
	bots    int64     // the bots (a bot changes nothing else)
	visitor counter.Visitor
	at      time.Time // when
}

// increment reads a MODIFY record: ok is false for an item that is not a
// counter; a set has no hits. An item made anew (madeAnew) adds what a new
// item does (createdHits); any other adds its change of count unless its
// sets changed, less its change of undone (a region item's increments
// taken back), and its change of bots.
func increment(r Record) (c change, ok bool, err error) {
	after, ok, err := dynamostore.DecodeCounterImage(r.Keys, r.NewImage)
	if err != nil {
		return change{}, true, fmt.Errorf("new image: %w", err)
	}
	if !ok {
		return change{}, false, nil
	}
	before, _, err := dynamostore.DecodeCounterImage(r.Keys, r.OldImage)
	if err != nil {
		return change{}, true, fmt.Errorf("old image: %w", err)
	}
	c = change{name: after.Name, created: after.CreatedAt, item: after.Item, at: after.UpdatedAt}
	switch {
	case after.Generation > 0 && after.Item == "":
		// A region counter's own item: a create's or a set's count, which
		// replication may replace by another region's create of the same
		// generation; its hits are on its region items.
	case madeAnew(before, after):
		c.by, c.bots = createdHits(after), after.Bots
	case before.Sets == after.Sets:
		c.by = after.Count - before.Count - (after.Undone - before.Undone)
		c.bots = after.Bots - before.Bots
		if after.Count == before.Count && after.Undone != before.Undone && !after.UndoneAt.IsZero() {
			c.at = after.UndoneAt // a take-back alone: from the hour of the write it undoes
		}
	default:
		c.bots = after.Bots - before.Bots
	}
	if c.by != 0 {
		c.visitor = after.Visitor // the increment's own: one without a visitor removes it
	}
	if c.bots != 0 && c.by == 0 {
		c.at = after.BotAt
	}
	return c, true, nil
}

// madeAnew reports whether a MODIFY replaced the item by a new one rather
// than changing it: another incarnation (another region's create, put
// over this region's by replication), or a region item of another epoch
// (replaced for a set's new epoch, or a create's after a delete: its
// count starts again from the new epoch's first increment, so NEW.count
// - OLD.count would subtract the old epoch's).
func madeAnew(before, after dynamostore.CounterImage) bool {
	return !before.CreatedAt.Equal(after.CreatedAt) || after.Region != "" && before.Epoch != after.Epoch
}

// createdHits is the hits a counter item adds when it is made: a region
// item's count (every write of a region item is an increment, the first
// included) less what it says was undone, else its create_hits (1 if a hit
// created the counter, 0 for any other create, and for shards).
func createdHits(img dynamostore.CounterImage) int64 {
	if img.Region != "" {
		return img.Count - img.Undone
	}
	return img.CreateHits
}

// createdByHit reads an INSERT record: ok is false for an item that is not
// a counter; a counter item's creation adds its createdHits (and a region
// item's bots), at its creation (a region item's: its last write).
func createdByHit(r Record) (c change, ok bool, err error) {
	img, ok, err := dynamostore.DecodeCounterImage(r.Keys, r.NewImage)
	if err != nil {
		return change{}, true, fmt.Errorf("new image: %w", err)
	}
	if !ok {
		return change{}, false, nil
	}
	c = change{name: img.Name, created: img.CreatedAt, item: img.Item, by: createdHits(img), at: img.CreatedAt}
	if img.Region != "" {
		c.at, c.bots = img.UpdatedAt, img.Bots
		if c.by == 0 && c.bots != 0 {
			c.at = img.BotAt
		}
	}
	if c.by != 0 {
		c.visitor = img.Visitor
	}
	return c, true, nil
}

// Handle adds one batch of the counter table's stream records to the
// buckets: one conditional UpdateItem per bucket touched, whatever the
// number of hits in it. It reports a failure in the BatchResult, naming
// the first record not known to be applied, so that Lambda (or the poller)
// delivers again from there; records already applied then add nothing. It
// returns an error only for a context that ended.
func (a *Aggregator) Handle(ctx context.Context, records []Record) (BatchResult, error) {
	p := planBatch(records)
	failed := -1 // place in the batch of the first failed record
	fail := func(seq string, err error) {
		if ctx.Err() != nil {
			// Stopped (a shutdown, Lambda's timeout): not a fault. The
			// records come again, and what was applied adds nothing twice.
			a.log.InfoContext(ctx, "stats aggregation interrupted", "seq", seq, "cause", context.Cause(ctx).Error())
		} else {
			a.log.ErrorContext(ctx, "stats aggregation failed", "seq", seq, "err", err)
		}
		if i, ok := p.order[seq]; ok && (failed < 0 || i < failed) {
			failed = i
		}
	}
	for _, b := range p.bad {
		fail(b.seq, b.err)
	}
	for _, u := range p.updates {
		if err := a.apply(ctx, u); err != nil {
			fail(u.firstSeq, fmt.Errorf("bucket %s: %w", u.bucket, err))
		}
	}
	// After the updates: a batch may increment a counter, then delete it.
	for _, r := range p.removals {
		if err := a.removeHistory(ctx, r.name, r.created); err != nil {
			fail(r.seq, fmt.Errorf("history of %s#%d: %w", r.name, r.created.UnixMilli(), err))
		}
	}
	if err := ctx.Err(); err != nil && failed >= 0 {
		return BatchResult{}, err
	}
	if failed < 0 {
		return BatchResult{}, nil
	}
	return BatchResult{FirstFailed: records[failed].SequenceNumber}, nil
}

// maxAggregates is the number of attempts at one bucket before the batch is
// failed: two suffice unless another consumer writes the bucket meanwhile.
const maxAggregates = 4

// apply adds the hits of u that the bucket has not seen yet, in one
// UpdateItem whatever the number of items they come from. The first
// attempt assumes none: for each source item it is conditional on the
// bucket's last sequence number from that item being below the item's
// first. If that fails, the bucket has seen some (a batch delivered again,
// whole or in part, maybe with new records after the old ones): the
// failure returns the bucket, and the next attempt adds, from each item,
// only the hits after its last sequence number, conditional on it being
// unchanged.
func (a *Aggregator) apply(ctx context.Context, u *bucketUpdate) error {
	key := dynamostore.StatsBucketKey(u.name, u.created, u.period, u.start)
	expires := number(dynamostore.StatsExpiry(u.period, u.start))
	after := make([]string, len(u.sources)) // per source, the bucket's last sequence number once known
	var uniques, version int64              // the bucket's visitors, at this sketch version (0: none to set)
	if len(u.visitors) > 0 {
		var err error
		if uniques, version, err = a.mergeVisitors(ctx, u); err != nil {
			return fmt.Errorf("visitors: %w", err)
		}
	}
	for range maxAggregates {
		names := map[string]string{"#h": dynamostore.StatsHits, "#exp": dynamostore.StatsExpiresAt}
		values := map[string]types.AttributeValue{":exp": expires}
		var sets, conds []string
		var sum counter.HitSum // exact, whatever the batch: the bucket keeps 38 digits
		var bots int64
		for i, src := range u.sources {
			hits := src.hits
			if after[i] != "" {
				n, _ := slices.BinarySearchFunc(hits, after[i], func(h hit, seq string) int {
					if h.seq <= seq {
						return -1
					}
					return 1
				})
				hits = hits[n:]
			}
			if len(hits) == 0 {
				continue // all applied before
			}
			for _, h := range hits {
				sum.Add(h.by)
				bots += h.bots
			}
			n := strconv.Itoa(i)
			names["#s"+n] = src.attr
			values[":l"+n] = &types.AttributeValueMemberS{Value: hits[len(hits)-1].seq}
			sets = append(sets, "#s"+n+" = :l"+n)
			if after[i] == "" {
				values[":f"+n] = &types.AttributeValueMemberS{Value: hits[0].seq}
				conds = append(conds, "(attribute_not_exists(#s"+n+") OR #s"+n+" < :f"+n+")")
			} else {
				values[":a"+n] = &types.AttributeValueMemberS{Value: after[i]}
				conds = append(conds, "#s"+n+" = :a"+n)
			}
		}
		if len(sets) == 0 {
			return nil
		}
		values[":sum"] = &types.AttributeValueMemberN{Value: sum.String()}
		adds := "ADD #h :sum"
		if bots != 0 {
			names["#b"] = dynamostore.StatsBots
			values[":bots"] = number(bots)
			adds += ", #b :bots"
		}
		if version > 0 {
			// The estimate of a newer sketch than the bucket's, if it has one.
			names["#q"], names["#qv"] = dynamostore.StatsUniques, dynamostore.StatsUniquesVersion
			values[":q"], values[":qv"] = number(uniques), number(version)
			sets = append(sets, "#q = :q", "#qv = :qv")
			conds = append(conds, "(attribute_not_exists(#qv) OR #qv < :qv)")
		}
		_, err := a.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           a.table,
			Key:                                 key,
			UpdateExpression:                    aws.String(adds + " SET #exp = :exp, " + strings.Join(sets, ", ")),
			ConditionExpression:                 aws.String(strings.Join(conds, " AND ")),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return err
		}
		for i, src := range u.sources {
			// None where the bucket went (its counter was deleted) between
			// attempts, or has nothing from that item: start it again.
			last, _ := ccf.Item[src.attr].(*types.AttributeValueMemberS)
			after[i] = ""
			if last != nil {
				after[i] = last.Value
			}
		}
		if qv, ok := ccf.Item[dynamostore.StatsUniquesVersion].(*types.AttributeValueMemberN); ok {
			if n, err := strconv.ParseInt(qv.Value, 10, 64); err == nil && n >= version {
				version = 0 // the bucket has this estimate or a newer one
			}
		}
	}
	return errors.New("the bucket kept changing under the aggregator")
}

// mergeVisitors adds the visitors of u to the sketch of its bucket: a
// strongly consistent read of the sketch item, the merge, and a write
// conditional on the version read (again if another aggregator wrote it
// meanwhile). A sketch counts a visitor once however often it is added, so
// a batch delivered again changes nothing; then, or when the batch's
// visitors were all in the sketch already, nothing is written. It returns
// the sketch's estimate and version.
func (a *Aggregator) mergeVisitors(ctx context.Context, u *bucketUpdate) (estimate, version int64, err error) {
	key := dynamostore.StatsSketchKey(u.name, u.created, u.period, u.start)
	for range maxAggregates {
		out, err := a.client.Query(ctx, dynamostore.StatsSketchQuery(*a.table, u.name, u.created, u.period, u.start))
		if err != nil {
			return 0, 0, err
		}
		sk := uniques.NewSketch(u.period)
		version = 0
		if len(out.Items) == 1 {
			item := out.Items[0]
			b, ok := item[dynamostore.StatsSketch].(*types.AttributeValueMemberB)
			v, vok := item[dynamostore.StatsSketchVersion].(*types.AttributeValueMemberN)
			if !ok || !vok {
				return 0, 0, errors.New("sketch item without a sketch or a version")
			}
			if sk, err = uniques.Decode(u.period, b.Value); err != nil {
				return 0, 0, err
			}
			if version, err = strconv.ParseInt(v.Value, 10, 64); err != nil {
				return 0, 0, err
			}
		}
		before := sk.Estimate()
		for _, v := range u.visitors {
			sk.Add(v)
		}
		estimate = sk.Estimate()
		if version > 0 && estimate == before {
			return estimate, version, nil // nothing new
		}
		enc, err := sk.Encode()
		if err != nil {
			return 0, 0, err
		}
		cond := "attribute_not_exists(#v)"
		values := map[string]types.AttributeValue{
			":s":   &types.AttributeValueMemberB{Value: enc},
			":nv":  number(version + 1),
			":exp": number(dynamostore.StatsSketchExpiry(u.period, u.start)),
		}
		if version > 0 {
			cond = "#v = :v"
			values[":v"] = number(version)
		}
		_, err = a.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 a.table,
			Key:                       key,
			UpdateExpression:          aws.String("SET #s = :s, #v = :nv, #exp = :exp"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  map[string]string{"#s": dynamostore.StatsSketch, "#v": dynamostore.StatsSketchVersion, "#exp": dynamostore.StatsExpiresAt},
			ExpressionAttributeValues: values,
		})
		if err == nil {
			return estimate, version + 1, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return 0, 0, err
		}
	}
	return 0, 0, errors.New("the sketch kept changing under the aggregator")
}

// removeHistory deletes every bucket of a counter incarnation: a Query of
// its keys, then BatchWriteItem deletes (25 a request).
func (a *Aggregator) removeHistory(ctx context.Context, name string, created time.Time) error {
	in := dynamostore.StatsHistoryQuery(*a.table, name, created)
	for {
		page, err := a.client.Query(ctx, in)
		if err != nil {
			return err
		}
		for chunk := range slices.Chunk(page.Items, 25) {
			reqs := make([]types.WriteRequest, len(chunk))
			for i, item := range chunk {
				reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: item}}
			}
			if err := a.batchWrite(ctx, reqs); err != nil {
				return err
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// batchWrite sends reqs with BatchWriteItem until none is left unprocessed,
// backing off between rounds.
func (a *Aggregator) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	backoff := 50 * time.Millisecond
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt == 8 {
			return fmt.Errorf("%d deletes still unprocessed after %d attempts", len(reqs), attempt)
		}
		out, err := a.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{*a.table: reqs},
		})
		if err != nil {
			return err
		}
		reqs = out.UnprocessedItems[*a.table]
		if len(reqs) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff): // DynamoDB asks for a backoff; there is no signal to await
		}
		backoff *= 2
	}
	return nil
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
