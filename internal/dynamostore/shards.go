package dynamostore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// snapshot is every item of a counter read at one instant.
type snapshot struct {
	items []itemState // items[0] is the counter's own
	asked time.Time   // when the read was sent
}

func (sn snapshot) n() int { return len(sn.items) }

func (sn snapshot) total() (total, updated int64) {
	for _, it := range sn.items {
		total += it.count
		updated = max(updated, it.updated)
	}
	return total, updated
}

func (sn snapshot) counter() counter.Counter {
	total, updated := sn.total()
	return counterOf(sn.items[0], total, updated)
}

// maxSnapshotAttempts bounds the reads of a snapshot: a read that finds more
// shards than it asked for is sent again with them, and one that a
// transaction holding an item refuses (on AWS) is sent again too.
const maxSnapshotAttempts = 8

// snapshot reads the counter's items with one TransactGetItems: one
// snapshot, never a mix of before and after a set or delete that races it.
// It asks for n items (a cached shard count); if the counter's own item
// says there are more, it reads again with them: a shard added after the
// cached count was taken is never missed. NotFound if there is no counter.
func (s *Store) snapshot(ctx context.Context, name string, n int) (snapshot, error) {
	n = max(n, 1)
	for attempt := 1; ; attempt++ {
		if n == 1 { // one item is a snapshot by itself: 1 read unit, not 2
			sent := time.Now()
			item, err := s.read(ctx, name)
			if err != nil {
				return snapshot{}, err
			}
			if len(item) == 0 {
				return snapshot{}, counter.NotFoundError(name)
			}
			it, err := decodeItem(item)
			if err != nil {
				return snapshot{}, err
			}
			if it.shards > 1 {
				n = it.shards
				continue
			}
			return snapshot{items: []itemState{it}, asked: sent}, nil
		}
		gets := make([]types.TransactGetItem, n)
		for k := range n {
			gets[k] = types.TransactGetItem{Get: &types.Get{TableName: s.table, Key: itemKey(name, k)}}
		}
		sent := time.Now()
		out, err := s.client.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: gets})
		if err != nil {
			if conflicted(err) && attempt < maxSnapshotAttempts {
				if err := backoff(ctx, attempt); err != nil {
					return snapshot{}, err
				}
				continue
			}
			return snapshot{}, translate(err)
		}
		if len(out.Responses) != n {
			return snapshot{}, errors.New("TransactGetItems answered another number of items")
		}
		if len(out.Responses[0].Item) == 0 {
			return snapshot{}, counter.NotFoundError(name)
		}
		first, err := decodeItem(out.Responses[0].Item)
		if err != nil {
			return snapshot{}, err
		}
		if first.shards > n {
			if attempt == maxSnapshotAttempts {
				return snapshot{}, counter.UnavailableError(errors.New("the counter kept gaining shards"))
			}
			n = first.shards
			continue
		}
		snap := snapshot{items: make([]itemState, first.shards), asked: sent}
		snap.items[0] = first
		for k := 1; k < first.shards; k++ {
			if len(out.Responses[k].Item) == 0 {
				return snapshot{}, errShardMissing
			}
			if snap.items[k], err = decodeItem(out.Responses[k].Item); err != nil {
				return snapshot{}, err
			}
		}
		return snap, nil
	}
}

// conflicted reports whether err is a transaction refused, unapplied,
// because another transaction or write held one of its items (AWS only).
func conflicted(err error) bool {
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		for _, r := range canceled.CancellationReasons {
			if reason(r) == reasonConflict {
				return true
			}
		}
	}
	return isTransactionConflict(err)
}

// backoff waits a jittered 2 ms doubling to 64 ms before attempt+1.
func backoff(ctx context.Context, attempt int) error {
	wait := time.Duration(rand.N(int64(2*time.Millisecond) << min(attempt, 5)))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return nil
	}
}

