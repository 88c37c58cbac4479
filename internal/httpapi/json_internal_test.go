package httpapi

import (
	"testing"
	"time"
)

// TestAppendTime checks the hand-written formatter against AppendFormat.
func TestAppendTime(t *testing.T) {
	tests := map[string]time.Time{
		"epoch":        time.Unix(0, 0),
		"example":      time.Date(2026, 11, 27, 3, 5, 49, 123456789, time.UTC),
		"other zone":   time.Date(2026, 1, 2, 23, 59, 59, 999999999, time.FixedZone("x", -7*3600)),
		"year 1":       time.Date(1, 1, 1, 0, 0, 0, 1e6, time.UTC),
		"year 9999":    time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		"year 10000":   time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"before 0":     time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		"now":          time.Now(),
		"leap day":     time.Date(2028, 2, 29, 12, 0, 0, 5e6, time.UTC),
		"monotonic":    time.Now().Add(time.Hour),
		"max duration": time.Unix(1<<33, 0),
	}
	for name, tm := range tests {
		t.Run(name, func(t *testing.T) {
			got := string(appendTime(nil, tm))
			want := tm.UTC().Format(timeLayout)
			if got != want {
				t.Errorf("appendTime(%v) = %q, want %q", tm, got, want)
			}
		})
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Now()
	buf := make([]byte, 0, 64)
	b.Run("appendTime", func(b *testing.B) {
		for b.Loop() {
			buf = appendTime(buf[:0], tm)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], timeLayout)
		}
	})
}
