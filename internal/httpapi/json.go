package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Response bodies are encoded with encoding/json from the types below:
// adding a field to an answer is adding it to its type. Its encoder
// escapes '<', '>' and '&' in strings (\u003c, \u003e, \u0026), so no
// JSON answer holds them raw, even one that echoes the request.

// timeLayout is RFC 3339 in UTC with milliseconds: the counters' times.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// counterJSON is a counter as the API answers it; shards only for a
// counter spread over several items.
type counterJSON struct {
	Name      string `json:"name"`
	Count     int64  `json:"count"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Shards    int    `json:"shards,omitempty"`
	// Points are the counter's statistics, in a listing that asks for them.
	Points []pointJSON `json:"points,omitempty"`
}

func newCounterJSON(c counter.Counter) counterJSON {
	j := counterJSON{Name: c.Name, Count: c.Count, CreatedAt: formatTime(c.CreatedAt), UpdatedAt: formatTime(c.UpdatedAt)}
	if c.Shards > 1 {
		j.Shards = c.Shards
	}
	return j
}

// formatTime returns t.UTC().Format(timeLayout), without parsing the
// layout on each call: every answer that carries a counter formats two
// times (a page of a listing, up to 2,000), and time.Format's layout walk
// was the largest single cost of the increment answer
// (BenchmarkIncrementHandler; docs/benchmarks.md). Years outside 0..9999
// go through Format.
func formatTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	b := [...]byte{
		byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + int(month)/10), byte('0' + int(month)%10), '-',
		byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':',
		byte('0' + min/10), byte('0' + min%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.',
		byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10), 'Z',
	}
	return string(b[:])
}

// pageJSON is one page of a listing.
type pageJSON struct {
	Counters   []counterJSON `json:"counters"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// errorJSON is every error answer: {"error":{"code":...,"message":...}}.
type errorJSON struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// healthJSON is GET /health's answer; Error is set when the store is
// unavailable.
type healthJSON struct {
	Status string     `json:"status"`
	Error  *errorBody `json:"error,omitempty"`
}

// statsJSON is GET /counters/{name}/stats's answer.
type statsJSON struct {
	Name   string      `json:"name"`
	Period string      `json:"period"`
	Points []pointJSON `json:"points"`
}

type pointJSON struct {
	Start string `json:"start"` // RFC 3339, UTC, whole seconds
	Hits  int64  `json:"hits"`
	// Uniques is nil where unique visitors are not counted (see
	// handler.uniques): absent, not 0, so that a client (the counter
	// page) tells "not counted" from "none".
	Uniques *int64 `json:"uniques,omitempty"`
	Bots    int64  `json:"bots"`
}

// jsonContentType is every JSON answer's Content-Type header value; the
// slice is shared, and no one changes it.
var jsonContentType = []string{"application/json"}

// nosniff is every answer's X-Content-Type-Options header value: no
// browser may take an answer for another type than the one it declares
// (a JSON error that echoes a path, for HTML). Shared, never changed.
var nosniff = []string{"nosniff"}

// withNosniff sets X-Content-Type-Options: nosniff on every answer of
// next, whatever writes it.
func withNosniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = nosniff
		next.ServeHTTP(w, r)
	})
}