// hotKey reports whether err is DynamoDB refusing a request, unapplied,
// because its key had no capacity left: ProvisionedThroughputExceeded with
// only key-range throttling reasons (or none, as before DynamoDB gave
// them). Another shard has capacity of its own. Throttling of the table or
// the account (ThrottlingException, RequestLimitExceeded, a table-wide
// reason) is left to the SDK's retries, as before.
func hotKey(err error) bool {
	var pte *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pte) {
		return false
	}
	for _, r := range pte.ThrottlingReasons {
		switch aws.ToString(r.Reason) {
		case "TableWriteKeyRangeThroughputExceeded", "TableReadKeyRangeThroughputExceeded":
		default:
			return false
		}
	}
	return true
}

// incrementRetry is the retryer of the hot path: NoAmbiguousRetry, but a
// hot key's throttling comes back at once, to be sent to another shard.
func incrementRetry(o *dynamodb.Options) {
	NoAmbiguousRetry(o)
	if r, ok := o.Retryer.(safeRetryer); ok {
		o.Retryer = coldRetryer{r}
	}
}

// coldRetryer is a safeRetryer that does not retry a hot key's throttling.
type coldRetryer struct{ safeRetryer }

func (r coldRetryer) IsErrorRetryable(err error) bool {
	return !hotKey(err) && r.safeRetryer.IsErrorRetryable(err)
}

var incrementRetryOpt = incrementRetry

// Expressions of the hot path.
var (
	condIncrementOne  = aws.String("#c BETWEEN :lo AND :hi AND attribute_not_exists(#s)")
	incrementOneNames = map[string]string{"#c": attrCount, "#u": attrUpdatedAt, "#s": attrShards}
)

// addTo adds by to item k of the counter name with one UpdateItem under
// the condition that the item exists and its count stays within
// lo..hi (so that its own bound holds), and returns the item after. With
// single, the item must be the counter's own, unsharded. With shards > 1,
// the item is the counter's own and the counter must have that many
// items: its bound (rootCap) depends on them, and a count cached before
// the counter grew would allow too much.
func (s *Store) addTo(ctx context.Context, name string, k int, by, lo, hi int64, single bool, shards int, v counter.Visitor) (*dynamodb.UpdateItemOutput, error) {
	cond, names := condIncrement, incrementNames
	values := map[string]types.AttributeValue{
		":by":  number(by),
		":lo":  number(lo),
		":hi":  number(hi),
		":now": number(s.timestamp()),
	}
	switch {
	case single:
		cond, names = condIncrementOne, incrementOneNames
	case shards > 1:
		cond, names = condAddRoot, addRootNames
		values[":n"] = number(int64(shards))
	}
	update, names, values := visited(updateIncrementVisitor, updateIncrementNoVisitor, names, values, v)
	return s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 itemKey(name, k),
		UpdateExpression:                    update,
		ConditionExpression:                 cond,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, incrementRetryOpt)
}

// bounds are the counts item k of a counter with n items may hold before
// an increment by, for the item to stay within 0..itemCap(k, n).
func bounds(k, n int, by int64) (lo, hi int64) {
	c := itemCap(k, n)
	return max(0, -by), min(c, c-by)
}

