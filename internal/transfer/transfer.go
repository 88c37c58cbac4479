// Package transfer moves counters and their history between stores as JSON
// lines: Export reads any counter.Store, Import writes any
// counter.Importer (the memory, file and DynamoDB stores), so that data
// goes from one to another, for example from self-hosting to AWS and back.
//
// An export is a header line, one line per counter, and an end line:
//
//	{"format":"hitcounter-export","version":1,"exported_at":"2026-12-03T14:00:00Z"}
//	{"name":"home","count":6,"created_at":"...","updated_at":"...","hours":[{"start":"2026-12-03T13:00:00Z","hits":6}],"days":[{"start":"2026-12-03T00:00:00Z","hits":6}]}
//	{"end":true,"counters":1}
//
// A counter's history is the buckets with hits that its store keeps (hours
// 8 days, days 400 days). Each counter is read at its own moment: an export
// taken while counters change is not a snapshot of one moment (on the file
// store, take a snapshot and export that). The end line tells a complete
// export from a cut one.
package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Format and Version name the export format in its header line.
const (
	Format  = "hitcounter-export"
	Version = 1
)

// ContentType is the media type of an export.
const ContentType = "application/x-ndjson"

type header struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
}

type line struct {
	Name      string    `json:"name"`
	Count     int64     `json:"count"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Hours     []point   `json:"hours"`
	Days      []point   `json:"days"`
}

type point struct {
	Start time.Time `json:"start"`
	Hits  int64     `json:"hits"`
}

type end struct {
	End      bool `json:"end"`
	Counters int  `json:"counters"`
}

// Export writes every counter of store with its history to w, as JSON
// lines, and returns the number of counters written. now is the time the
// history is read up to. A counter deleted while the export runs is left
// out.
func Export(ctx context.Context, store counter.Store, w io.Writer, now time.Time) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(header{Format: Format, Version: Version, ExportedAt: now.UTC().Truncate(time.Second)}); err != nil {
		return 0, err
	}
	n := 0
	for cursor := ""; ; {
		page, err := store.List(ctx, counter.ListOptions{Limit: counter.MaxListLimit, Cursor: cursor})
		if err != nil {
			return n, fmt.Errorf("list counters: %w", err)
		}
		for _, c := range page.Counters {
			a, err := archive(ctx, store, c, now)
			if counter.ErrorCode(err) == counter.NotFound {
				continue // deleted since it was listed
			}
			if err != nil {
				return n, fmt.Errorf("history of %q: %w", c.Name, err)
			}
			if err := enc.Encode(toLine(a)); err != nil {
				return n, err
			}
			n++
		}
		// Counters are written as each page is read, not at the end.
		if err := bw.Flush(); err != nil {
			return n, err
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if err := enc.Encode(end{End: true, Counters: n}); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// archive reads the history of c kept at now.
func archive(ctx context.Context, store counter.Store, c counter.Counter, now time.Time) (counter.Archive, error) {
	a := counter.Archive{Counter: c}
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		// Every bucket the store may keep, the current one included.
		from := p.Start(now).Add(-p.Retention() - p.Duration())
		points, err := store.Stats(ctx, c.Name, counter.StatsQuery{Period: p, From: from, To: now})
		if err != nil {
			return counter.Archive{}, err
		}
		var kept []counter.Point
		for _, pt := range points {
			if pt.Hits != 0 {
				kept = append(kept, pt)
			}
		}
		if p == counter.Hour {
			a.Hours = kept
		} else {
			a.Days = kept
		}
	}
	return a, nil
}

func toLine(a counter.Archive) line {
	l := line{Name: a.Counter.Name, Count: a.Counter.Count, CreatedAt: a.Counter.CreatedAt, UpdatedAt: a.Counter.UpdatedAt,
		Hours: []point{}, Days: []point{}}
	for _, p := range a.Hours {
		l.Hours = append(l.Hours, point{Start: p.Start, Hits: p.Hits}) // uniques and bots are not exported (docs/uniques.md)
	}
	for _, p := range a.Days {
		l.Days = append(l.Days, point{Start: p.Start, Hits: p.Hits})
	}
	return l
}

func (l line) archive() counter.Archive {
	a := counter.Archive{Counter: counter.Counter{Name: l.Name, Count: l.Count, CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}}
	for _, p := range l.Hours {
		a.Hours = append(a.Hours, counter.Point{Start: p.Start.UTC(), Hits: p.Hits})
	}
	for _, p := range l.Days {
		a.Days = append(a.Days, counter.Point{Start: p.Start.UTC(), Hits: p.Hits})
	}
	return a
}

// Summary is what an import did.
type Summary struct {
	// Imported counters were created with their history.
	Imported int `json:"imported"`
	// Skipped counters existed already in the store and were left as
	// they were; SkippedNames lists the first MaxSkippedNames of them.
	Skipped      int      `json:"skipped"`
	SkippedNames []string `json:"skipped_names,omitempty"`
}

// MaxSkippedNames bounds Summary.SkippedNames.
const MaxSkippedNames = 100

// MaxLineBytes bounds one line of an export: a counter with a full
// history is about 40 KB.
const MaxLineBytes = 1 << 20

// ErrIncomplete is the cause of an Import of an export without its end
// line: it was cut short, and what it held was imported.
var ErrIncomplete = errors.New("the export has no end line: it was cut short")

// Import reads an export from r and creates each of its counters, with its
// history, in dst. A counter that exists in dst already is skipped and
// left as it is, so that an import cut short can be run again. It stops
// at the first line it cannot read or import, with an error that says
// which line; the counters before it are imported.
func Import(ctx context.Context, dst counter.Importer, r io.Reader) (Summary, error) {
	var sum Summary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	n := 0
	next := func() ([]byte, bool) {
		for sc.Scan() {
			n++
			if b := bytes.TrimSpace(sc.Bytes()); len(b) > 0 {
				return b, true
			}
		}
		return nil, false
	}
	fail := func(err error) (Summary, error) {
		var e *counter.Error
		if errors.As(err, &e) && (e.Code == counter.InvalidRequest || e.Code == counter.InvalidName) {
			// The line goes into the message a client sees.
			return sum, &counter.Error{Code: e.Code, Message: fmt.Sprintf("line %d: %s", n, e.Message), Err: e.Err}
		}
		return sum, fmt.Errorf("line %d: %w", n, err)
	}
	first, ok := next()
	if !ok {
		if err := sc.Err(); err != nil {
			return fail(err)
		}
		return sum, counter.Errorf(counter.InvalidRequest, "the export is empty: want a header line")
	}
	var h header
	if err := strict(first, &h); err != nil || h.Format != Format {
		return fail(counter.Errorf(counter.InvalidRequest, "not a header line of %s: %s", Format, clip(first)))
	}
	if h.Version != Version {
		return fail(counter.Errorf(counter.InvalidRequest, "%s version %d; this server reads version %d", Format, h.Version, Version))
	}
	for {
		b, ok := next()
		if !ok {
			if err := sc.Err(); err != nil {
				return fail(counter.Errorf(counter.InvalidRequest, "%v", err))
			}
			return sum, ErrIncomplete
		}
		if bytes.HasPrefix(b, []byte(`{"end"`)) {
			var e end
			if err := strict(b, &e); err != nil || !e.End {
				return fail(counter.Errorf(counter.InvalidRequest, "not an end line: %s", clip(b)))
			}
			if e.Counters != sum.Imported+sum.Skipped {
				return fail(counter.Errorf(counter.InvalidRequest, "the end line counts %d counters, the export held %d", e.Counters, sum.Imported+sum.Skipped))
			}
			if extra, ok := next(); ok {
				return fail(counter.Errorf(counter.InvalidRequest, "a line after the end line: %s", clip(extra)))
			}
			return sum, nil
		}
		var l line
		if err := strict(b, &l); err != nil {
			return fail(counter.Errorf(counter.InvalidRequest, "not a counter line (%v): %s", err, clip(b)))
		}
		err := dst.Import(ctx, l.archive())
		switch counter.ErrorCode(err) {
		case "":
			sum.Imported++
		case counter.AlreadyExists:
			sum.Skipped++
			if len(sum.SkippedNames) < MaxSkippedNames {
				sum.SkippedNames = append(sum.SkippedNames, l.Name)
			}
		default:
			return fail(err)
		}
	}
}

// strict decodes one JSON object, refusing unknown members.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// clip shortens a line for an error message.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
