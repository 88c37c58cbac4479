package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"math/rand/v2"
	"regexp"
	"slices"
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
//	                   created_at, epoch (what it counts for), updated_at,
//	                   and shards (N, 2..MaxShards) once the region spreads
//	                   the counter's increments over N items; no name, so
//	                   the listing index holds counters only
//	c#<name>#@<region>#<k>
//	                   the region's item k, 1 <= k < N, of a hot counter:
//	                   count, created_at, epoch, updated_at
//
// No item is ever written by two regions' increments, so replication,
// which copies whole items, loses none. A read gets the counter's own item
// and every region's (BatchGetItem, one round trip, strongly consistent in
// the local replica; a second one for a region whose shards it did not
// know) and sums those of the own item's epoch: a region item left by an
// epoch that a set or delete ended counts for nothing.
//
// A region's shards are its own, as its items are: when its item of a
// counter is throttled, the region gives the counter more items of its own
// (regionGrow), which the other regions learn from the region's first
// item when it replicates. A create or set with shards asks each region
// for at least that many (attrRegionShards on the counter's own item).
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

// regionKey is the key of region r's first item of the counter name.
func regionKey(name, r string) map[string]types.AttributeValue {
	return regionItemKey(name, r, 0)
}

// regionItemKey is the key of region r's item k of the counter name.
func regionItemKey(name, r string, k int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: regionItemPK(name, r, k)}}
}

func regionItemPK(name, r string, k int) string {
	pk := counterPrefix + name + regionInfix + r
	if k > 0 {
		pk += "#" + strconv.Itoa(k)
	}
	return pk
}

// attrRegionShards, on the counter's own item, is the shard count a create
// or set asked for with replica regions: each region spreads its
// increments over at least that many items of its own.
const attrRegionShards = "region_shards"

// attrEpoch is a region item's epoch, and the counter's own item's: "g"
// and its generation as created (generation.go), or a string unique to the
// set that started it. An own item without one (created before
// generations) has the epoch "c" and its created_at. A region item counts
// only for the epoch it holds, and only for the incarnation its created_at
// names (incarnation).
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
// it, and how many items each region spreads the counter over, so that a
// read asks for them all in one round trip.
type epochs struct {
	mu     sync.Mutex
	m      map[string]epoch
	spread map[string][]int      // by counter: each region's items (s.regions' order)
	seen   map[string]regionSeen // by sharded counter: its items' counts as last read
}

// epoch is a counter's epoch and its incarnation (created), the
// items the serving region spreads its increments over (n; 0: not known
// yet, and the first increment goes to the region's first item), and the
// shards a create or set asked for (want).
type epoch struct {
	id      string
	created int64
	n, want int
}

func (in *epochs) get(name string) (epoch, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	e, ok := in.m[name]
	return e, ok
}

// set records e for the counter name; the items a region has never
// decrease within an epoch, so a call that knows fewer of them than
// another (it read before a growth) keeps the other's count.
func (in *epochs) set(name string, e epoch) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if old, ok := in.m[name]; ok && old.id == e.id && old.created == e.created {
		e.n = max(e.n, old.n)
	}
	in.m = remember(in.m, name, e)
}

func (in *epochs) forget(name string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.m, name)
}

// spreadOf returns how many items each region was last seen to spread the
// counter name over (nil: not known).
func (in *epochs) spreadOf(name string) []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.spread[name]
}

// setSpread records ns (not to be changed after) for the counter name; a
// counter in one item per region is not remembered.
func (in *epochs) setSpread(name string, ns []int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if slices.Max(ns) <= 1 {
		delete(in.spread, name)
		return
	}
	in.spread = remember(in.spread, name, ns)
}

// seenOf returns the last read of every item of the sharded counter name.
func (in *epochs) seenOf(name string) (regionSeen, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	seen, ok := in.seen[name]
	return seen, ok
}

// see records seen for the counter name, unless it is in one item per
// region or this process has a later read of it.
func (in *epochs) see(name string, seen regionSeen) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if seen.most <= 1 {
		delete(in.seen, name)
		return
	}
	if old, ok := in.seen[name]; ok && old.epoch == seen.epoch && old.asked.After(seen.asked) {
		return
	}
	in.seen = remember(in.seen, name, seen)
}

// remember sets m[name] to v, forgetting another counter first if m holds
// maxHotCounters.
func remember[V any](m map[string]V, name string, v V) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	if _, ok := m[name]; !ok && len(m) >= maxHotCounters {
		for other := range m {
			delete(m, other)
			break
		}
	}
	m[name] = v
	return m
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
	updateRegionSet = "SET #n = :name, #c = :count, #u = :now, #cr = if_not_exists(#cr, :now), #e = :e" // then what a set asks, then ADD #sets :one
	regionNames     = map[string]string{"#pk": attrPK, "#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#e": attrEpoch}
	regionAddNames  = map[string]string{"#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#e": attrEpoch}
)

// regionAttempts bounds the rounds of a region increment that finds the
// counter's epoch changed under it (a set, or a delete and a create).
const regionAttempts = 4

