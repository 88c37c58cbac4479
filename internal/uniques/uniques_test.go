package uniques_test

import (
	"context"
	"fmt"
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
