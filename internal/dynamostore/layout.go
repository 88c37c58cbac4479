package dynamostore

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// A counter's count lives in one item or, for a hot counter, in shards:
//
//	c#<name>      the counter's item: name, count (shard 0's part),
//	              created_at, updated_at, sets, and for a sharded counter
//	              shards (N, 2..MaxShards) and shards_at (when it last grew)
//	c#<name>#<k>  shard k, 1 <= k < N: count, created_at (the counter's),
//	              updated_at, sets; no name, so that the listing index
//	              (IndexName) holds counters only
//
// The count is the sum of the N items' counts. Names hold no '#', so a
// shard's key never belongs to another counter. docs/dynamodb.md explains
// when a counter gains shards, what each operation costs with N shards,
// and how every total stays within 0..counter.MaxCount.
const (
	attrShards   = "shards"    // N, on the counter's item; absent: 1
	attrShardsAt = "shards_at" // N, Unix ms: when the counter last gained shards

	// shardCap is the most a shard item other than the counter's own may
	// hold (2^44, about 1.8e13: 557 years at 1,000 increments a second).
	// The counter's own item of a counter with N items holds at most
	// rootCap(N), so that any counts the N items may hold sum to at most
	// counter.MaxCount, whatever order increments, decrements and sets
	// reach them in, without reading the other items.
	shardCap int64 = 1 << 44
)

// rootCap is the most the counter's own item may hold when the counter has
// n items: what the other n-1 cannot.
func rootCap(n int) int64 { return counter.MaxCount - int64(n-1)*shardCap }

// itemCap is the most item k of a counter with n items may hold.
func itemCap(k, n int) int64 {
	if k == 0 {
		return rootCap(n)
	}
	return shardCap
}

// itemKey is the key of item k (0: the counter's own) of the counter name.
func itemKey(name string, k int) map[string]types.AttributeValue {
	pk := counterPrefix + name
	if k > 0 {
		pk += "#" + strconv.Itoa(k)
	}
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: pk}}
}

// itemState is one item of a counter, decoded.
type itemState struct {
	count, created, updated, sets int64
	// On the counter's own item only:
	name     string
	shards   int   // 1 when absent
	shardsAt int64 // 0 when absent
}

// decodeItem decodes an item of a counter (its own, or a shard).
func decodeItem(item map[string]types.AttributeValue) (itemState, error) {
	var st itemState
	var err error
	if st.count, err = decodeInt(item, attrCount); err != nil {
		return st, err
	}
	if st.created, err = decodeInt(item, attrCreatedAt); err != nil {
		return st, err
	}
	if st.updated, err = decodeInt(item, attrUpdatedAt); err != nil {
		return st, err
	}
	if st.sets, err = optionalInt(item, attrSets); err != nil {
		return st, err
	}
	if name, ok := item[attrName].(*types.AttributeValueMemberS); ok {
		st.name = name.Value
	}
	n, err := optionalInt(item, attrShards)
	if err != nil {
		return st, err
	}
	if n < 1 || n > counter.MaxShards {
		n = 1
	}
	st.shards = int(n)
	st.shardsAt, err = optionalInt(item, attrShardsAt)
	return st, err
}

// optionalInt is decodeInt for an attribute that may be absent (0).
func optionalInt(item map[string]types.AttributeValue, attr string) (int64, error) {
	if _, ok := item[attr]; !ok {
		return 0, nil
	}
	return decodeInt(item, attr)
}

// counterOf is the counter whose own item is root and whose count is
// total.
func counterOf(root itemState, total int64, updated int64) counter.Counter {
	c := counter.Counter{
		Name:      root.name,
		Count:     total,
		CreatedAt: time.UnixMilli(root.created).UTC(),
		UpdatedAt: time.UnixMilli(max(root.updated, updated)).UTC(),
	}
	if root.shards > 1 {
		c.Shards = root.shards
	}
	return c
}

// shardOfKey splits the key of a counter's item into the counter's name and
// the item's suffix after c#<name> ("" for the counter's own, "#k" for
// shard k, "#@<region>" or "#@<region>#k" for a region's items); ok is
// false for a key that is not a counter's item.
func shardOfKey(pk string) (name, suffix string, ok bool) {
	rest, ok := strings.CutPrefix(pk, counterPrefix)
	if !ok {
		return "", "", false
	}
	name, k, sharded := strings.Cut(rest, "#")
	if !sharded {
		return name, "", true
	}
	if rk, ok := strings.CutPrefix(k, "@"); ok { // a region's item (region.go)
		r, shard, more := strings.Cut(rk, "#")
		if !ValidRegion(r) || more && !validShard(shard) {
			return name, "", false
		}
		return name, regionInfix + rk, true
	}
	if !validShard(k) {
		return name, "", false
	}
	return name, "#" + k, true
}

// validShard reports whether k is the number of a shard item, 1 to
// counter.MaxShards-1, as itemKey writes it.
func validShard(k string) bool {
	n, err := strconv.Atoi(k)
	return err == nil && n >= 1 && n < counter.MaxShards && strconv.Itoa(n) == k
}

// errShardMissing is an item below a counter's shard count that is not
// there, which the store never leaves.
var errShardMissing = fmt.Errorf("a shard item below the counter's shard count is missing")
