package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
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
	b = c.CreatedAt.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","updated_at":"`...)
	b = c.UpdatedAt.UTC().AppendFormat(b, timeLayout)
	return append(b, `"}`...)
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
// exactly one JSON value, no unknown fields, at most MaxBodyBytes. It
// returns an InvalidRequest or PayloadTooLarge error; optional reports an
// empty body as io.EOF instead of an error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
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
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return io.EOF
		}
		return counter.Errorf(counter.InvalidRequest, "a JSON request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return counter.Errorf(counter.InvalidRequest, "the request body must hold exactly one JSON value")
	}
	return nil
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
		if typ.Field == "" {
			return counter.Errorf(counter.InvalidRequest, "the request body must be a JSON object")
		}
		return counter.Errorf(counter.InvalidRequest, "field %q must be %s", typ.Field, jsonKind(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return counter.Errorf(counter.InvalidRequest, "the request body is truncated JSON")
	default:
		// Unknown fields and similar: encoding/json's text names only the
		// field, which the client sent.
		return counter.Errorf(counter.InvalidRequest, "the request body is not acceptable: %s", truncated(err.Error()))
	}
}

func jsonKind(kind string) string {
	switch kind {
	case "string", "ptr":
		return "a string"
	}
	return "a number"
}

// parseInt reads a JSON integer field. present is false for an absent or
// null field; anything but an integer literal within ±MaxCount (a string, a
// fraction, an exponent, a huge number) is an InvalidRequest error.
func parseInt(field string, raw json.RawMessage) (v int64, present bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	v, err = strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < -counter.MaxCount || v > counter.MaxCount {
		return 0, true, counter.Errorf(counter.InvalidRequest, "field %q must be an integer from %d to %d", field, -counter.MaxCount, counter.MaxCount)
	}
	return v, true, nil
}
