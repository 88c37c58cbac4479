package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// timeLayout is RFC 3339 in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) <= 64<<10 {
		bufPool.Put(&b)
	}
}

// writeBody writes a JSON body with its status and returns the buffer to the pool.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = []string{"application/json"}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	putBuf(body)
}

// appendCounter appends c as a JSON object. Names are validated ASCII, so
// they need no escaping beyond what appendString does.
func appendCounter(b []byte, c counter.Counter) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, c.Count, 10)
	b = append(b, `,"created_at":"`...)
	b = appendTime(b, c.CreatedAt)
	b = append(b, `","updated_at":"`...)
	b = appendTime(b, c.UpdatedAt)
	return append(b, `"}`...)
}

// appendTime appends t in UTC as RFC 3339 with milliseconds, the layout
// timeLayout, without AppendFormat's layout parsing: it is on every
// response that carries a counter.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendError appends {"error":{"code":...,"message":...}}.
func appendError(b []byte, code, message string) []byte {
	b = append(b, `{"error":{"code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, message)
	return append(b, "}}"...)
}

// appendString appends s as a JSON string, escaping what JSON requires and
// replacing invalid UTF-8.
func appendString(b []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, err := json.Marshal(s) // escapes <, >, & too; never fails for a string
	if err != nil {
		return append(b, `""`...)
	}
	return append(b, enc...)
}

// decodeBody decodes the JSON request body into v, whatever its Content-Type:
// at most MaxBodyBytes holding exactly one JSON object whose member names
// are among names, matched exactly (encoding/json alone would take "Count"
// for "count"). It returns an InvalidRequest or PayloadTooLarge error;
// optional reports an empty body as io.EOF instead of an error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool, names ...string) error {
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return counter.Errorf(counter.InvalidRequest, "could not read the request body")
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		if optional {
			return io.EOF
		}
		return counter.Errorf(counter.InvalidRequest, "a JSON request body is required")
	}
	if data[0] != '{' { // null, in particular, would decode into v as nothing
		return counter.Errorf(counter.InvalidRequest, "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return counter.Errorf(counter.InvalidRequest, "the request body must hold exactly one JSON value")
	}
	if key, ok := unknownKey(data, names); ok {
		return counter.Errorf(counter.InvalidRequest, "the request body has an unknown field %q", truncated(key))
	}
	return nil
}

// unknownKey returns the first member name of the JSON object data that is
// not exactly one of names. data must be one valid JSON object, as
// encoding/json has just decoded it; the scan allocates only for a name
// with escapes.
func unknownKey(data []byte, names []string) (string, bool) {
	i := skipSpace(data, 1) // after '{'
	for i < len(data) && data[i] != '}' {
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		end := skipString(data, i)
		if data[i] != '"' || end-1 < i+1 {
			return "", true // not valid JSON after all
		}
		raw := data[i+1 : end-1]
		var unescaped string
		escaped := bytes.IndexByte(raw, '\\') >= 0
		if escaped && json.Unmarshal(data[i:end], &unescaped) != nil {
			return "", true
		}
		known := false
		for _, n := range names {
			if escaped && unescaped == n || !escaped && string(raw) == n { // no allocation
				known = true
				break
			}
		}
		if !known && escaped {
			return unescaped, true
		}
		if !known {
			return string(raw), true
		}
		i = skipSpace(data, end)
		i = skipSpace(data, i+1) // after ':'
		i = skipSpace(data, skipValue(data, i))
	}
	return "", false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string that starts at i.
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// skipValue returns the index after the JSON value that starts at i.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // a number, true, false or null
		for i < len(data) && data[i] != ',' && data[i] != '}' && data[i] != ']' &&
			data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r' {
			i++
		}
		return i
	}
}

func tooLarge() error {
	return counter.Errorf(counter.PayloadTooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
}

// invalidJSON turns a decoding error into a client-safe message.
func invalidJSON(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return counter.Errorf(counter.InvalidRequest, "the request body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		return counter.Errorf(counter.InvalidRequest, "the request body must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return counter.Errorf(counter.InvalidRequest, "the request body is truncated JSON")
	default:
		// Unknown fields and similar: encoding/json's text names only the
		// field, which the client sent.
		return counter.Errorf(counter.InvalidRequest, "the request body is not acceptable: %s", truncated(err.Error()))
	}
}

// parseName reads the JSON string field "name": absent or null is an
// InvalidName error, anything but a string an InvalidRequest error, and a
// string that is not a valid name an InvalidName error.
func parseName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", counter.Errorf(counter.InvalidName, "field \"name\" is required")
	}
	var name string
	if raw[0] != '"' || json.Unmarshal(raw, &name) != nil {
		return "", counter.Errorf(counter.InvalidRequest, "field \"name\" must be a string")
	}
	return name, counter.ValidateName(name)
}

// parseInt reads a JSON integer field. present is false for an absent
// field; anything but an integer literal within ±MaxCount (null, a string, a
// fraction, an exponent, a huge number) is an InvalidRequest error.
func parseInt(field string, raw json.RawMessage) (v int64, present bool, err error) {
	if len(raw) == 0 {
		return 0, false, nil
	}
	v, err = strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < -counter.MaxCount || v > counter.MaxCount {
		return 0, true, counter.Errorf(counter.InvalidRequest, "field %q must be an integer from %d to %d", field, -counter.MaxCount, counter.MaxCount)
	}
	return v, true, nil
}