// regionIncrement adds by to one of the serving region's items of the
// counter name. A process that knows the counter's epoch sends one
// UpdateItem, to one of the region's items at random, conditioned on the
// item holding that epoch: one write unit. Otherwise (first increment, or
// the condition failed) it reads the counter's own item for its epoch
// (NotFound if there is none), then adds to the region's first item on the
// condition that it is missing or of that epoch; an item of another epoch
// is replaced by a transaction that checks that the counter's own item
// still has the epoch read (so that a process with an older read never
// replaces the item of a newer epoch). The answer is a read of every
// region's items after the write: it includes the increment, and if the
// counter's epoch is no longer the one written to (a set or delete came
// between), the write counts for nothing and is made again. A decrement is
// checked against the total first (another region's decrement in flight
// may still take the sum below 0; reads answer at least 0).
//
// A throttled write was not applied: it goes to another of the region's
// items at once, and when a call has been throttled on two (the only one,
// for a region with one), the region gains items (regionGrow), up to the
// store's maximum; when every item was throttled, the answer is
// Unavailable, with nothing applied.
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
	var tried uint64 // items throttled in this call
	throttles := 0
	for attempt := 1; ; {
		e, known, err := s.regionEpoch(ctx, name)
		if err != nil {
			return counter.Result{}, wrap("increment", name, err)
		}
		n, k := max(e.n, 1), 0
		if known && n > 1 {
			if k = pickUntried(n, tried); k < 0 {
				return counter.Result{}, wrap("increment", name, counter.UnavailableError(errAllThrottled))
			}
		}
		sent := time.Now()
		written, err := s.regionAddItem(ctx, name, k, by, v, e, !known)
		if err != nil {
			switch {
			case errors.Is(err, errStaleEpoch) && attempt < regionAttempts:
				s.epochs.forget(name)
				attempt++
				continue
			case hotKey(err):
				tried |= 1 << k
				if throttles++; throttles >= min(n, 2) {
					grown, gerr := s.regionGrow(ctx, name, e, n, 0)
					if counter.ErrorCode(gerr) == counter.NotFound {
						return counter.Result{}, wrap("increment", name, gerr)
					}
					if grown > n {
						e.n = grown
						s.epochs.set(name, e)
						continue // the new items have not been tried
					}
				}
				if known && tried != 1<<n-1 {
					continue
				}
				return counter.Result{}, wrap("increment", name, counter.UnavailableError(err))
			}
			return counter.Result{}, wrap("increment", name, translate(err))
		}
		c, now, ns, err := s.regionAnswer(ctx, name, k, e, written, sent)
		if counter.ErrorCode(err) == counter.NotFound {
			// Deleted under the increment: it is taken back, so that the
			// answer NotFound holds even if the generation is created
			// again (a delete that replication settled over a newer
			// create of it leaves that generation's items to the next
			// create).
			s.epochs.forget(name)
			if terr := s.regionTakeBack(ctx, name, k, by, e); terr != nil {
				return counter.Result{}, wrap("increment", name, counter.UnavailableError(terr))
			}
			return counter.Result{}, wrap("increment", name, err)
		}
		if err != nil {
			return counter.Result{}, wrap("increment", name, err)
		}
		if now != e.id {
			// A set or delete came between: the write counts for an epoch
			// that is gone; it is made again on the new one, and taken
			// back from hits over time.
			s.epochs.forget(name)
			at, err := decodeInt(written, attrUpdatedAt)
			if err != nil {
				at = s.timestamp() // not known: the take-back's own hour
			}
			s.regionUndo(ctx, name, k, by, at, e)
			if attempt < regionAttempts {
				attempt++
				continue
			}
			return counter.Result{}, wrap("increment", name, counter.UnavailableError(errStaleEpoch))
		}
		if ns != nil {
			e.n = max(e.n, ns[slices.Index(s.regions, s.region)])
		}
		if e.want > e.n {
			// A create or set asked for more items than the region has:
			// the region makes them (once per process; a failure leaves it
			// to the next increment).
			if grown, err := s.regionGrow(ctx, name, e, e.n, e.want); err == nil {
				e.n = grown
			}
		}
		s.epochs.set(name, e)
		return counter.Result{Counter: c}, nil
	}
}

// regionAnswer returns the counter name after an increment that wrote
// item k of the serving region, as written (its attributes, nil if not
// known), sent at sent, with the counter's epoch after the write and, when
// it read them all, each region's item count (nil when it did not). A
// counter in one item per region is read whole (one BatchGetItem: its own
// item and each region's). A sharded one reads only its own item (one
// GetItem, for the epoch), and adds to it the item written and the others'
// counts as this process last read them, read again first (regionItems) if
// that read was asked for more than answerStaleness before sent: reading
// every item on every increment would cost as many read units as the
// counter has items, and make every item's reads the counter's whole hit
// rate. As on one region, the answer includes the increment and every hit
// acknowledged answerStaleness before it began.
func (s *Store) regionAnswer(ctx context.Context, name string, k int, e epoch, written map[string]types.AttributeValue, sent time.Time) (counter.Counter, string, []int, error) {
	seen, ok := s.epochs.seenOf(name)
	if written == nil || !ok || seen.epoch != e.id || seen.asked.Before(sent.Add(-answerStaleness)) {
		asked := time.Now()
		items, err := s.regionItems(ctx, []string{name}, nil)
		if err != nil {
			return counter.Counter{}, "", nil, err
		}
		c, now, ns, err := s.regionSum(name, items)
		if err == nil {
			s.epochs.see(name, regionSeenOf(s, name, now, items, ns, asked))
		}
		return c, now, ns, err
	}
	rootItem, err := s.read(ctx, name)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	if len(rootItem) == 0 {
		return counter.Counter{}, "", nil, counter.NotFoundError(name)
	}
	now, err := rootEpoch(rootItem)
	if err != nil || now != e.id {
		return counter.Counter{}, now, nil, err
	}
	root, err := decodeItem(rootItem)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	it, err := decodeItem(written)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	own := regionItemPK(name, s.region, k)
	total, updated := root.count+it.count, max(seen.updated, it.updated)
	for pk, n := range seen.counts {
		if pk != own {
			total += n
		}
	}
	c := counterOf(root, min(max(total, 0), counter.MaxCount), updated)
	want, _ := optionalInt(rootItem, attrRegionShards)
	if n := max(seen.most, int(min(want, counter.MaxShards))); n > 1 {
		c.Shards = n
	}
	return c, now, nil, nil
}

