package dynamoproxy

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits are what each partition key of every table may take, in units a
// second as DynamoDB bills them (a write of up to 1 KB is 1 write unit, 2
// in a transaction; a strongly consistent read of up to 4 KB is 1 read
// unit, 0.5 eventually consistent, 2 in a transaction). 0 is no limit. On
// AWS a key takes about 1,000 write and 3,000 read units a second; scaled
// down, the same ratios show here what sharding changes.
//
// A key admits a request while its bucket holds any capacity, then owes
// the request's cost (which may leave it below zero), so a transaction
// that needs 2 units is not starved by single writes of 1. A request
// whose key has none left is refused, unapplied, as DynamoDB refuses it:
// HTTP 400 ProvisionedThroughputExceededException with the throttling
// reason TableWriteKeyRangeThroughputExceeded (or ...Read...); a
// transaction with TransactionCanceledException and a ThrottlingError
// reason for each item refused; a BatchGetItem with the refused keys in
// UnprocessedKeys (or the exception, if all are refused). Query, Scan and
// BatchWriteItem are counted, not limited.
type Limits struct {
	WriteUnits float64
	ReadUnits  float64
	// Burst is how long a key saves up unused capacity, as DynamoDB's
	// burst capacity does; 0 means one second.
	Burst time.Duration
	// KeyAttribute is the partition key attribute of every table; "" is
	// "pk".
	KeyAttribute string
}

// Usage is what the proxy admitted and refused since it started or since
// ResetUsage.
type Usage struct {
	// WriteUnits and ReadUnits are the units of the requests admitted,
	// as DynamoDB would bill them for items of at most 1 KB.
	WriteUnits, ReadUnits float64
	// ThrottledWrites and ThrottledReads count the requests refused
	// (a BatchGetItem with some keys unprocessed counts once).
	ThrottledWrites, ThrottledReads int
	// Requests counts the requests per operation, admitted or not.
	Requests map[string]int
	// Tables splits the units of single-item and transactional requests
	// (and BatchGetItem's) by table name.
	Tables map[string]Units
}

// Units are the write and read units admitted on one table.
type Units struct{ Write, Read float64 }

// SetLimits sets (or, with the zero Limits, lifts) the limits, from the
// next request on.
func (p *Proxy) SetLimits(l Limits) {
	t := p.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	if l.KeyAttribute == "" {
		l.KeyAttribute = "pk"
	}
	if l.Burst <= 0 {
		l.Burst = time.Second
	}
	t.limits = l
	clear(t.buckets)
}

// Usage returns what the proxy admitted and refused.
func (p *Proxy) Usage() Usage {
	t := p.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.usage
	u.Requests = maps.Clone(t.usage.Requests)
	u.Tables = maps.Clone(t.usage.Tables)
	return u
}

// ResetUsage starts counting Usage again from zero.
func (p *Proxy) ResetUsage() {
	t := p.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	t.usage = Usage{Requests: map[string]int{}, Tables: map[string]Units{}}
}

type throttle struct {
	mu      sync.Mutex
	limits  Limits
	buckets map[bucketKey]*bucket
	usage   Usage
	now     func() time.Time
}

func newThrottle() *throttle {
	return &throttle{limits: Limits{KeyAttribute: "pk", Burst: time.Second}, buckets: map[bucketKey]*bucket{},
		usage: Usage{Requests: map[string]int{}, Tables: map[string]Units{}}, now: time.Now}
}

// bucketKey is one partition key's reads or writes.
type bucketKey struct {
	table, key string
	write      bool
}

type bucket struct {
	tokens float64
	at     time.Time
}

// access is one item a request reads or writes.
type access struct {
	table string
	key   string // the partition key's value, as JSON
	write bool
	units float64
}

// admission is an admitted request whose body or answer the proxy
// changes: a BatchGetItem with some keys refused.
type admission struct {
	body   []byte
	answer func(res *http.Response, body []byte) []byte
}

// refusal is DynamoDB's answer to a throttled request.
type refusal struct {
	body []byte
}

// The request shapes the proxy reads.
type (
	itemRequest struct {
		TableName      string
		Key, Item      map[string]json.RawMessage
		ConsistentRead bool
	}
	transactRequest struct {
		TransactItems []map[string]itemRequest
	}
	batchGetRequest struct {
		RequestItems map[string]map[string]json.RawMessage
	}
)

