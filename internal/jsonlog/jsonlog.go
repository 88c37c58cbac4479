// Package jsonlog is a fast slog.Handler that writes one JSON object per
// line, with the same keys as slog.JSONHandler (time, level, msg, then the
// attributes). It exists because the request log is on every request's path:
// it formats with appends into a pooled buffer and makes one Write per line.
package jsonlog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Handler writes records as JSON lines to an io.Writer. Each line is one
// Write call, so a writer that is safe for concurrent use (an *os.File, a
// locked buffer) never sees lines interleave.
type Handler struct {
	w      io.Writer
	level  slog.Leveler
	prefix []byte // pre-rendered attributes from WithAttrs
	group  string // open group from WithGroup, as a key prefix
}

// New returns a Handler writing to w records at level or above (nil means Info).
func New(w io.Writer, level slog.Leveler) *Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &Handler{w: w, level: level}
}

var _ slog.Handler = (*Handler)(nil)

var pool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp := pool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, '{')
	if !r.Time.IsZero() {
		b = append(b, `"time":"`...)
		b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, r.Message)
	b = append(b, h.prefix...)
	r.Attrs(func(a slog.Attr) bool {
		b = h.appendAttr(b, a)
		return true
	})
	b = append(b, '}', '\n')
	_, err := h.w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		pool.Put(bp)
	}
	return err
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.prefix = append([]byte(nil), h.prefix...)
	for _, a := range attrs {
		h2.prefix = h2.appendAttr(h2.prefix, a)
	}
	return &h2
}

// WithGroup implements slog.Handler; groups become dotted key prefixes.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

func (h *Handler) appendAttr(b []byte, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		h2 := *h
		if a.Key != "" {
			h2.group = h.group + a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			b = h2.appendAttr(b, ga)
		}
		return b
	}
	b = append(b, ',')
	if h.group != "" {
		b = appendString(b, h.group+a.Key)
	} else {
		b = appendString(b, a.Key)
	}
	b = append(b, ':')
	return appendValue(b, a.Value)
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		b = append(b, '"')
		b = v.Time().UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	default:
		x := v.Any()
		if err, ok := x.(error); ok {
			return appendString(b, err.Error())
		}
		enc, err := json.Marshal(x)
		if err != nil {
			return appendString(b, "!ERROR:"+err.Error())
		}
		return append(b, enc...)
	}
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			enc, _ := json.Marshal(s) // never fails for a string
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