// regionSeen is a read of every region's items of a sharded counter: each
// item's count, by key, for those of the epoch, and when it was asked for.
type regionSeen struct {
	epoch   string
	asked   time.Time
	counts  map[string]int64
	updated int64 // the latest updated_at among them
	most    int   // the most items a region has
}

// regionSeenOf is what items, read at asked, say of the region items of
// the counter name of epoch e, below each region's count (ns).
func regionSeenOf(s *Store, name, e string, items map[string]map[string]types.AttributeValue, ns []int, asked time.Time) regionSeen {
	seen := regionSeen{epoch: e, asked: asked, counts: map[string]int64{}, most: slices.Max(ns)}
	if root, err := decodeItem(items[counterPrefix+name]); err == nil {
		if old, updated, err := legacyShards(name, root, items); err == nil && old != 0 {
			seen.counts[counterPrefix+name+"#"] = old // no item has this key: the shards' sum
			seen.updated = updated
		}
	}
	created, _ := incarnation(items[counterPrefix+name])
	for i, r := range s.regions {
		for k := range ns[i] {
			pk := regionItemPK(name, r, k)
			it, err := decodeItem(items[pk])
			if err != nil || it.created != created || itemEpoch(items[pk]) != e {
				continue
			}
			seen.counts[pk] = it.count
			seen.updated = max(seen.updated, it.updated)
		}
	}
	return seen
}

// pickUntried returns one of items 0..n-1 at random that is not in tried
// (a bit per item); -1 if every one is.
func pickUntried(n int, tried uint64) int {
	k := rand.IntN(n)
	for range n {
		if tried&(1<<k) == 0 {
			return k
		}
		k = (k + 1) % n
	}
	return -1
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
	if e.created, err = incarnation(item); err != nil {
		return epoch{}, false, err
	}
	if e.id, err = rootEpoch(item); err != nil {
		return epoch{}, false, err
	}
	want, err := optionalInt(item, attrRegionShards)
	if err != nil {
		return epoch{}, false, err
	}
	e.want = int(min(max(want, 1), counter.MaxShards))
	return e, false, nil
}

// regionBot counts a crawler's request in one of the serving region's
// items of the counter name (ADD bots, one UpdateItem): the first (made,
// with no count, if missing) until this process knows the region's items,
// then one at random, as an increment goes to; never in an item that
// another region writes, so that no bot is lost to last writer wins. The
// aggregator reads the change from every region's stream. A first item of
// an older epoch is made this epoch's (regionAdd, adding 0). The answer is
// a read of every region's item.
func (s *Store) regionBot(ctx context.Context, name string) (counter.Result, error) {
	for attempt := 1; ; attempt++ {
		e, known, err := s.regionEpoch(ctx, name)
		if err != nil {
			return counter.Result{}, wrap("bot", name, err)
		}
		// One of the region's items of the epoch, as an increment goes to,
		// so that a hot counter's crawlers are spread as its viewers are;
		// the first (made if missing) while the process does not know them.
		k, cond := 0, condRegionAddFirst
		names := map[string]string{"#pk": attrPK, "#at": attrBotAt, "#cr": attrCreatedAt, "#e": attrEpoch, "#c": attrCount, "#u": attrUpdatedAt, "#b": attrBots}
		if known && e.n > 1 {
			if k = rand.IntN(e.n); k > 0 {
				cond = condRegionAdd
				delete(names, "#pk")
			}
		}
		_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                s.table,
			Key:                      regionItemKey(name, s.region, k),
			UpdateExpression:         updateRegionBot,
			ConditionExpression:      cond,
			ExpressionAttributeNames: names,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now": number(s.timestamp()), ":cr": number(e.created), ":e": &types.AttributeValueMemberS{Value: e.id}, ":zero": number(0), ":one": number(1),
			},
		}, NoAmbiguousRetry) // a bot counted twice would not matter; a bot retried forever would
		if err != nil && conditionFailed(err) == nil {
			return counter.Result{}, wrap("bot", name, translate(err))
		}
		if err != nil {
			// The item holds another epoch: make the first this one's (if
			// the counter still has it), then again.
			s.epochs.forget(name)
			if attempt == regionAttempts {
				return counter.Result{}, wrap("bot", name, counter.UnavailableError(errStaleEpoch))
			}
			if k > 0 {
				continue // the epoch read again, from the first item
			}
			if err := s.regionAdd(ctx, name, 0, 0, 0, e, true); err != nil && !errors.Is(err, errStaleEpoch) {
				return counter.Result{}, wrap("bot", name, translate(err))
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

// attrUndoneAt, on a region item, is when the write that the last take-back
// undid was made (Unix ms, its updated_at): the aggregator subtracts it from
// that write's hour, not from the hour of the item's latest write.
const attrUndoneAt = "undone_at"

// regionUndo takes back from hits over time an increment by, written at
// (Unix ms), that landed on the region's item k of epoch e after a set or
// delete ended e: ADD undone on the item, with undone_at, if the item still
// belongs to the incarnation (a delete and create took the old one's
// history with it). It is best effort: if it fails, the stats count that
// increment twice (a failure is as rare as the race).
func (s *Store) regionUndo(ctx context.Context, name string, k int, by, at int64, e epoch) {
	_, _ = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       regionItemKey(name, s.region, k),
		UpdateExpression:          aws.String("SET #xa = :at ADD #x :by REMOVE #v"),
		ConditionExpression:       aws.String("#cr = :cr"),
		ExpressionAttributeNames:  map[string]string{"#x": attrUndone, "#xa": attrUndoneAt, "#v": attrVisitor, "#cr": attrCreatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":by": number(by), ":at": number(at), ":cr": number(e.created)},
	}, NoAmbiguousRetry) // an undo applied twice would take back a hit that counts
}