// increment adds by to the counter name. An increment of a counter this
// process does not know as sharded goes to the counter's own item, as
// before shards existed: one UpdateItem of one write unit, whose answer
// says whether the counter has shards (then the process remembers it). A
// sharded counter's increment goes to one of its items at random. A
// throttled write was not applied, so it goes to another item at once; when
// a call has been throttled on two items (the only one, for a counter in
// one item), the counter gains shards (grow), up to the store's maximum.
// When every item was throttled and none can be added, the answer is
// Unavailable, with nothing applied. An increment that no single item can
// take within its bound (a decrement larger than the item's count, an
// increment near counter.MaxCount) is made exactly across items
// (applyExact).
func (s *Store) increment(ctx context.Context, name string, by int64, v counter.Visitor) (counter.Result, error) {
	if s.region != "" {
		return s.regionIncrement(ctx, name, by, v)
	}
	var tried uint64 // items throttled in this call
	throttles := 0
	relearnt := false // the shard count was read again after a refusal
	for {
		if inFlight := s.growths.inFlight(name); inFlight != nil {
			// The counter is gaining shards: its items have no capacity
			// left, and the growth needs the counter's own item.
			select {
			case <-inFlight:
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			return counter.Result{}, wrap("increment", name, err)
		}
		h := s.hot.get(name)
		n, k := 1, 0
		if h != nil {
			n, _ = h.shards()
			if k = h.pick(tried); k < 0 {
				return counter.Result{}, wrap("increment", name, counter.UnavailableError(errAllThrottled))
			}
		}
		// The counter's own item with no counter known takes the bound of
		// the most shards it may have, so that it holds for any.
		assumed := n
		if h == nil {
			assumed = counter.MaxShards
		}
		lo, hi := bounds(k, assumed, by)
		if lo > hi { // the item can never take it
			return s.applyExact(ctx, name, by, v)
		}
		rootShards := 0 // the counter's own item of a known sharded counter: on its shard count
		if h != nil && k == 0 {
			rootShards = n
		}
		sent := time.Now()
		out, err := s.addTo(ctx, name, k, by, lo, hi, false, rootShards, v)
		if err == nil {
			c, err := s.answer(ctx, name, k, out.Attributes, sent)
			if err != nil {
				return counter.Result{}, wrap("increment", name, err)
			}
			return counter.Result{Counter: c}, nil
		}
		if ccf := conditionFailed(err); ccf != nil {
			if len(ccf.Item) == 0 {
				if k == 0 {
					s.hot.forget(name)
					return counter.Result{}, wrap("increment", name, counter.NotFoundError(name))
				}
				s.hot.forget(name) // a shard that is gone: the counter was deleted
				continue
			}
			if it, derr := decodeItem(ccf.Item); rootShards > 0 && !relearnt && derr == nil && it.shards != rootShards {
				// The counter grew since this process learnt it: learn it
				// again and pick again (once per call).
				relearnt = true
				if _, err := s.refresh(ctx, name, h, time.Now(), it.shards); err != nil {
					return counter.Result{}, wrap("increment", name, err)
				}
				continue
			}
			return s.applyExact(ctx, name, by, v)
		}
		if !hotKey(err) {
			return counter.Result{}, wrap("increment", name, translate(err))
		}
		tried |= 1 << k
		throttles++
		if h != nil {
			h.throttled(k)
		}
		if throttles >= min(n, 2) {
			grown, gerr := s.grow(ctx, name, h)
			switch {
			case counter.ErrorCode(gerr) == counter.NotFound:
				return counter.Result{}, wrap("increment", name, gerr)
			case grown > n:
				continue // the new items have not been tried
			}
		}
		if h == nil || tried == 1<<n-1 {
			return counter.Result{}, wrap("increment", name, counter.UnavailableError(err))
		}
	}
}

// errAllThrottled is the cause of an increment's Unavailable when every
// item of its counter was throttled.
var errAllThrottled = errors.New("every shard of the counter was throttled")

// answer returns the counter after an increment that found item k as
// attrs, sent at sent. For a counter in one item that is its count. For a
// sharded one it is that item's count plus the others' as this process
// knows them, read again first (one snapshot) if that is older than
// answerStaleness, or if the item shows a set, a new incarnation or more
// shards than known. The answer includes the increment, and every hit
// acknowledged answerStaleness before it began.
func (s *Store) answer(ctx context.Context, name string, k int, attrs map[string]types.AttributeValue, sent time.Time) (counter.Counter, error) {
	it, err := decodeItem(attrs)
	if err != nil {
		return counter.Counter{}, err
	}
	if k == 0 && it.shards == 1 {
		if s.hot.get(name) != nil {
			s.hot.forget(name) // deleted and created again in one item
		}
		return counterOf(it, it.count, it.updated), nil
	}
	h := s.hot.get(name)
	if h == nil || !h.observe(k, it, sent) {
		if _, err := s.refresh(ctx, name, h, time.Now(), it.shards); err != nil {
			return counter.Counter{}, err
		}
		if h = s.hot.get(name); h == nil {
			return counterOf(it, it.count, it.updated), nil // a counter in one item after all
		}
		h.observe(k, it, sent)
	}
	total, oldest, updated := h.totalWith(k, it.count)
	if oldest.Before(sent.Add(-answerStaleness)) {
		if _, err := s.refresh(ctx, name, h, sent.Add(-answerStaleness), 0); err == nil {
			total, _, updated = h.totalWith(k, it.count)
		}
		// Else the write is applied all the same, and its answer may be
		// older: the counter is too hot for reads too (or was deleted).
	}
	n, created := h.shards()
	return counter.Counter{
		Name:      name,
		Count:     min(max(total, 0), counter.MaxCount),
		CreatedAt: time.UnixMilli(created).UTC(),
		UpdatedAt: time.UnixMilli(max(updated, it.updated)).UTC(),
		Shards:    n,
	}, nil
}

// refresh reads a snapshot of the counter into what this process knows of
// it, unless a snapshot asked for at or after since is in flight, which it
// waits for. One read at a time per counter and process that knows it (h).
// n is how many items to ask for, if more than h knows (0: as h knows).
func (s *Store) refresh(ctx context.Context, name string, h *hotCounter, since time.Time, n int) (snapshot, error) {
	if h != nil {
		h.mu.Lock()
		if wait := h.refreshing; wait != nil {
			h.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return snapshot{}, ctx.Err()
			}
			h.mu.Lock()
			fresh := len(h.asked) > 0 && !h.oldestLocked().Before(since)
			h.mu.Unlock()
			if fresh {
				return snapshot{}, nil
			}
			h.mu.Lock()
		}
		done := make(chan struct{})
		h.refreshing = done
		n = max(n, h.n)
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			h.refreshing = nil
			h.mu.Unlock()
			close(done)
		}()
	}
	snap, err := s.snapshot(ctx, name, n)
	if err != nil {
		if counter.ErrorCode(err) == counter.NotFound {
			s.hot.forget(name)
		}
		return snapshot{}, err
	}
	s.hot.learn(name, snap)
	return snap, nil
}

