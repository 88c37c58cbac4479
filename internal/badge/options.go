package badge

import (
	"errors"
	"net/url"
	"unicode"
	"unicode/utf8"
)

// Style is the look of a badge.
type Style string

// The styles a badge can have.
const (
	// Flat has rounded corners and a light gradient, like shields.io's default.
	Flat Style = "flat"
	// FlatSquare has square corners and no gradient.
	FlatSquare Style = "flat-square"
)

// DefaultLabel is the label of a badge whose query names none.
const DefaultLabel = "hits"

// MaxLabelLength is the longest label, in characters.
const MaxLabelLength = 64

// Options are what a badge's query parameters choose: label (default
// DefaultLabel), color (default DefaultColor) and style (default Flat).
type Options struct {
	Label string
	Color Color
	Style Style
	// Metric is what the badge shows: the count (MetricCount, the
	// default) or the unique visitors of the current Period (MetricUniques,
	// whose default label is "visitors").
	Metric Metric
	// Period is the bucket of MetricUniques: "day" (the default, today,
	// UTC) or "hour" (this hour); "" for MetricCount.
	Period string
}

// Metric is what a badge counts.
type Metric string

// Metrics: the count is the zero value (metric=count in a query).
const (
	MetricCount   Metric = ""
	MetricUniques Metric = "uniques"
)

// UniquesLabel is the label of a badge of unique visitors whose query names
// none.
const UniquesLabel = "visitors"

// DefaultOptions are the options of an empty query.
func DefaultOptions() Options {
	return Options{Label: DefaultLabel, Color: DefaultColor, Style: Flat}
}

// Errors of ParseQuery. Their messages never repeat the query: they are
// safe to show anywhere, badges included.
var (
	ErrQuery        = errors.New("the query string is not valid")
	ErrUnknownParam = errors.New("unknown query parameter: a badge takes label, color, style, metric and period")
	ErrRepeated     = errors.New("label, color, style, metric and period may each be given once")
	ErrMetric       = errors.New("metric must be count or uniques")
	ErrPeriod       = errors.New("period must be day or hour, and only with metric=uniques")
	ErrLabel        = errors.New("label must be 1 to 64 characters of UTF-8 text: letters, marks, numbers, punctuation, symbols and spaces; no control, format, invisible, private-use or unassigned characters")
	ErrColor        = errors.New("color must be a named color (brightgreen, green, yellowgreen, yellow, orange, red, blue, grey, lightgrey, blueviolet, success, important, critical, informational, inactive) or 3 or 6 hexadecimal digits")
	ErrStyle        = errors.New("style must be flat or flat-square")
)

// ParseQuery parses a badge's raw query string. Any parameter other than
// label, color and style, a repeated one, or a value it does not accept
// is an error (one of the Err* values).
func ParseQuery(rawQuery string) (Options, error) {
	opts := DefaultOptions()
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Options{}, ErrQuery
	}
	for key, values := range q {
		switch key {
		case "label", "color", "style", "metric", "period":
		default:
			return Options{}, ErrUnknownParam
		}
		if len(values) != 1 {
			return Options{}, ErrRepeated
		}
		v := values[0]
		switch key {
		case "label":
			if !validLabel(v) {
				return Options{}, ErrLabel
			}
			opts.Label = v
		case "color":
			if opts.Color, err = ParseColor(v); err != nil {
				return Options{}, ErrColor
			}
		case "style":
			switch Style(v) {
			case Flat, FlatSquare:
				opts.Style = Style(v)
			default:
				return Options{}, ErrStyle
			}
		case "metric":
			switch v {
			case "count":
				opts.Metric = MetricCount
			case string(MetricUniques):
				opts.Metric = MetricUniques
			default:
				return Options{}, ErrMetric
			}
		case "period":
			if v != "day" && v != "hour" {
				return Options{}, ErrPeriod
			}
			opts.Period = v
		}
	}
	if opts.Metric == MetricUniques {
		if opts.Period == "" {
			opts.Period = "day"
		}
		if _, labelled := q["label"]; !labelled {
			opts.Label = UniquesLabel
		}
	} else if opts.Period != "" {
		return Options{}, ErrPeriod
	}
	return opts, nil
}

// labelCategories are the Unicode general categories a label's characters
// may have: letters, marks, numbers, punctuation, symbols and spaces (Zs).
// Every other code point is refused alike: controls (Cc); format
// characters (Cf: zero-width spaces and joiners, bidirectional marks,
// embeddings, overrides and isolates, the byte order mark, invisible
// operators, tags); line and paragraph separators (Zl, Zp); private use
// (Co); and code points unassigned in Go's Unicode tables (noncharacters
// among them). So a label reads the same in a badge, its title, a
// shields.io endpoint and a log, and hides nothing.
var labelCategories = []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs}

// validLabel reports whether s is 1 to MaxLabelLength characters of valid
// UTF-8, each of labelCategories.
func validLabel(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxLabelLength {
		return false
	}
	for _, r := range s {
		if (r < 0x20 || r > 0x7e) && !unicode.In(r, labelCategories...) { // printable ASCII is all in them
			return false
		}
	}
	return true
}