// regionTakeBack subtracts an increment by of epoch e from the serving
// region's item k (ADD count -by, on the condition that the item is still
// of e), leaving its updated_at as it was, so that hits over time take it
// from the hour it was added to. A take-back of an item whose epoch moved
// on has nothing to do.
func (s *Store) regionTakeBack(ctx context.Context, name string, k int, by int64, e epoch) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       regionItemKey(name, s.region, k),
		UpdateExpression:          aws.String("ADD #c :by REMOVE #v"),
		ConditionExpression:       aws.String("#e = :e AND #cr = :cr"),
		ExpressionAttributeNames:  map[string]string{"#c": attrCount, "#v": attrVisitor, "#e": attrEpoch, "#cr": attrCreatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":by": number(-by), ":e": &types.AttributeValueMemberS{Value: e.id}, ":cr": number(e.created)},
	}, NoAmbiguousRetry)
	if err == nil || conditionFailed(err) != nil {
		return nil
	}
	return translate(err)
}

// errStaleEpoch is a region item or counter of another epoch than the one
// the increment was for.
var errStaleEpoch = errors.New("the counter's epoch changed under the increment")

// regionAdd adds by to the serving region's item k of epoch e, with its
// visitor v (0: none). With first (k 0 only), a missing item is created and
// one of another epoch replaced (if the counter's own item still has epoch
// e). A throttled write comes back as DynamoDB's error (hotKey), any other
// failure translated.
func (s *Store) regionAdd(ctx context.Context, name string, k int, by int64, v counter.Visitor, e epoch, first bool) error {
	_, err := s.regionAddItem(ctx, name, k, by, v, e, first)
	return err
}

// regionAddItem is regionAdd that returns the item after the write.
func (s *Store) regionAddItem(ctx context.Context, name string, k int, by int64, v counter.Visitor, e epoch, first bool) (map[string]types.AttributeValue, error) {
	now := s.timestamp()
	values := map[string]types.AttributeValue{":by": number(by), ":now": number(now), ":cr": number(e.created), ":e": &types.AttributeValueMemberS{Value: e.id}}
	cond, names := condRegionAdd, regionAddNames
	if first {
		cond, names = condRegionAddFirst, regionNames
	}
	update, names, values := visited(updateRegionAdd, updateRegionAddNoVisitor, names, values, v)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 regionItemKey(name, s.region, k),
		UpdateExpression:                    update,
		ConditionExpression:                 cond,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureNone,
	}, incrementRetryOpt)
	if err == nil {
		return out.Attributes, nil
	}
	if hotKey(err) {
		return nil, err
	}
	if conditionFailed(err) == nil {
		return nil, translate(err)
	}
	if !first {
		return nil, errStaleEpoch
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
		return nil, errStaleEpoch // the counter's epoch moved on, or another process made the item
	}
	if err != nil {
		return nil, translate(err)
	}
	return item, nil
}

// Expressions of a region's growth.
var (
	condRegionItemFree = aws.String("attribute_not_exists(#pk) OR #e <> :e OR #cr <> :cr")
	condRegionGrow     = aws.String("#e = :e AND #cr = :cr AND #s = :from AND (attribute_not_exists(#sa) OR #sa <= :cool)")
	condRegionGrowOne  = aws.String("#e = :e AND #cr = :cr AND attribute_not_exists(#s)")
	regionGrowNames    = map[string]string{"#e": attrEpoch, "#cr": attrCreatedAt, "#s": attrShards, "#sa": attrShardsAt}
)