// oldestLocked returns when the oldest count h knows was asked for; h.mu
// is held.
func (h *hotCounter) oldestLocked() time.Time {
	oldest := time.Now()
	for _, a := range h.asked {
		if a.Before(oldest) {
			oldest = a
		}
	}
	return oldest
}

// growths are the growths in flight in this process, by counter name: one
// at a time per counter, and the counter's writers wait for it (a growth
// takes a few round trips) rather than spend the capacity its write to the
// counter's own item needs on writes that would be throttled.
type growths struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// start returns a func to call when the growth of name ends, or, if one is
// in flight, nil and a channel closed when it ends.
func (g *growths) start(name string) (done func(), inFlight <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ch, ok := g.m[name]; ok {
		return nil, ch
	}
	if g.m == nil {
		g.m = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	g.m[name] = ch
	return func() {
		g.mu.Lock()
		delete(g.m, name)
		g.mu.Unlock()
		close(ch)
	}, nil
}

// inFlight returns a channel closed when the growth of name in flight
// ends; nil if none is.
func (g *growths) inFlight(name string) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m[name]
}

// growthCooldown is how long a counter keeps its shard count before it may
// gain more: long enough for every writer to learn the last count (each
// reads a snapshot at least every answerStaleness while it writes), so
// that writers still on the old count do not make it grow again.
const growthCooldown = answerStaleness

// growAttempts bounds the tries at the counter's own item when it gains
// shards: that item is as hot as the others.
const growAttempts = 8

// Expressions of growth.
var (
	condShardFree   = aws.String("attribute_not_exists(#pk) OR #cr <> :cr")
	shardFreeNames  = map[string]string{"#pk": attrPK, "#cr": attrCreatedAt}
	updateGrow      = aws.String("SET #s = :to, #sa = :now")
	condGrowFromOne = aws.String("#cr = :cr AND #c <= :cap AND attribute_not_exists(#s)")
	condGrow        = aws.String("#cr = :cr AND #c <= :cap AND #s = :from AND (attribute_not_exists(#sa) OR #sa <= :cool)")
	growNames       = map[string]string{"#cr": attrCreatedAt, "#c": attrCount, "#s": attrShards, "#sa": attrShardsAt}
)

