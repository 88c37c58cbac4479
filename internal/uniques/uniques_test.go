package uniques_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

func TestMemorySaltsOnePerDayForgotten(t *testing.T) {
	var m uniques.MemorySalts
	ctx := context.Background()
	day := counter.Day.Start(time.Now())
	a, _ := m.Salt(ctx, day)
	again, _ := m.Salt(ctx, day)
	if a != again {
		t.Error("two salts for one day")
	}
	b, _ := m.Salt(ctx, day.Add(24*time.Hour))
	if a == b {
		t.Error("the next day has the same salt")
	}
	if a == (uniques.Salt{}) {
		t.Error("the salt is zero")
	}
	if m.Kept() != 2 {
		t.Errorf("kept %d salts, want 2 (yesterday's within the margin)", m.Kept())
	}
	m.Salt(ctx, day.Add(3*24*time.Hour))
	if m.Kept() != 1 {
		t.Errorf("kept %d salts two days later, want 1: past days' salts are deleted", m.Kept())
	}
}

func TestVisitor(t *testing.T) {
	day := 0
	salts := uniques.SaltFunc(func(time.Time) uniques.Salt { return uniques.Salt{byte(day)} })
	h := uniques.NewHasher(salts, nil)
	ctx := context.Background()
	v := func(addr, ua, name string) counter.Visitor {
		x, err := h.Visitor(ctx, addr, ua, name)
		if err != nil || x == 0 {
			t.Fatalf("Visitor = %d, %v", x, err)
		}
		return x
	}
	base := v("192.0.2.1", "Firefox", "c")
	for name, other := range map[string]counter.Visitor{
		"another address":    v("192.0.2.2", "Firefox", "c"),
		"another User-Agent": v("192.0.2.1", "Chrome", "c"),
		"another counter":    v("192.0.2.1", "Firefox", "d"),
		"shifted fields":     v("192.0.2.1Fire", "fox", "c"),
	} {
		if other == base {
			t.Errorf("%s: the same visitor", name)
		}
	}
	if again := v("192.0.2.1", "Firefox", "c"); again != base {
		t.Error("the same client is another visitor")
	}
	day = 1
	if next := v("192.0.2.1", "Firefox", "c"); next == base {
		t.Error("the next day's salt makes the same visitor")
	}
	if p := h.Pseudonym(ctx, "192.0.2.1"); len(p) != 16 || p == "192.0.2.1" {
		t.Errorf("Pseudonym = %q", p)
	}
}

func TestSketch(t *testing.T) {
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		for _, n := range []int{0, 1, 100, 1000, 5000, 10_000, 20_000} {
			t.Run(fmt.Sprintf("%s/%d", p, n), func(t *testing.T) {
				s := uniques.NewSketch(p)
				for i := range n {
					s.Add(counter.Visitor(i + 1))
					s.Add(counter.Visitor(i + 1))
				}
				s.Add(0)
				for _, enc := range []struct {
					name   string
					encode func() ([]byte, error)
				}{{"Encode", s.Encode}, {"EncodeUncompressed", s.EncodeUncompressed}} {
					b, err := enc.encode()
					if err != nil {
						t.Fatal(err)
					}
					d, err := uniques.Decode(p, b)
					if err != nil {
						t.Fatal(err)
					}
					got := d.Estimate()
					if n*16 <= 1<<uniques.Precision(p) && got != int64(n) { // sparse: exact in practice
						t.Errorf("%s: estimate %d of %d: small numbers are exact", enc.name, got, n)
					}
					if e := float64(got-int64(n)) / float64(max(n, 1)); e > 0.03 || e < -0.03 {
						t.Errorf("%s: estimate %d of %d", enc.name, got, n)
					}
					if limit := 1<<uniques.Precision(p) + 8; enc.name == "EncodeUncompressed" && len(b) > limit {
						t.Errorf("%s: %d bytes, more than a dense sketch's %d", enc.name, len(b), limit)
					}
					t.Logf("%s, %d visitors, %s: %d bytes, estimate %d", p, n, enc.name, len(b), got)
				}
			})
		}
	}
	b, _ := uniques.NewSketch(counter.Hour).Encode()
	if _, err := uniques.Decode(counter.Day, b); err == nil {
		t.Error("an hour's sketch decoded as a day's")
	}
	if _, err := uniques.Decode(counter.Day, []byte("junk")); err == nil {
		t.Error("junk decoded")
	}
}

// referenceVisitor is Visitor's documented formula, computed the plain way.
func referenceVisitor(salt uniques.Salt, addr, userAgent, name string) counter.Visitor {
	mac := hmac.New(sha256.New, salt[:])
	for _, s := range []string{addr, userAgent, name} {
		_ = binary.Write(mac, binary.BigEndian, uint64(len(s)))
		mac.Write([]byte(s))
	}
	v := counter.Visitor(binary.BigEndian.Uint64(mac.Sum(nil)))
	if v == 0 {
		v = 1
	}
	return v
}

// TestVisitorAcrossGoroutinesAndDays: the hashes Visitor keys once for a
// day and reuses give, from many goroutines at once, the documented HMAC of each
// visitor; when the clock passes midnight, the next day's salt is asked
// for and used, by Pseudonym too.
func TestVisitorAcrossGoroutinesAndDays(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var asked atomic.Int32
	saltOf := func(day time.Time) uniques.Salt {
		var s uniques.Salt
		copy(s[:], day.Format(time.DateOnly))
		return s
	}
	h := uniques.NewHasher(uniques.SaltFunc(func(day time.Time) uniques.Salt {
		asked.Add(1)
		return saltOf(day)
	}), clock)
	ctx := context.Background()
	check := func() {
		salt := saltOf(counter.Day.Start(clock()))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					addr, ua, name := fmt.Sprintf("192.0.2.%d", i%256), strings.Repeat("Mozilla/5.0 ", 1+i%40), fmt.Sprintf("c%d", g)
					got, err := h.Visitor(ctx, addr, ua, name)
					if want := referenceVisitor(salt, addr, ua, name); err != nil || got != want {
						t.Errorf("Visitor(%q, %q, %q) = %d, %v; want %d", addr, ua, name, got, err, want)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	check()
	before := h.Pseudonym(ctx, "192.0.2.1")
	now.Add(int64(24 * time.Hour))
	n := asked.Load()
	after := h.Pseudonym(ctx, "192.0.2.1")
	if asked.Load() == n {
		t.Error("Pseudonym did not ask for the next day's salt")
	}
	if after == before || len(after) != 16 {
		t.Errorf("Pseudonym the next day = %q, the day before %q: want another", after, before)
	}
	check()
}

// BenchmarkVisitor and BenchmarkPseudonym: a request's visitor hash and
// its request log's pseudonym, under the memory store's salts.
func BenchmarkVisitor(b *testing.B) {
	h := uniques.NewHasher(&uniques.MemorySalts{}, nil)
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Visitor(b.Context(), "192.0.2.1", ua, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPseudonym(b *testing.B) {
	h := uniques.NewHasher(&uniques.MemorySalts{}, nil)
	b.ReportAllocs()
	for b.Loop() {
		h.Pseudonym(b.Context(), "192.0.2.1")
	}
}