// regionGrow gives the serving region's items of the counter name of
// epoch e more items, from (what the caller knows) to want, or with want 0
// (throttling) twice from, up to the store's maximum, at most once per
// growthCooldown; it returns the region's item count after, which another
// process may have raised already. As on one region (grow), the new items
// come first, holding 0, on keys no writer uses yet (an item left there by
// another epoch is replaced); then the region's first item takes the new
// count, on the condition that it still holds epoch e and the count grow
// started from. Only then does any writer use the new items, and every
// reader read them. One growth at a time per counter and process.
func (s *Store) regionGrow(ctx context.Context, name string, e epoch, from, want int) (int, error) {
	to := min(want, counter.MaxShards)
	if want == 0 {
		to = min(2*from, s.maxShards)
	}
	if to <= from {
		return from, nil
	}
	done, inFlight := s.growths.start(name)
	if done == nil {
		select { // another call of this process is at it
		case <-inFlight:
		case <-ctx.Done():
			return from, ctx.Err()
		}
		if now, ok := s.epochs.get(name); ok && now.id == e.id {
			return max(now.n, from), nil
		}
		return from, nil
	}
	defer done()
	now := s.timestamp()
	epochValue := &types.AttributeValueMemberS{Value: e.id}
	var wg sync.WaitGroup
	errs := make([]error, to-from)
	for k := from; k < to; k++ {
		wg.Go(func() {
			item := regionItemKey(name, s.region, k)
			item[attrCount], item[attrCreatedAt], item[attrUpdatedAt], item[attrEpoch] = number(0), number(e.created), number(now), epochValue
			_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                           s.table,
				Item:                                item,
				ConditionExpression:                 condRegionItemFree,
				ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#e": attrEpoch, "#cr": attrCreatedAt},
				ExpressionAttributeValues:           map[string]types.AttributeValue{":e": epochValue, ":cr": number(e.created)},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureNone,
			})
			if err != nil && conditionFailed(err) == nil { // there for this epoch already: another process put it
				errs[k-from] = translate(err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return from, err
	}
	cond := condRegionGrow
	if from == 1 {
		cond = condRegionGrowOne
	}
	for attempt := 1; ; attempt++ {
		now := s.timestamp()
		values := map[string]types.AttributeValue{":to": number(int64(to)), ":now": number(now), ":e": epochValue, ":cr": number(e.created)}
		if from > 1 {
			cool := now - growthCooldown.Milliseconds()
			if want > 0 {
				cool = now // asked for: no cooldown
			}
			values[":from"], values[":cool"] = number(int64(from)), number(cool)
		}
		_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           s.table,
			Key:                                 regionKey(name, s.region),
			UpdateExpression:                    updateGrow,
			ConditionExpression:                 cond,
			ExpressionAttributeNames:            regionGrowNames,
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, incrementRetryOpt)
		if err == nil {
			s.logGrowth(ctx, name, from, to)
			e.n = to
			s.epochs.set(name, e) // before done: the calls waiting for it read it
			return to, nil
		}
		if ccf := conditionFailed(err); ccf != nil {
			// Another epoch, another process grew it, or it grew less than
			// growthCooldown ago: what it has is what there is.
			if len(ccf.Item) == 0 || itemEpoch(ccf.Item) != e.id {
				return from, nil
			}
			it, err := decodeItem(ccf.Item)
			if err != nil || it.created != e.created {
				return from, nil
			}
			e.n = max(it.shards, from)
			s.epochs.set(name, e)
			return e.n, nil
		}
		if !hotKey(err) || attempt == growAttempts {
			return from, translate(err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return from, err
		}
	}
}

// regionSet sets the counter name to count (creating it if missing) and
// starts a new epoch: every region's item of the epoch before counts for
// nothing from then on, in every region the set reaches. With shards (2 or
// more), the counter's own item asks each region for at least that many
// items (attrRegionShards), unless it asks for more already.
func (s *Store) regionSet(ctx context.Context, name string, count int64, shards int) (counter.Result, error) {
	for attempt := 1; ; attempt++ {
		if attempt > regionAttempts {
			return counter.Result{}, wrap("set", name, counter.UnavailableError(errors.New("the counter kept changing under the set")))
		}
		now := s.timestamp()
		update, names, values := s.regionSetUpdate(name, count, shards, now, "")
		cond := "attribute_exists(#pk) AND attribute_not_exists(#s)"
		names["#pk"], names["#s"] = attrPK, attrShards
		if shards > 1 {
			cond += " AND (attribute_not_exists(#rs) OR #rs <= :rs)"
		}
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           s.table,
			Key:                                 key(name),
			UpdateExpression:                    update,
			ConditionExpression:                 &cond,
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           values,
			ReturnValues:                        types.ReturnValueAllOld,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if ccf := conditionFailed(err); ccf != nil {
			if len(ccf.Item) == 0 {
				// Missing: the set creates it, in the next generation.
				res, err := s.regionPut(ctx, name, count, shards)
				if counter.ErrorCode(err) == counter.AlreadyExists {
					continue // created meanwhile: set it
				}
				if err != nil {
					return counter.Result{}, wrap("set", name, err)
				}
				return res, nil
			}
			if _, sharded := ccf.Item[attrShards]; sharded {
				res, err := s.regionSetLegacy(ctx, name, count, shards, ccf.Item)
				if errors.Is(err, errStaleEpoch) {
					continue // changed under the set: again, from the start
				}
				if err != nil {
					return counter.Result{}, wrap("set", name, err)
				}
				return res, nil
			}
			// It asks for more shards already: keep them.
			asked, derr := optionalInt(ccf.Item, attrRegionShards)
			if derr != nil || int(asked) <= shards {
				return counter.Result{}, wrap("set", name, counter.UnavailableError(errors.New("the counter's shards changed under the set")))
			}
			shards = int(asked)
			continue
		}
		if err != nil {
			return counter.Result{}, wrap("set", name, translate(err))
		}
		s.epochs.forget(name)
		res, err := setResult(name, count, now, out.Attributes)
		if err == nil {
			asked, _ := optionalInt(out.Attributes, attrRegionShards)
			if n := max(shards, int(asked)); n > 1 {
				res.Counter.Shards = n
			}
		}
		return res, err
	}
}

// regionSetLegacy sets the counter name, sharded on one region before
// replica regions were listed (old is its own item, with N shards), to
// count, as regionSet does, in one transaction (planRegionSet's) that also
// deletes its shards 1..N-1 and removes shards from its own item: from
// then on it is a counter like any other across regions. Another region
// may see the transaction's items change one by one (replication copies
// items, not transactions): for a moment it reads the old epoch without
// some shards, then the set's count. errStaleEpoch: the counter changed
// since old was read.
func (s *Store) regionSetLegacy(ctx context.Context, name string, count int64, shards int, old map[string]types.AttributeValue) (counter.Result, error) {
	p, err := s.planRegionSet(counter.Set(name, count).WithShards(shards), old, s.timestamp())
	if err != nil {
		return counter.Result{}, err
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: p.changes})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) && slices.ContainsFunc(canceled.CancellationReasons, func(r types.CancellationReason) bool { return reason(r) == reasonCondition }) {
		return counter.Result{}, errStaleEpoch
	}
	if err != nil {
		return counter.Result{}, translate(err)
	}
	s.epochs.forget(name)
	return p.result, nil
}