// grow gives the counter name twice its shards (up to the store's
// maximum) and returns its shard count after, which another process may
// have raised already. The new shard items come first, on keys nobody
// writes yet; then the counter's own item takes the new count, under the
// condition that it still has the count (and incarnation) grow started
// from, that it kept it for growthCooldown, and that its own count fits the
// smaller bound of a counter with more items. Only then does any writer
// use the new items, and every reader read them. One growth at a time per
// counter and process; h is what the process knows (nil: nothing yet, and
// the counter's own item is read first).
func (s *Store) grow(ctx context.Context, name string, h *hotCounter) (int, error) {
	if h == nil && s.maxShards == 1 {
		// Growth is off: reading the counter's own item to learn its
		// shards would cost a read per throttled increment for nothing
		// (a sharded counter's answers say so anyway).
		return 1, nil
	}
	done, inFlight := s.growths.start(name)
	if done == nil {
		select { // another call of this process is at it
		case <-inFlight:
		case <-ctx.Done():
			return 1, ctx.Err()
		}
		n, _ := s.hot.get(name).shardsOrZero()
		return max(n, 1), nil
	}
	defer done()
	if h == nil {
		snap, err := s.refresh(ctx, name, nil, time.Now(), 1)
		if err != nil {
			return 1, err
		}
		if snap.n() > 1 {
			return snap.n(), nil // sharded already: now known
		}
		h = &hotCounter{}
		h.reset(1, snap.items[0].created)
	}
	from, created := h.shards()
	if from >= s.maxShards {
		return from, nil
	}
	to := min(2*from, s.maxShards)

	if err := s.putShards(ctx, name, from, to, created); err != nil {
		return from, err
	}
	cond := condGrow
	if from == 1 {
		cond = condGrowFromOne
	}
	for attempt := 1; ; attempt++ {
		now := s.timestamp()
		values := map[string]types.AttributeValue{":to": number(int64(to)), ":now": number(now), ":cr": number(created), ":cap": number(rootCap(to))}
		if from > 1 {
			values[":from"], values[":cool"] = number(int64(from)), number(now-growthCooldown.Milliseconds())
		}
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           s.table,
			Key:                                 itemKey(name, 0),
			UpdateExpression:                    updateGrow,
			ConditionExpression:                 cond,
			ExpressionAttributeNames:            growNames,
			ExpressionAttributeValues:           values,
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, incrementRetryOpt)
		if err == nil {
			s.logGrowth(ctx, name, from, to)
			if it, err := decodeItem(out.Attributes); err == nil {
				s.hot.learn(name, snapshot{items: append([]itemState{it}, make([]itemState, to-1)...)})
				// The new items hold nothing yet; the others' counts are
				// read again by the next answer.
			}
			return to, nil
		}
		if ccf := conditionFailed(err); ccf != nil {
			it, derr := decodeItem(ccf.Item)
			if len(ccf.Item) == 0 || derr != nil || it.created != created {
				s.hot.forget(name)
				s.removeShards(context.WithoutCancel(ctx), name, from, to, created)
				if len(ccf.Item) == 0 {
					return from, counter.NotFoundError(name)
				}
				return from, nil
			}
			// Another process grew it, it grew less than growthCooldown
			// ago, or its own item is too close to the largest count to
			// give room to more items: what it has is what there is.
			if it.shards > from {
				if _, err := s.refresh(ctx, name, s.hot.get(name), time.Now(), it.shards); err != nil {
					return from, err
				}
			}
			return it.shards, nil
		}
		if !hotKey(err) || attempt == growAttempts {
			return from, translate(err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return from, err
		}
	}
}