// admit decides on a request of operation op with the given body: nil, nil
// to forward it as it is.
func (t *throttle) admit(op string, body []byte) (*admission, *refusal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.usage.Requests[op]++
	switch op {
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem":
		var in itemRequest
		if json.Unmarshal(body, &in) != nil {
			return nil, nil // DynamoDB will say what is wrong with it
		}
		a := access{table: in.TableName, key: t.partition(in.Key, in.Item), write: op != "GetItem", units: 1}
		if !a.write && !in.ConsistentRead {
			a.units = 0.5
		}
		if !t.take([]access{a}) {
			return nil, t.exception(a)
		}
	case "TransactWriteItems", "TransactGetItems":
		var in transactRequest
		if json.Unmarshal(body, &in) != nil {
			return nil, nil
		}
		accesses := make([]access, 0, len(in.TransactItems))
		for _, item := range in.TransactItems {
			for _, r := range item { // one of Put, Update, Delete, ConditionCheck, Get
				accesses = append(accesses, access{table: r.TableName, key: t.partition(r.Key, r.Item), write: op == "TransactWriteItems", units: 2})
			}
		}
		if refused := t.refused(accesses); refused != nil {
			if op == "TransactWriteItems" {
				t.usage.ThrottledWrites++
			} else {
				t.usage.ThrottledReads++
			}
			return nil, t.cancellation(refused)
		}
		t.take(accesses)
	case "BatchGetItem":
		return t.batchGet(body)
	case "Query", "Scan":
		t.usage.ReadUnits += 0.5 // at least; the proxy does not size the answer
	case "BatchWriteItem":
		var in struct{ RequestItems map[string][]json.RawMessage }
		if json.Unmarshal(body, &in) == nil {
			for _, reqs := range in.RequestItems {
				t.usage.WriteUnits += float64(len(reqs))
			}
		}
	}
	return nil, nil
}

// partition returns the partition key's value in key (or item), as JSON.
func (t *throttle) partition(key, item map[string]json.RawMessage) string {
	if v, ok := key[t.limits.KeyAttribute]; ok {
		return string(v)
	}
	return string(item[t.limits.KeyAttribute])
}

// refill returns the bucket of a key's reads or writes, refilled to now.
func (t *throttle) refill(a access) (*bucket, float64) {
	rate := t.limits.ReadUnits
	if a.write {
		rate = t.limits.WriteUnits
	}
	if rate <= 0 {
		return nil, 0
	}
	k := bucketKey{a.table, a.key, a.write}
	now := t.now()
	capacity := rate * t.limits.Burst.Seconds()
	b := t.buckets[k]
	if b == nil {
		if len(t.buckets) > 100_000 {
			t.sweep(now)
		}
		b = &bucket{tokens: capacity, at: now}
		t.buckets[k] = b
	}
	b.tokens = min(capacity, b.tokens+rate*now.Sub(b.at).Seconds())
	b.at = now
	return b, rate
}

// sweep forgets the buckets that are full again: a full bucket is what a
// key never seen starts with.
func (t *throttle) sweep(now time.Time) {
	for k, b := range t.buckets {
		rate := t.limits.ReadUnits
		if k.write {
			rate = t.limits.WriteUnits
		}
		if b.tokens+rate*now.Sub(b.at).Seconds() >= rate*t.limits.Burst.Seconds() {
			delete(t.buckets, k)
		}
	}
}

// refused returns, for each access, whether its key has no capacity left;
// nil if none is refused.
func (t *throttle) refused(accesses []access) []bool {
	var refused []bool
	for i, a := range accesses {
		if b, rate := t.refill(a); rate > 0 && b.tokens <= 0 {
			if refused == nil {
				refused = make([]bool, len(accesses))
			}
			refused[i] = true
		}
	}
	return refused
}

// take admits accesses if every key has capacity left, and charges them.
func (t *throttle) take(accesses []access) bool {
	if t.refused(accesses) != nil {
		// A request counts once, as the kind of its first access.
		if len(accesses) > 0 && accesses[0].write {
			t.usage.ThrottledWrites++
		} else if len(accesses) > 0 {
			t.usage.ThrottledReads++
		}
		return false
	}
	for _, a := range accesses {
		if b, rate := t.refill(a); rate > 0 {
			b.tokens -= a.units
		}
		tu := t.usage.Tables[a.table]
		if a.write {
			t.usage.WriteUnits += a.units
			tu.Write += a.units
		} else {
			t.usage.ReadUnits += a.units
			tu.Read += a.units
		}
		t.usage.Tables[a.table] = tu
	}
	return true
}

