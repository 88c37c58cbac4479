package filestore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// The buckets of the file; see the package doc.
var (
	bucketMeta     = []byte("meta")
	bucketCounters = []byte("counters")
	bucketHours    = []byte("hours")
	bucketDays     = []byte("days")
	bucketRecords  = []byte("records")
	bucketExpiry   = []byte("expiry")
	bucketClients  = []byte("clients")
	bucketByClient = []byte("byclient")

	allBuckets = [][]byte{bucketMeta, bucketCounters, bucketHours, bucketDays, bucketRecords, bucketExpiry, bucketClients, bucketByClient}
)

// formatKey in the meta bucket holds formatV1: a file without it is not
// one of ours, and a later layout would change the value.
var (
	formatKey = []byte("format")
	formatV1  = []byte("hitcounter-file-v1")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errChecksum is the cause of a value that fails its checksum.
var errChecksum = errors.New("checksum mismatch")

// seal appends to v the CRC-32C of the bucket's name, the key and v.
func seal(bucket, key, v []byte) []byte {
	return binary.BigEndian.AppendUint32(v, checksum(bucket, key, v))
}

func checksum(bucket, key, v []byte) uint32 {
	c := crc32.Update(0, castagnoli, bucket)
	c = crc32.Update(c, castagnoli, []byte{0})
	c = crc32.Update(c, castagnoli, key)
	return crc32.Update(c, castagnoli, v)
}

// unseal checks the checksum that seal appended and returns the value
// without it, or an error naming where the damage is.
func unseal(bucket, key, sealed []byte) ([]byte, error) {
	if len(sealed) < 4 {
		return nil, damagedValue(bucket, key, errors.New("shorter than its checksum"))
	}
	v, sum := sealed[:len(sealed)-4], binary.BigEndian.Uint32(sealed[len(sealed)-4:])
	if checksum(bucket, key, v) != sum {
		return nil, damagedValue(bucket, key, errChecksum)
	}
	return v, nil
}

func damagedValue(bucket, key []byte, cause error) error {
	return fmt.Errorf("%w: the value of %q in bucket %s: %w", ErrDamaged, key, bucket, cause)
}

// millis and fromMillis store times as Unix milliseconds, UTC.
func millis(t time.Time) uint64 { return uint64(t.UnixMilli()) }

func fromMillis(ms uint64) time.Time { return time.UnixMilli(int64(ms)).UTC() }

// A counter's value: count, created_at and updated_at (8 bytes each),
// then, only for a counter asked to spread over shards (counter.Write
// WithShards), the shard count asked for (2 bytes). The store needs no
// shards (one writer makes every change atomic) but reports the number as
// the memory store does; a counter without shards keeps the 24 bytes of
// files written before the field existed.
const (
	counterSize       = 24
	counterShardsSize = counterSize + 2
)

func encodeCounter(c counter.Counter) []byte {
	b := make([]byte, 0, counterShardsSize+4)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Count))
	b = binary.BigEndian.AppendUint64(b, millis(c.CreatedAt))
	b = binary.BigEndian.AppendUint64(b, millis(c.UpdatedAt))
	if c.Shards > 1 {
		b = binary.BigEndian.AppendUint16(b, uint16(c.Shards))
	}
	return seal(bucketCounters, []byte(c.Name), b)
}

func decodeCounter(name, sealed []byte) (counter.Counter, error) {
	v, err := unseal(bucketCounters, name, sealed)
	if err != nil {
		return counter.Counter{}, err
	}
	if len(v) != counterSize && len(v) != counterShardsSize {
		return counter.Counter{}, damagedValue(bucketCounters, name, fmt.Errorf("%d bytes, want %d or %d", len(v), counterSize, counterShardsSize))
	}
	c := counter.Counter{
		Name:      string(name),
		Count:     int64(binary.BigEndian.Uint64(v)),
		CreatedAt: fromMillis(binary.BigEndian.Uint64(v[8:])),
		UpdatedAt: fromMillis(binary.BigEndian.Uint64(v[16:])),
	}
	if len(v) == counterShardsSize {
		if c.Shards = int(binary.BigEndian.Uint16(v[24:])); c.Shards < 2 || c.Shards > counter.MaxShards {
			return counter.Counter{}, damagedValue(bucketCounters, name, fmt.Errorf("%d shards, want 2 to %d", c.Shards, counter.MaxShards))
		}
	}
	return c, nil
}

// historyPrefix is the start of the keys of a counter's buckets in hours
// and days: the name and a 0x00, which no name holds.
func historyPrefix(name string) []byte {
	return append([]byte(name), 0)
}

// historyKey is the key of the bucket starting at start.
func historyKey(name string, start time.Time) []byte {
	return binary.BigEndian.AppendUint64(historyPrefix(name), uint64(start.Unix()))
}

// historyStart returns the start, in Unix seconds, of the bucket key
// (historyKey); ok is false for a key of another shape.
func historyStart(key []byte) (int64, bool) {
	if len(key) < 10 || key[len(key)-9] != 0 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(key[len(key)-8:])), true
}

