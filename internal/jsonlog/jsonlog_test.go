package jsonlog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/jsonlog"
)

func TestHandlerMatchesJSONHandler(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"message only", func(l *slog.Logger) { l.Info("hello") }},
		{"kinds", func(l *slog.Logger) {
			l.Warn("kinds", "s", "x\"y\n", "i", -3, "u", uint64(7), "f", 1.5, "b", true,
				"d", 2*time.Millisecond, "t", time.Date(2026, 11, 27, 3, 5, 49, 123e6, time.UTC), "e", errors.New("boom"), "m", map[string]int{"a": 1})
		}},
		{"groups", func(l *slog.Logger) {
			l.With("k", "v").WithGroup("g").Error("grouped", "a", 1, slog.Group("h", "b", 2))
		}},
		{"non-ASCII", func(l *slog.Logger) { l.Info("héllo \x00", "ключ", "значение") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			tt.log(slog.New(jsonlog.New(&got, slog.LevelDebug)))
			if strings.Count(got.String(), "\n") != 1 {
				t.Fatalf("want exactly one line, got %q", got.String())
			}
			var m map[string]any
			if err := json.Unmarshal(got.Bytes(), &m); err != nil {
				t.Fatalf("line is not JSON: %v: %s", err, got.String())
			}
			for _, key := range []string{"time", "level", "msg"} {
				if _, ok := m[key]; !ok {
					t.Errorf("line lacks %q: %s", key, got.String())
				}
			}
			// Same keys and values as the standard handler, time aside.
			var want bytes.Buffer
			tt.log(slog.New(slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug})))
			var wm map[string]any
			if err := json.Unmarshal(want.Bytes(), &wm); err != nil {
				t.Fatal(err)
			}
			delete(m, "time")
			delete(wm, "time")
			gb, _ := json.Marshal(m)
			wb, _ := json.Marshal(flattened(wm))
			if string(gb) != string(wb) {
				t.Errorf("got  %s\nwant %s", gb, wb)
			}
		})
	}
}

func TestHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(jsonlog.New(&buf, slog.LevelWarn))
	l.Info("dropped")
	l.Warn("kept")
	if got := strings.Count(buf.String(), "\n"); got != 1 || !strings.Contains(buf.String(), "kept") {
		t.Errorf("got %q, want only the warning", buf.String())
	}
}

func flattened(m map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v map[string]any)
	walk = func(prefix string, v map[string]any) {
		for k, x := range v {
			if sub, ok := x.(map[string]any); ok && k != "m" {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = x
		}
	}
	walk("", m)
	return out
}

func BenchmarkHandler(b *testing.B) {
	for name, h := range map[string]slog.Handler{
		"jsonlog": jsonlog.New(discard{}, nil),
		"stdlib":  slog.NewJSONHandler(discard{}, nil),
	} {
		b.Run(name+"/record", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				r.AddAttrs(slog.String("method", "POST"),
					slog.String("path", "/counters/home/increment"), slog.Int("status", 200), slog.Int("bytes", 105),
					slog.Float64("duration_ms", 0.042), slog.String("remote", "127.0.0.1:4242"))
				_ = h.Handle(b.Context(), r)
			}
		})
		b.Run(name, func(b *testing.B) {
			l := slog.New(h)
			b.ReportAllocs()
			for b.Loop() {
				l.LogAttrs(b.Context(), slog.LevelInfo, "request", slog.String("method", "POST"),
					slog.String("path", "/counters/home/increment"), slog.Int("status", 200), slog.Int("bytes", 105),
					slog.Float64("duration_ms", 0.042), slog.String("remote", "127.0.0.1:4242"))
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
