package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// statsDateLayout is the date form of from and to.
const statsDateLayout = "2006-01-02"

// parseStatsTime parses a from or to parameter: an RFC 3339 time, or a
// YYYY-MM-DD date (UTC), which as to stands for the whole day; either from
// counter.MinStatsTime on, so that no time given (Go's zero time among
// them) is taken for none.
func parseStatsTime(param, v string, isTo bool) (time.Time, error) {
	if len(v) == len(statsDateLayout) {
		if t, err := time.Parse(statsDateLayout, v); err == nil {
			if isTo {
				t = t.Add(24*time.Hour - time.Nanosecond)
			}
			return t, counter.ValidateStatsTime(param, t)
		}
	} else if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), counter.ValidateStatsTime(param, t)
	}
	return time.Time{}, counter.Errorf(counter.InvalidRequest, "%s must be an RFC 3339 time (2026-11-27T05:00:00Z) or a date (2026-11-27)", param)
}

// statsQuery reads GET /counters/{name}/stats?period=&from=&to=.
func statsQuery(rawQuery string) (counter.StatsQuery, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return counter.StatsQuery{}, counter.Errorf(counter.InvalidRequest, "the query string is not valid")
	}
	sq := counter.StatsQuery{Period: counter.Day}
	if v, ok := q["period"]; ok {
		if sq.Period, err = counter.ParsePeriod(v[0]); err != nil {
			return counter.StatsQuery{}, err
		}
	}
	if v, ok := q["from"]; ok {
		if sq.From, err = parseStatsTime("from", v[0], false); err != nil {
			return counter.StatsQuery{}, err
		}
	}
	if v, ok := q["to"]; ok {
		if sq.To, err = parseStatsTime("to", v[0], true); err != nil {
			return counter.StatsQuery{}, err
		}
	}
	return sq, nil
}

// stats answers GET /counters/{name}/stats: the counter's hits per hour or
// day.
func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q, err := statsQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	points, err := h.store.Stats(ctx, name, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body := statsJSON{Name: name, Period: string(q.Period), Points: make([]pointJSON, len(points))}
	for i, p := range points {
		body.Points[i] = pointJSON{Start: p.Start.UTC().Format(time.RFC3339), Hits: p.Hits, Uniques: p.Uniques, Bots: p.Bots}
	}
	writeJSON(w, http.StatusOK, body)
}