// putShards creates the shard items from..to-1 of the counter incarnation
// created, holding 0, unless the item is there for this incarnation
// already (another process put it). An item left by an incarnation that
// was deleted while it grew is replaced.
func (s *Store) putShards(ctx context.Context, name string, from, to int, created int64) error {
	var wg sync.WaitGroup
	errs := make([]error, to-from)
	for k := from; k < to; k++ {
		wg.Go(func() {
			_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                           s.table,
				Item:                                shardItem(name, k, 0, created, created),
				ConditionExpression:                 condShardFree,
				ExpressionAttributeNames:            shardFreeNames,
				ExpressionAttributeValues:           map[string]types.AttributeValue{":cr": number(created)},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureNone,
			})
			if err != nil && conditionFailed(err) == nil {
				errs[k-from] = translate(err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// removeShards deletes, as far as it can, the shard items from..to-1 of the
// incarnation created that a growth put before finding the counter gone.
// Nothing reads them (they are at or past the shard count), so what it
// cannot delete is harmless: a later growth replaces it.
func (s *Store) removeShards(ctx context.Context, name string, from, to int, created int64) {
	for k := from; k < to; k++ {
		_, _ = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 s.table,
			Key:                       itemKey(name, k),
			ConditionExpression:       aws.String("#cr = :cr"),
			ExpressionAttributeNames:  lifeNames,
			ExpressionAttributeValues: map[string]types.AttributeValue{":cr": number(created)},
		})
	}
}

// shardItem is shard k of the counter name, holding count.
func shardItem(name string, k int, count, created, updated int64) map[string]types.AttributeValue {
	item := itemKey(name, k)
	item[attrCount] = number(count)
	item[attrCreatedAt] = number(created)
	item[attrUpdatedAt] = number(updated)
	return item
}

// logGrowth says that the counter gained shards on its own: the line
// template.yaml's metric filter counts, and alarms on when a counter
// reaches the maximum.
func (s *Store) logGrowth(ctx context.Context, name string, from, to int) {
	atMax := 0
	if to >= s.maxShards {
		atMax = 1
	}
	s.log.WarnContext(ctx, "counter shards grew", "counter", name, "from", from, "shards", to, "max", s.maxShards, "at_max", atMax)
}

// applyExact makes an increment that the item it went to could not take
// within its bound. A counter this process does not know as sharded is
// tried with the exact bound of a counter in one item, on the condition
// that it has no shards: one more UpdateItem, near counter.MaxCount only
// (or never, for a decrement). A sharded counter's increment is spread
// (applyPlanned): a snapshot of the counter, then one transaction that
// spreads by over as few items as can take it, each conditioned on its
// count as bounded. If the total would leave 0..counter.MaxCount, the
// answer is OutOfRange with the count it has.
func (s *Store) applyExact(ctx context.Context, name string, by int64, v counter.Visitor) (counter.Result, error) {
	if s.hot.get(name) == nil {
		lo, hi := bounds(0, 1, by)
		out, err := s.addTo(ctx, name, 0, by, lo, hi, true, 0, v)
		if err == nil {
			c, err := decode(out.Attributes)
			if err != nil {
				return counter.Result{}, wrap("increment", name, err)
			}
			return counter.Result{Counter: c}, nil
		}
		ccf := conditionFailed(err)
		if ccf == nil {
			return counter.Result{}, wrap("increment", name, translate(err))
		}
		if len(ccf.Item) == 0 {
			return counter.Result{}, wrap("increment", name, counter.NotFoundError(name))
		}
		it, err := decodeItem(ccf.Item)
		if err != nil {
			return counter.Result{}, wrap("increment", name, err)
		}
		if it.shards == 1 {
			return counter.Result{}, wrap("increment", name, counter.OutOfRangeError(name, it.count, by))
		}
	}
	return s.applyPlanned(ctx, counter.Increment(name, by).WithVisitor(v))
}

// spread splits by over the items of snap, as few as possible, each within
// its bound: the items with the most room (by > 0) or count (by < 0)
// first. ok is false if the total cannot take it.
func spread(snap snapshot, by int64) (parts []int64, ok bool) {
	n := snap.n()
	parts = make([]int64, n)
	order := make([]int, n)
	for k := range order {
		order[k] = k
	}
	room := func(k int) int64 {
		if by > 0 {
			return itemCap(k, n) - snap.items[k].count
		}
		return snap.items[k].count
	}
	sortByDesc(order, room)
	left := by
	if left < 0 {
		left = -left
	}
	for _, k := range order {
		if left == 0 {
			break
		}
		take := min(left, max(room(k), 0))
		if by > 0 {
			parts[k] = take
		} else {
			parts[k] = -take
		}
		left -= take
	}
	return parts, left == 0
}

// sortByDesc sorts order by key, largest first (n <= counter.MaxShards).
func sortByDesc(order []int, key func(int) int64) {
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && key(order[j]) > key(order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
}