// regionSetUpdate is the update of a set of the counter name across
// regions, at now: the count, a new epoch (unique to the set), the region
// shards asked for (shards, 2 or more), REMOVE of remove (attribute names
// of the result, "" for none), and sets + 1; with the names and values it
// uses, to which the caller adds its condition's.
func (s *Store) regionSetUpdate(name string, count int64, shards int, now int64, remove string) (*string, map[string]string, map[string]types.AttributeValue) {
	names := map[string]string{"#n": attrName, "#c": attrCount, "#u": attrUpdatedAt, "#cr": attrCreatedAt, "#e": attrEpoch, "#sets": attrSets}
	values := map[string]types.AttributeValue{
		":name": &types.AttributeValueMemberS{Value: name}, ":count": number(count), ":now": number(now), ":one": number(1),
		":e": &types.AttributeValueMemberS{Value: fmt.Sprintf("%d.%s.%x", now, s.region, rand.Uint64())},
	}
	update := updateRegionSet
	if shards > 1 {
		update += ", #rs = :rs"
		names["#rs"], values[":rs"] = attrRegionShards, number(int64(shards))
	}
	if remove != "" {
		update += " REMOVE " + remove
	}
	update += " ADD #sets :one"
	return &update, names, values
}

// regionRead returns the counter name summed over its own item and every
// region's items of its incarnation.
func (s *Store) regionRead(ctx context.Context, name string) (counter.Counter, error) {
	c, _, _, err := s.regionReadEpoch(ctx, name)
	return c, err
}

// regionReadEpoch is regionRead that also returns the counter's epoch and
// how many items each region spreads it over (s.regions' order).
func (s *Store) regionReadEpoch(ctx context.Context, name string) (counter.Counter, string, []int, error) {
	items, err := s.regionItems(ctx, []string{name}, nil)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	return s.regionSum(name, items)
}

// regionItems reads, by key, the items of the counters names: each one's
// own item (unless roots, by name, holds them: then only the counters
// there) and every region's items of its epoch, with strongly consistent
// reads, 100 keys per BatchGetItem. It asks for the items each region was
// last seen to have (epochs.spreadOf), then, if a region's first item says
// it has more, for those too.
func (s *Store) regionItems(ctx context.Context, names []string, roots map[string]map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	items := map[string]map[string]types.AttributeValue{}
	asked := map[string]bool{}
	var keys []map[string]types.AttributeValue
	ask := func(k map[string]types.AttributeValue) {
		pk := k[attrPK].(*types.AttributeValueMemberS).Value
		if !asked[pk] {
			asked[pk] = true
			keys = append(keys, k)
		}
	}
	for _, name := range names {
		switch {
		case roots == nil:
			ask(key(name))
		case len(roots[name]) == 0:
			continue // deleted since the index was read
		default:
			items[counterPrefix+name] = roots[name]
		}
		known := s.epochs.spreadOf(name)
		for i, r := range s.regions {
			n := 1
			if len(known) == len(s.regions) {
				n = known[i]
			}
			for k := range n {
				ask(regionItemKey(name, r, k))
			}
		}
	}
	for round := 1; len(keys) > 0; round++ {
		if round > maxSnapshotAttempts {
			return nil, counter.UnavailableError(errors.New("a region kept gaining items of a counter"))
		}
		for i := 0; i < len(keys); i += 100 {
			got, err := s.batchGetKeys(ctx, keys[i:min(i+100, len(keys))])
			if err != nil {
				return nil, err
			}
			maps.Copy(items, got)
		}
		keys = nil
		for _, name := range names {
			if root, err := decodeItem(items[counterPrefix+name]); err == nil {
				for k := 1; k < root.shards; k++ {
					ask(itemKey(name, k)) // sharded on one region (legacyShards)
				}
			}
			ns, ok := s.regionSpread(name, items)
			if !ok {
				continue
			}
			s.epochs.setSpread(name, ns)
			for i, r := range s.regions {
				for k := 1; k < ns[i]; k++ {
					ask(regionItemKey(name, r, k))
				}
			}
		}
	}
	return items, nil
}

// regionSpread returns, from items by key, how many items each region
// spreads the counter name over in its current epoch (1 for a region with
// no first item of that epoch); ok is false without the counter's own
// item, or with one that cannot be read.
func (s *Store) regionSpread(name string, items map[string]map[string]types.AttributeValue) (ns []int, ok bool) {
	rootItem := items[counterPrefix+name]
	if len(rootItem) == 0 {
		return nil, false
	}
	created, err := incarnation(rootItem)
	if err != nil {
		return nil, false
	}
	e, err := rootEpoch(rootItem)
	if err != nil {
		return nil, false
	}
	ns = make([]int, len(s.regions))
	for i, r := range s.regions {
		ns[i] = 1
		first := items[regionItemPK(name, r, 0)]
		if len(first) == 0 || itemEpoch(first) != e {
			continue
		}
		if it, err := decodeItem(first); err == nil && it.created == created {
			ns[i] = it.shards
		}
	}
	return ns, true
}

