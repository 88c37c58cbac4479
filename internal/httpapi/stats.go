package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"sync"
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
	writeJSON(w, http.StatusOK, statsJSON{Name: name, Period: string(q.Period), Points: h.pointsJSON(points)})
}

// pointsJSON returns the points as answered: with uniques only where they
// are counted.
func (h *handler) pointsJSON(points []counter.Point) []pointJSON {
	out := make([]pointJSON, len(points))
	for i, p := range points {
		out[i] = pointJSON{Start: p.Start.UTC().Format(time.RFC3339), Hits: p.Hits, Bots: p.Bots}
		if h.uniques {
			out[i].Uniques = &points[i].Uniques
		}
	}
	return out
}

// listStatsReads bounds the statistics reads of one listing in flight.
const listStatsReads = 8

// listStats gives each listed counter its points of q (GET /counters with
// stats): one Store.Stats per counter, a few at a time. A counter deleted
// since it was listed is left out of the page.
func (h *handler) listStats(ctx context.Context, counters []counterJSON, q counter.StatsQuery) ([]counterJSON, error) {
	errs := make([]error, len(counters))
	sem := make(chan struct{}, listStatsReads)
	var wg sync.WaitGroup
	for i := range counters {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			points, err := h.store.Stats(ctx, counters[i].Name, q)
			if err == nil {
				counters[i].Points = h.pointsJSON(points)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	out := counters[:0]
	for i, c := range counters {
		switch {
		case errs[i] == nil:
			out = append(out, c)
		case counter.ErrorCode(errs[i]) != counter.NotFound:
			return nil, errs[i]
		}
	}
	return out, nil
}