// batchGet admits the keys of a BatchGetItem that have capacity: all of
// them (forwarded as it is), some (forwarded without the others, which the
// answer lists in UnprocessedKeys, as DynamoDB does), or none (refused).
func (t *throttle) batchGet(body []byte) (*admission, *refusal) {
	var in batchGetRequest
	if json.Unmarshal(body, &in) != nil {
		return nil, nil
	}
	admitted := map[string]map[string]json.RawMessage{}
	unprocessed := map[string]map[string]json.RawMessage{}
	var first access
	refusedAny, admittedAny := false, false
	for table, req := range in.RequestItems {
		var keys []map[string]json.RawMessage
		if json.Unmarshal(req["Keys"], &keys) != nil {
			return nil, nil
		}
		var consistent bool
		_ = json.Unmarshal(req["ConsistentRead"], &consistent)
		var ok, no []map[string]json.RawMessage
		for _, key := range keys {
			a := access{table: table, key: t.partition(key, nil), units: 1}
			if !consistent {
				a.units = 0.5
			}
			if t.refused([]access{a}) != nil {
				no = append(no, key)
				if !refusedAny {
					first, refusedAny = a, true
				}
				continue
			}
			t.take([]access{a})
			ok = append(ok, key)
		}
		if len(ok) > 0 {
			admittedAny = true
			admitted[table] = withKeys(req, ok)
		}
		if len(no) > 0 {
			unprocessed[table] = withKeys(req, no)
		}
	}
	switch {
	case !refusedAny:
		return nil, nil
	case !admittedAny:
		t.usage.ThrottledReads++
		return nil, t.exception(first)
	}
	t.usage.ThrottledReads++
	newBody, err := json.Marshal(map[string]any{"RequestItems": admitted})
	if err != nil {
		return nil, nil
	}
	return &admission{body: newBody, answer: func(res *http.Response, body []byte) []byte {
		var out map[string]json.RawMessage
		if json.Unmarshal(body, &out) != nil {
			return body
		}
		var prior map[string]map[string]json.RawMessage
		_ = json.Unmarshal(out["UnprocessedKeys"], &prior)
		maps.Copy(unprocessed, prior) // DynamoDB Local's own, if any, on tables the proxy refused none of
		out["UnprocessedKeys"], _ = json.Marshal(unprocessed)
		newBody, err := json.Marshal(out)
		if err != nil {
			return body
		}
		res.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(newBody)), 10))
		res.Header.Set("Content-Length", strconv.Itoa(len(newBody)))
		return newBody
	}}, nil
}

// withKeys returns a BatchGetItem table request req with keys instead of
// its own.
func withKeys(req map[string]json.RawMessage, keys []map[string]json.RawMessage) map[string]json.RawMessage {
	r := maps.Clone(req)
	r["Keys"], _ = json.Marshal(keys)
	return r
}

// throttledMessage is DynamoDB's message for a throttled hot key.
const throttledMessage = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html."

// tableARN is a table's ARN as DynamoDB Local names it.
func tableARN(table string) string { return "arn:aws:dynamodb:ddblocal:000000000000:table/" + table }

// exception is DynamoDB's answer to a single-item request throttled on
// a's key.
func (t *throttle) exception(a access) *refusal {
	reason := "TableReadKeyRangeThroughputExceeded"
	if a.write {
		reason = "TableWriteKeyRangeThroughputExceeded"
	}
	body, _ := json.Marshal(map[string]any{
		"__type":            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
		"message":           throttledMessage,
		"ThrottlingReasons": []map[string]string{{"reason": reason, "resource": tableARN(a.table)}},
	})
	return &refusal{body: body}
}

// cancellation is DynamoDB's answer to a transaction some of whose items
// were throttled.
func (t *throttle) cancellation(refused []bool) *refusal {
	reasons := make([]map[string]string, len(refused))
	codes := make([]string, len(refused))
	for i, r := range refused {
		codes[i] = "None"
		if r {
			codes[i] = "ThrottlingError"
			reasons[i] = map[string]string{"Code": codes[i], "Message": throttledMessage}
			continue
		}
		reasons[i] = map[string]string{"Code": codes[i]}
	}
	body, _ := json.Marshal(map[string]any{
		"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"Message":             fmt.Sprintf("Transaction cancelled, please refer cancellation reasons for specific reasons [%s]", strings.Join(codes, ", ")),
		"CancellationReasons": reasons,
	})
	return &refusal{body: body}
}

// writeRefusal answers a throttled request as DynamoDB does.
func writeRefusal(w http.ResponseWriter, r *refusal) {
	id := make([]byte, 26)
	_, _ = rand.Read(id)
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", strings.ToUpper(hex.EncodeToString(id))[:52])
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(r.body)), 10))
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(r.body)
}