// bodyEncoder is a buffer and the encoder that writes into it; they are
// pooled, so that an answer costs neither.
type bodyEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var bodyEncoders = sync.Pool{New: func() any {
	e := &bodyEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// writeJSON answers v as a JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	e := bodyEncoders.Get().(*bodyEncoder)
	defer func() {
		if e.buf.Cap() <= 64<<10 { // a large listing's buffer is not kept
			bodyEncoders.Put(e)
		}
	}()
	e.buf.Reset()
	body := []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	if err := e.enc.Encode(v); err == nil {
		body = bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")) // Encode ends the value with a newline
	} else { // the types above hold strings, numbers and slices of them
		status = http.StatusInternalServerError
	}
	hdr := w.Header()
	hdr["Content-Type"] = jsonContentType
	hdr["X-Content-Type-Options"] = nosniff // also where no handler of New writes (WriteError)
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decodeBody reads the JSON request body, whatever its Content-Type: at
// most MaxBodyBytes holding exactly one JSON object whose members are among
// names, each at most once. It returns the raw value of each member at the
// index of its name, nil where it is absent. Its errors are InvalidRequest
// or PayloadTooLarge; optional reports an empty body as io.EOF instead.
//
// The object is walked token by token with encoding/json's Decoder, which
// checks the syntax; the walk itself matches member names exactly
// (json.Unmarshal would take "Count" for "count") and refuses a member
// given twice (json.Unmarshal lets the last one win, so a proxy reading the
// first would see another request than the one applied). encoding/json/v2
// does both, but needs GOEXPERIMENT=jsonv2 on Go 1.26.
func decodeBody(w http.ResponseWriter, r *http.Request, optional bool, names ...string) ([]json.RawMessage, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge()
		}
		return nil, counter.Errorf(counter.InvalidRequest, "could not read the request body")
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		if optional {
			return nil, io.EOF
		}
		return nil, counter.Errorf(counter.InvalidRequest, "a JSON request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// token reads the next token of the object: its end is not the body's.
	token := func() (json.Token, error) {
		tok, err := dec.Token()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return tok, err
	}
	if tok, err := token(); err != nil {
		return nil, invalidJSON(err)
	} else if tok != json.Delim('{') {
		return nil, counter.Errorf(counter.InvalidRequest, "the request body must be a JSON object")
	}
	values := make([]json.RawMessage, len(names))
	for dec.More() {
		tok, err := token()
		if err != nil {
			return nil, invalidJSON(err)
		}
		name, _ := tok.(string) // the Decoder gives member names as strings
		i := slices.Index(names, name)
		switch {
		case i < 0:
			return nil, counter.Errorf(counter.InvalidRequest, "the request body has an unknown field %q", truncated(name))
		case values[i] != nil: // a decoded value is never nil, even null
			return nil, counter.Errorf(counter.InvalidRequest, "the request body has the field %q more than once", name)
		}
		if err := dec.Decode(&values[i]); err != nil {
			return nil, invalidJSON(err)
		}
	}
	if _, err := token(); err != nil { // the closing '}'
		return nil, invalidJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, counter.Errorf(counter.InvalidRequest, "the request body must hold exactly one JSON value")
	}
	return values, nil
}

func tooLarge() error {
	return requestErrorf(PayloadTooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
}

// invalidJSON turns a decoding error into a client-safe message.
func invalidJSON(err error) error {
	if syn, ok := errors.AsType[*json.SyntaxError](err); ok {
		return counter.Errorf(counter.InvalidRequest, "the request body is not valid JSON (at byte %d)", syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return counter.Errorf(counter.InvalidRequest, "the request body is truncated JSON")
	}
	return counter.Errorf(counter.InvalidRequest, "the request body is not valid JSON")
}

// parseName reads the member "name": absent or null is an InvalidName
// error, anything but a string an InvalidRequest error, and a string that
// is not a valid name an InvalidName error.
func parseName(raw json.RawMessage) (string, error) {
	if raw == nil || string(raw) == "null" {
		return "", counter.Errorf(counter.InvalidName, "field \"name\" is required")
	}
	var name string
	if raw[0] != '"' || json.Unmarshal(raw, &name) != nil {
		return "", counter.Errorf(counter.InvalidRequest, "field \"name\" must be a string")
	}
	return name, counter.ValidateName(name)
}

// parseCount reads the member "count": an integer literal from 0 to
// MaxCount (null, a string, a fraction or an exponent is not one). present
// is false for an absent member.
func parseCount(raw json.RawMessage) (count int64, present bool, err error) {
	if raw == nil {
		return 0, false, nil
	}
	count, ok := intLiteral(raw)
	if !ok || counter.ValidateCount(count) != nil {
		return 0, true, counter.Errorf(counter.InvalidRequest, "field \"count\" must be an integer from 0 to %d", counter.MaxCount)
	}
	return count, true, nil
}

// parseShards reads the member "shards": an integer literal from 1 to
// MaxShards; 0 if absent.
func parseShards(raw json.RawMessage) (int, error) {
	if raw == nil {
		return 0, nil
	}
	n, ok := intLiteral(raw)
	if !ok || n < 1 || n > counter.MaxShards {
		return 0, counter.Errorf(counter.InvalidRequest, "field \"shards\" must be an integer from 1 to %d", counter.MaxShards)
	}
	return int(n), nil
}

// parseBy reads the member "by": a non-zero integer literal within
// ±MaxCount; 1 if absent.
func parseBy(raw json.RawMessage) (int64, error) {
	if raw == nil {
		return 1, nil
	}
	by, ok := intLiteral(raw)
	if !ok || counter.ValidateIncrement(by) != nil {
		return 0, counter.Errorf(counter.InvalidRequest, "field \"by\" must be a non-zero integer from %d to %d", -counter.MaxCount, counter.MaxCount)
	}
	return by, nil
}

// intLiteral reads a JSON number that is an integer literal within int64.
func intLiteral(raw json.RawMessage) (int64, bool) {
	v, err := strconv.ParseInt(string(raw), 10, 64)
	return v, err == nil
}