// regionSum returns the counter name from items, by key: its own item and
// the region items of its epoch, below each region's item count (others
// are ignored); NotFound without its own item. It also returns the epoch
// and each region's item count (regionSpread). The counter's Shards is the
// most items a region spreads it over, or the most a create or set asked
// for, if more.
func (s *Store) regionSum(name string, items map[string]map[string]types.AttributeValue) (counter.Counter, string, []int, error) {
	own := counterPrefix + name
	rootItem, ok := items[own]
	if !ok {
		return counter.Counter{}, "", nil, counter.NotFoundError(name)
	}
	root, err := decodeItem(rootItem)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	e, err := rootEpoch(rootItem)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	want, err := optionalInt(rootItem, attrRegionShards)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	life, err := incarnation(rootItem)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	ns, _ := s.regionSpread(name, items)
	total, updated := root.count, root.updated
	for i, r := range s.regions {
		for k := range ns[i] {
			pk := regionItemPK(name, r, k)
			item, ok := items[pk]
			if !ok {
				continue // a new item not read (it holds what was added after the read began)
			}
			it, err := decodeItem(item)
			if err != nil {
				return counter.Counter{}, "", nil, fmt.Errorf("item %q: %w", pk, err)
			}
			if it.created != life || itemEpoch(item) != e {
				continue // left by an epoch that is gone
			}
			total += it.count
			updated = max(updated, it.updated)
		}
	}
	old, oldUpdated, err := legacyShards(name, root, items)
	if err != nil {
		return counter.Counter{}, "", nil, err
	}
	total, updated = total+old, max(updated, oldUpdated)
	c := counterOf(root, min(max(total, 0), counter.MaxCount), updated)
	if n := max(slices.Max(ns), int(min(want, counter.MaxShards))); n > 1 {
		c.Shards = n
	}
	return c, e, ns, nil
}

// legacyShards returns the counts summed, and the latest updated_at, of
// the shard items 1..N-1 of the counter name whose own item (root) says it
// has N shards: a counter sharded on one region before replica regions
// were listed. Its shards take no more increments (a region's go to items
// of its own), but hold what they took, so every read adds them; the read
// asks for them once it has the own item (regionItems). A shard not read
// (items lacks it) or of another incarnation adds nothing.
func legacyShards(name string, root itemState, items map[string]map[string]types.AttributeValue) (total, updated int64, err error) {
	for k := 1; k < root.shards; k++ {
		pk := counterPrefix + name + "#" + strconv.Itoa(k)
		item, ok := items[pk]
		if !ok {
			continue
		}
		it, err := decodeItem(item)
		if err != nil {
			return 0, 0, fmt.Errorf("item %q: %w", pk, err)
		}
		if it.created == root.created {
			total, updated = total+it.count, max(updated, it.updated)
		}
	}
	return total, updated, nil
}

