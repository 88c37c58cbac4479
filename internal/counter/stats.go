package counter

import "time"

// Period is the width of a statistics bucket: an hour or a day, in UTC.
type Period string

// Periods.
const (
	Hour Period = "hour"
	Day  Period = "day"
)

// ParsePeriod returns the named period, or an InvalidRequest error.
func ParsePeriod(s string) (Period, error) {
	switch p := Period(s); p {
	case Hour, Day:
		return p, nil
	}
	return "", Errorf(InvalidRequest, "period must be %q or %q", Hour, Day)
}

// Duration returns the width of one bucket.
func (p Period) Duration() time.Duration {
	if p == Hour {
		return time.Hour
	}
	return 24 * time.Hour
}

// Start returns the start of the bucket holding t, in UTC.
func (p Period) Start(t time.Time) time.Time {
	return t.UTC().Truncate(p.Duration()) // UTC days and hours are whole multiples since the epoch
}

// Retention is how long after its end a bucket is kept at least: 8 days for
// hours, 400 days for days.
func (p Period) Retention() time.Duration {
	if p == Hour {
		return 8 * 24 * time.Hour
	}
	return 400 * 24 * time.Hour
}

// DefaultPoints is the number of buckets a query without from returns: the
// last 48 hours or 30 days, including the current one.
func (p Period) DefaultPoints() int {
	if p == Hour {
		return 48
	}
	return 30
}

// MaxStatsPoints is the largest number of buckets one query may span.
const MaxStatsPoints = 1000

// Point is the hits, unique visitors and bots of one bucket.
type Point struct {
	// Start is the start of the bucket, in UTC.
	Start time.Time
	// Hits is the sum of the increments applied in the bucket (negative
	// increments subtract); creates and sets are not hits. Stores keep the
	// sum exactly and show it saturated at the int64 bounds (HitSum).
	Hits int64
	// Uniques is the number of distinct visitors (Write.Visitor) of the
	// increments and hits of the bucket: an estimate (see UniquesError),
	// exact for small numbers.
	Uniques int64
	// Bots is the number of crawlers' requests left out of the hits in the
	// bucket (OpBot).
	Bots int64
}

// UniquesError is the relative error Point.Uniques is held to from 10,000
// visitors on in a day bucket (the sketch's standard error is about 0.8%;
// smaller counts are nearly exact).
const UniquesError = 0.02

// MinStatsTime is the earliest time a statistics query may name: the Unix
// epoch, 1970-01-01T00:00:00Z. No hit is older, and Go's zero time (year 1,
// which StatsQuery takes for "not given") is far before it, so a time a
// client gives is never mistaken for no time.
var MinStatsTime = time.Unix(0, 0).UTC()

// ValidateStatsTime returns an InvalidRequest error naming param (from or
// to) unless t is MinStatsTime or later.
func ValidateStatsTime(param string, t time.Time) error {
	if t.Before(MinStatsTime) {
		return Errorf(InvalidRequest, "%s must be %s or later", param, MinStatsTime.Format(time.RFC3339))
	}
	return nil
}

// StatsQuery selects the buckets of a statistics request.
type StatsQuery struct {
	Period Period
	// From is in the first bucket; zero means DefaultPoints buckets before
	// To. Any other value is MinStatsTime or later.
	From time.Time
	// To is in the last bucket; zero means the current bucket. Any other
	// value is MinStatsTime or later.
	To time.Time
}

// Resolve fills the defaults of q at time now and moves From and To to the
// starts of their buckets. It returns an InvalidRequest error for an
// unknown period, a From or To before MinStatsTime (other than zero), From
// after To, or more than MaxStatsPoints buckets.
func (q StatsQuery) Resolve(now time.Time) (StatsQuery, error) {
	if _, err := ParsePeriod(string(q.Period)); err != nil {
		return StatsQuery{}, err
	}
	for _, given := range []struct {
		param string
		t     time.Time
	}{{"from", q.From}, {"to", q.To}} {
		if !given.t.IsZero() {
			if err := ValidateStatsTime(given.param, given.t); err != nil {
				return StatsQuery{}, err
			}
		}
	}
	d := q.Period.Duration()
	to := q.To
	if to.IsZero() {
		to = now
	}
	to = q.Period.Start(to)
	from := q.From
	if from.IsZero() {
		from = to.Add(-time.Duration(q.Period.DefaultPoints()-1) * d)
	}
	from = q.Period.Start(from)
	if from.After(to) {
		return StatsQuery{}, Errorf(InvalidRequest, "from must not be after to")
	}
	if n := to.Sub(from)/d + 1; n > MaxStatsPoints || n < 0 { // n < 0: the span overflowed
		return StatsQuery{}, Errorf(InvalidRequest, "the range spans more than %d %ss", MaxStatsPoints, q.Period)
	}
	return StatsQuery{Period: q.Period, From: from, To: to}, nil
}

// Points returns the number of buckets of a resolved query.
func (q StatsQuery) Points() int {
	return int(q.To.Sub(q.From)/q.Period.Duration()) + 1
}

// Densify returns the points of a resolved query, in time order, one per
// bucket, with the point that points holds for each bucket start, in Unix
// seconds (zero for the others; Start is set by Densify).
func (q StatsQuery) Densify(points map[int64]Point) []Point {
	dense := make([]Point, q.Points())
	d := q.Period.Duration()
	for i := range dense {
		start := q.From.Add(time.Duration(i) * d)
		p := points[start.Unix()]
		p.Start = start
		dense[i] = p
	}
	return dense
}
