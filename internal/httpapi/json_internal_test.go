package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// TestCounterJSON checks a counter's JSON: its times in UTC with
// milliseconds, whatever the zone and precision of the time it holds.
func TestCounterJSON(t *testing.T) {
	tests := map[string]struct {
		at   time.Time
		want string
	}{
		"epoch":      {time.Unix(0, 0), "1970-01-01T00:00:00.000Z"},
		"truncated":  {time.Date(2026, 11, 27, 3, 5, 49, 123456789, time.UTC), "2026-11-27T03:05:49.123Z"},
		"other zone": {time.Date(2026, 1, 2, 23, 59, 59, 999999999, time.FixedZone("x", -7*3600)), "2026-01-03T06:59:59.999Z"},
		"leap day":   {time.Date(2028, 2, 29, 12, 0, 0, 5e6, time.UTC), "2028-02-29T12:00:00.005Z"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := json.Marshal(newCounterJSON(counter.Counter{Name: "a<b", Count: 7, CreatedAt: tc.at, UpdatedAt: tc.at}))
			if err != nil {
				t.Fatal(err)
			}
			want := `{"name":"a\u003cb","count":7,"created_at":"` + tc.want + `","updated_at":"` + tc.want + `"}`
			if string(got) != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// TestFormatTime checks formatTime against time.Format.
func TestFormatTime(t *testing.T) {
	tests := map[string]time.Time{
		"epoch":        time.Unix(0, 0),
		"example":      time.Date(2026, 11, 27, 3, 5, 49, 123456789, time.UTC),
		"other zone":   time.Date(2026, 1, 2, 23, 59, 59, 999999999, time.FixedZone("x", -7*3600)),
		"year 1":       time.Date(1, 1, 1, 0, 0, 0, 1e6, time.UTC),
		"year 9999":    time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		"year 10000":   time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"before 0":     time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		"now":          time.Now(),
		"monotonic":    time.Now().Add(time.Hour),
		"max duration": time.Unix(1<<33, 0),
	}
	for name, tm := range tests {
		t.Run(name, func(t *testing.T) {
			if got, want := formatTime(tm), tm.UTC().Format(timeLayout); got != want {
				t.Errorf("formatTime(%v) = %q, want %q", tm, got, want)
			}
		})
	}
}

func BenchmarkFormatTime(b *testing.B) {
	tm := time.Now()
	b.Run("formatTime", func(b *testing.B) {
		for b.Loop() {
			_ = formatTime(tm)
		}
	})
	b.Run("Format", func(b *testing.B) {
		for b.Loop() {
			_ = tm.UTC().Format(timeLayout)
		}
	})
}
