package counter_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// TestHitSum adds runs of hits and compares the sum with math/big's: exact
// in String, saturated at the int64 bounds in Int64.
func TestHitSum(t *testing.T) {
	repeat := func(by int64, n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = by
		}
		return out
	}
	concat := func(runs ...[]int64) []int64 {
		var out []int64
		for _, r := range runs {
			out = append(out, r...)
		}
		return out
	}
	tests := map[string][]int64{
		"none":                   nil,
		"small":                  {3, 5, -1},
		"negative":               {-7, -2},
		"exactly math.MaxInt64":  {math.MaxInt64},
		"exactly math.MinInt64":  {math.MinInt64},
		"one past math.MaxInt64": {math.MaxInt64, 1},
		"one past math.MinInt64": {math.MinInt64, -1},
		"1025 x MaxCount":        repeat(counter.MaxCount, 1025),
		"-1025 x MaxCount":       repeat(-counter.MaxCount, 1025),
		"past and back":          concat(repeat(counter.MaxCount, 1025), repeat(-counter.MaxCount, 1025)),
		"past, back, past below": concat(repeat(counter.MaxCount, 2000), repeat(-counter.MaxCount, 5000)),
		"many math.MaxInt64":     repeat(math.MaxInt64, 1000),
		"many math.MinInt64":     repeat(math.MinInt64, 1000),
		"10^19 exactly":          {math.MaxInt64, 10_000_000_000_000_000_000 - math.MaxInt64},
		"10^19 + 10^18 exactly":  {math.MaxInt64, 11_000_000_000_000_000_000 - math.MaxInt64},
		"just above 10^19":       {5_000_000_000_000_000_000, 5_000_000_000_000_000_001},
		"just below -10^19":      {-5_000_000_000_000_000_000, -5_000_000_000_000_000_001},
		"-2^65":                  repeat(math.MinInt64, 4),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		var random []int64
		for range 100 + i*50 {
			random = append(random, int64(r.Uint64()))
		}
		tests["random "+string(rune('a'+i))] = random
	}
	minInt, maxInt := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	for name, hits := range tests {
		t.Run(name, func(t *testing.T) {
			var s counter.HitSum
			want := new(big.Int)
			for _, h := range hits {
				s.Add(h)
				want.Add(want, big.NewInt(h))
			}
			if got := s.String(); got != want.String() {
				t.Errorf("String() = %s, want %s", got, want)
			}
			clamped := want
			if want.Cmp(maxInt) > 0 {
				clamped = maxInt
			} else if want.Cmp(minInt) < 0 {
				clamped = minInt
			}
			if got := s.Int64(); got != clamped.Int64() {
				t.Errorf("Int64() = %d, want %d (the sum %s, saturated)", got, clamped.Int64(), want)
			}
		})
	}
}
