package counter

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// HitSum is the exact sum of a bucket's hits: a 128-bit two's complement
// integer, so that no sum of int64 hits a store could ever keep wraps
// (2^64 increments of ±MaxCount would not reach its bounds). The zero
// value is 0. Stores keep a bucket's sum exactly (the memory store in a
// HitSum, DynamoDB in a number of up to 38 digits) and show it saturated
// at the int64 bounds (Int64): Point.Hits never wraps, and a bucket never
// fails a query.
type HitSum struct {
	hi int64  // the high 64 bits, with the sign
	lo uint64 // the low 64 bits
}

// Add adds by to s.
func (s *HitSum) Add(by int64) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, uint64(by), 0)
	s.hi += by>>63 + int64(carry) // by's high 64 bits are its sign: 0 or -1
}

// Int64 returns s saturated at the int64 bounds: math.MaxInt64 above it,
// math.MinInt64 below it.
func (s HitSum) Int64() int64 {
	switch {
	case s.hi == 0 && s.lo <= math.MaxInt64, s.hi == -1 && s.lo > math.MaxInt64:
		return int64(s.lo)
	case s.hi < 0:
		return math.MinInt64
	}
	return math.MaxInt64
}

// String returns s in decimal, exactly: what a DynamoDB ADD of it takes.
func (s HitSum) String() string {
	if s.hi == 0 && s.lo <= math.MaxInt64 || s.hi == -1 && s.lo > math.MaxInt64 {
		return strconv.FormatInt(int64(s.lo), 10)
	}
	hi, lo, sign := uint64(s.hi), s.lo, ""
	if s.hi < 0 { // the magnitude: -s, in two's complement
		sign = "-"
		var borrow uint64
		lo, borrow = bits.Sub64(0, lo, 0)
		hi, _ = bits.Sub64(0, hi, borrow)
	}
	// |s| < 2^127, so its quotient by 10^19 fits 64 bits (hi < 10^19).
	const e19 = 10_000_000_000_000_000_000
	q, r := bits.Div64(hi, lo, e19)
	low := strconv.FormatUint(r, 10)
	if q == 0 {
		return sign + low
	}
	return sign + strconv.FormatUint(q, 10) + "0000000000000000000"[len(low):] + low
}

// hitSumBytes is the length of a HitSum in binary: its high, then its low
// 64 bits, big-endian.
const hitSumBytes = 16

// HitSumOf returns the sum holding hits.
func HitSumOf(hits int64) HitSum {
	var s HitSum
	s.Add(hits)
	return s
}

// AppendBinary appends s in binary (16 bytes) to b: how a store on disk
// keeps it. It implements encoding.BinaryAppender.
func (s HitSum) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint64(b, uint64(s.hi))
	return binary.BigEndian.AppendUint64(b, s.lo), nil
}

// UnmarshalBinary sets s from what AppendBinary wrote.
func (s *HitSum) UnmarshalBinary(data []byte) error {
	if len(data) != hitSumBytes {
		return fmt.Errorf("a hit sum is %d bytes, not %d", hitSumBytes, len(data))
	}
	s.hi, s.lo = int64(binary.BigEndian.Uint64(data)), binary.BigEndian.Uint64(data[8:])
	return nil
}