// regionCounters returns the counters names (in that order) whose own
// items are in roots (by name), summed over their region items: one
// BatchGetItem per 100 region items (and more for regions whose items
// this process did not know).
func (s *Store) regionCounters(ctx context.Context, names []string, roots map[string]map[string]types.AttributeValue) ([]counter.Counter, error) {
	items, err := s.regionItems(ctx, names, roots)
	if err != nil {
		return nil, err
	}
	out := make([]counter.Counter, 0, len(names))
	for _, name := range names {
		if len(roots[name]) == 0 {
			continue // deleted since the index was read
		}
		c, _, _, err := s.regionSum(name, items)
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

// planRegion plans a keyed write across regions (applyKeyed), in the
// transaction of its idempotency record: an increment or decrement on the
// serving region's item (planRegionAdd); a set, on the counter's own item,
// with a new epoch (planRegionSet); a create (or a set of a missing
// counter), the counter's own item put in the next generation
// (generation.go), asking with shards for region shards
// (attrRegionShards); a delete, the counter's own item deleted (and its
// shards, for one sharded on one region), once its generation is ended; a
// refusal (a create of a counter there is, a write of one that is not) as
// on one region. current is the counter's own item (nil: none). An
// increment's plan goes to one of the serving region's items not in tried
// (a bit per item: those throttled earlier in the call), returned as item;
// item is -1 for any other plan.
func (s *Store) planRegion(ctx context.Context, w counter.Write, current map[string]types.AttributeValue, tried uint64, now int64) (p plan, item int, err error) {
	if len(current) > 0 && w.Op == counter.OpIncrement {
		return s.planRegionAdd(ctx, w, current, tried, now)
	}
	p, err = s.planRegionOther(ctx, w, current, now)
	return p, -1, err
}

// planRegionOther is planRegion for any write but an increment of a
// counter there is.
func (s *Store) planRegionOther(ctx context.Context, w counter.Write, current map[string]types.AttributeValue, now int64) (plan, error) {
	switch {
	case len(current) == 0 && (w.Op == counter.OpCreate || w.Op == counter.OpSet):
		g, err := s.nextGeneration(ctx, w.Name)
		if err != nil {
			return plan{}, err
		}
		p := s.planCreate(w.WithShards(0), now)
		p.changes[0].Put.Item = regionRoot(w.Name, w.Count, now, g, w.Shards)
		if w.Shards > 1 {
			p.result.Counter.Shards = w.Shards
		}
		return p, nil
	case len(current) > 0 && w.Op == counter.OpDelete:
		// The generation ends before the delete (generation.go); if the
		// transaction fails, the next create skips one generation.
		g, err := optionalInt(current, attrGen)
		if err != nil {
			return plan{}, err
		}
		if err := s.endGeneration(ctx, w.Name, g); err != nil {
			return plan{}, err
		}
		return s.plan(ctx, w, current, now)
	case len(current) > 0 && w.Op == counter.OpSet:
		return s.planRegionSet(w, current, now)
	default: // a create of a counter there is, a delete, a write of a missing counter
		return s.plan(ctx, w, current, now)
	}
}

// planRegionSet plans a set of the counter whose own item is current (a
// keyed one's; regionSetLegacy's): the count and a new epoch on it, as
// regionSet writes them, on the condition that it is still that
// incarnation; for a counter sharded on one region before replica regions
// were listed, also the deletes of its shards and the removal of shards
// from its own item, on the condition that it still has as many.
func (s *Store) planRegionSet(w counter.Write, current map[string]types.AttributeValue, now int64) (plan, error) {
	old, err := decode(current)
	if err != nil {
		return plan{}, err
	}
	root, err := decodeItem(current)
	if err != nil {
		return plan{}, err
	}
	asked, err := optionalInt(current, attrRegionShards)
	if err != nil {
		return plan{}, err
	}
	shards := max(int(asked), w.Shards)
	var remove string
	cond := "#cr = :cr AND attribute_not_exists(#s)"
	if root.shards > 1 {
		// Sharded on one region before replica regions were listed: its
		// shards go, and it becomes a counter like any other across
		// regions.
		remove, cond = "#s, #sa", "#cr = :cr AND #s = :ns"
	}
	update, names, values := s.regionSetUpdate(w.Name, w.Count, shards, now, remove)
	names["#s"], values[":cr"] = attrShards, number(old.CreatedAt.UnixMilli())
	if root.shards > 1 {
		names["#sa"], values[":ns"] = attrShardsAt, number(int64(root.shards))
	}
	res := counter.Result{Counter: counter.Counter{Name: w.Name, Count: w.Count, CreatedAt: old.CreatedAt, UpdatedAt: time.UnixMilli(now).UTC()}}
	if shards > 1 {
		res.Counter.Shards = shards
	}
	changes := []types.TransactWriteItem{{Update: &types.Update{
		TableName: s.table, Key: key(w.Name), UpdateExpression: update, ConditionExpression: &cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}
	for k := 1; k < root.shards; k++ {
		changes = append(changes, types.TransactWriteItem{Delete: &types.Delete{TableName: s.table, Key: itemKey(w.Name, k)}})
	}
	return plan{result: res, changes: changes}, nil
}

// planRegionAdd plans a keyed increment or decrement across regions, in the
// transaction of its idempotency record: an ADD to the serving region's
// item of the counter's epoch (created if missing), and a check that the
// counter's own item still has that epoch, so that the record never says
// applied for an increment that counts for nothing. The answer is the
// counter as read before plus by. current is the counter's own item (nil:
// NotFound). It goes to one of the region's items at random, of those not
// in tried (throttled earlier in the call: a bit per item), and returns
// which; after throttles on two (the only one, for a region with one), the
// region gains items first (regionGrow), as an unkeyed increment's does;
// when every item was tried, the answer is Unavailable. A region's first
// item of another epoch is made this epoch's first (once per process and
// epoch), as an unkeyed increment's first write does, adding 0.
func (s *Store) planRegionAdd(ctx context.Context, w counter.Write, current map[string]types.AttributeValue, tried uint64, now int64) (plan, int, error) {
	c, id, ns, err := s.regionReadEpoch(ctx, w.Name)
	if err != nil {
		return plan{}, -1, err
	}
	created, err := incarnation(current)
	if err != nil {
		return plan{}, -1, err
	}
	e := &types.AttributeValueMemberS{Value: id}
	// One of the region's items of this epoch, as read (its first item
	// says how many; the others were made before it said so).
	n := ns[slices.Index(s.regions, s.region)]
	if tried != 0 && bits.OnesCount64(tried) >= min(n, 2) {
		if grown, err := s.regionGrow(ctx, w.Name, epoch{id: id, created: created, n: n}, n, 0); err == nil {
			n = max(n, grown)
		}
	}
	k := pickUntried(n, tried)
	if k < 0 {
		return plan{}, -1, counter.UnavailableError(errAllThrottled)
	}
	epochNames := map[string]string{"#e": attrEpoch, "#cr": attrCreatedAt}
	epochValues := map[string]types.AttributeValue{
		":e": e, ":cr": number(created), ":ce": &types.AttributeValueMemberS{Value: "c" + strconv.FormatInt(created, 10)},
	}
	if c.Count+w.By < 0 {
		// Checked against the total read, as an unkeyed decrement is; the
		// refusal is recorded on the condition that the epoch is the one
		// read.
		return s.check(w.Name, 0, condRootEpoch, epochNames, epochValues, counter.OutOfRangeError(w.Name, c.Count, w.By)), -1, nil
	}
	if known, ok := s.epochs.get(w.Name); !ok || known.id != id {
		// The region item may hold another epoch: make it this one's.
		if err := s.regionAdd(ctx, w.Name, 0, 0, 0, epoch{id: id, created: created}, true); err != nil {
			if !errors.Is(err, errStaleEpoch) {
				return plan{}, -1, err
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
			TableName: s.table, Key: regionItemKey(w.Name, s.region, k), UpdateExpression: update, ConditionExpression: condRegionAdd,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: s.table, Key: key(w.Name), ConditionExpression: condRootEpoch,
			ExpressionAttributeNames: epochNames, ExpressionAttributeValues: epochValues,
		}},
	}}, k, nil
}