// bucketValue is the value of one hour's or day's bucket of a counter:
// its hits; its bots; its visitors: uniques, the estimate of a bucket
// frozen once a later one of the counter got a write, plus sketch, the
// encoded visitors (uniques.Sketch.Encode) counted since, nil for none.
type bucketValue struct {
	hits    counter.HitSum
	bots    int64
	uniques int64
	sketch  []byte
}

// hitSumSize is the size of a counter.HitSum in binary; a bucket value of
// that size holds hits only (as every value did before visitors and bots
// were counted), a longer one bots and uniques (8 bytes each) then the
// sketch.
const hitSumSize = 16

func encodeBucket(bucket, key []byte, b bucketValue) []byte {
	v, _ := b.hits.AppendBinary(make([]byte, 0, hitSumSize+16+len(b.sketch)+4)) // never fails
	if b.bots != 0 || b.uniques != 0 || len(b.sketch) > 0 {
		v = binary.BigEndian.AppendUint64(v, uint64(b.bots))
		v = binary.BigEndian.AppendUint64(v, uint64(b.uniques))
		v = append(v, b.sketch...)
	}
	return seal(bucket, key, v)
}

func decodeBucket(bucket, key, sealed []byte) (bucketValue, error) {
	var b bucketValue
	v, err := unseal(bucket, key, sealed)
	if err != nil {
		return b, err
	}
	if len(v) != hitSumSize && len(v) < hitSumSize+16 {
		return b, damagedValue(bucket, key, fmt.Errorf("%d bytes, want %d or at least %d", len(v), hitSumSize, hitSumSize+16))
	}
	if err := b.hits.UnmarshalBinary(v[:hitSumSize]); err != nil {
		return b, damagedValue(bucket, key, err)
	}
	if v = v[hitSumSize:]; len(v) > 0 {
		b.bots, b.uniques = int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
		if b.bots < 0 || b.uniques < 0 {
			return b, damagedValue(bucket, key, errors.New("a negative number of bots or visitors"))
		}
		if len(v) > 16 {
			b.sketch = v[16:]
		}
	}
	return b, nil
}

// record is the answer to one keyed write, kept until it expires.
type record struct {
	fingerprint [sha256.Size]byte
	expires     time.Time
	result      counter.Result // Replayed unset
	// code and message are those of the refusal the write was answered
	// with; "" for none.
	code, message string
}

func (r record) err() error {
	if r.code == "" {
		return nil
	}
	return &counter.Error{Code: r.code, Message: r.message}
}

// Record flags.
const (
	recordCreated    = 1 << iota // result.Created
	recordHasCounter             // result.Counter is set (not a delete or a refusal)
	recordHasShards              // result.Counter.Shards follows the message (2 bytes)
)

func encodeRecord(scope []byte, r record) []byte {
	c := r.result.Counter
	b := make([]byte, 0, 128+len(c.Name)+len(r.message))
	b = append(b, r.fingerprint[:]...)
	b = binary.BigEndian.AppendUint64(b, millis(r.expires))
	var flags byte
	if r.result.Created {
		flags |= recordCreated
	}
	if c != (counter.Counter{}) {
		flags |= recordHasCounter
	}
	if c.Shards > 1 {
		flags |= recordHasShards
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Count))
	b = binary.BigEndian.AppendUint64(b, millis(c.CreatedAt))
	b = binary.BigEndian.AppendUint64(b, millis(c.UpdatedAt))
	b = appendString(b, c.Name)
	b = appendString(b, r.code)
	b = appendString(b, r.message)
	if c.Shards > 1 {
		b = binary.BigEndian.AppendUint16(b, uint16(c.Shards))
	}
	return seal(bucketRecords, scope, b)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func decodeRecord(scope, sealed []byte) (record, error) {
	v, err := unseal(bucketRecords, scope, sealed)
	if err != nil {
		return record{}, err
	}
	bad := func() (record, error) {
		return record{}, damagedValue(bucketRecords, scope, errors.New("malformed record"))
	}
	const fixed = sha256.Size + 8 + 1 + 24
	if len(v) < fixed {
		return bad()
	}
	var r record
	copy(r.fingerprint[:], v)
	v = v[sha256.Size:]
	r.expires = fromMillis(binary.BigEndian.Uint64(v))
	flags := v[8]
	v = v[9:]
	c := counter.Counter{
		Count:     int64(binary.BigEndian.Uint64(v)),
		CreatedAt: fromMillis(binary.BigEndian.Uint64(v[8:])),
		UpdatedAt: fromMillis(binary.BigEndian.Uint64(v[16:])),
	}
	v = v[24:]
	var ok bool
	if c.Name, v, ok = cutString(v); !ok {
		return bad()
	}
	if r.code, v, ok = cutString(v); !ok {
		return bad()
	}
	if r.message, v, ok = cutString(v); !ok {
		return bad()
	}
	if flags&recordHasShards != 0 {
		if len(v) < 2 {
			return bad()
		}
		c.Shards, v = int(binary.BigEndian.Uint16(v)), v[2:]
	}
	if len(v) != 0 {
		return bad()
	}
	if flags&recordHasCounter != 0 {
		r.result.Counter = c
	}
	r.result.Created = flags&recordCreated != 0
	return r, nil
}

func cutString(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// expiryKey orders the records by expiry: the expiry time, then the scope.
func expiryKey(expires time.Time, scope []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(scope)), millis(expires)), scope...)
}
