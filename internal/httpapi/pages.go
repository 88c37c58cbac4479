package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Pages serves the page routes (Route.Page): the badges, drawn from
// counters, and the web files. internal/pages implements it. What a binary
// imports decides whether it can serve them: a Lambda function whose main
// does not import internal/pages links no badge or web code, and a handler
// built without Pages does not serve those routes.
type Pages interface {
	// Handler returns the handler of the page route named route; the
	// handler reads and counts counters through counters. It fails for a
	// route it does not serve.
	Handler(route string, counters PageCounters) (http.HandlerFunc, error)
}

// PageCounters is what a page route's handler may do with counters, with
// the handler's store, timeout, settings and log.
type PageCounters interface {
	// Get returns the named counter.
	Get(r *http.Request, name string) (counter.Counter, error)
	// Hit adds one to the named counter and returns it; a missing counter
	// is created at 1 if the handler's Options.HitCreates allows it, and
	// is NotFound otherwise.
	Hit(r *http.Request, name string) (counter.Counter, error)
	// Uniques returns the unique visitors of the named counter in the
	// current bucket of period p (today, or this hour, UTC).
	Uniques(r *http.Request, name string, p counter.Period) (int64, error)
	// Failed logs the cause of err, answered with an error status, as
	// every route's failures are logged (internal errors and store faults
	// only; clients never see the cause).
	Failed(r *http.Request, err error)
}

// pageCounters is the handler's PageCounters.
type pageCounters struct{ h *handler }

func (c pageCounters) Get(r *http.Request, name string) (counter.Counter, error) {
	ctx, cancel := c.h.storeContext(r)
	defer cancel()
	return c.h.store.Get(ctx, name)
}

func (c pageCounters) Hit(r *http.Request, name string) (counter.Counter, error) {
	ctx, cancel := c.h.storeContext(r)
	defer cancel()
	return c.h.hit(ctx, r, name)
}

func (c pageCounters) Uniques(r *http.Request, name string, p counter.Period) (int64, error) {
	ctx, cancel := c.h.storeContext(r)
	defer cancel()
	points, err := c.h.store.Stats(ctx, name, counter.StatsQuery{Period: p, From: time.Now()})
	if err != nil {
		return 0, err
	}
	return points[len(points)-1].Uniques, nil
}

func (c pageCounters) Failed(r *http.Request, err error) {
	c.h.logError(r, err, StatusFor(counter.ErrorCode(err)))
}

// hit adds one to the named counter: see PageCounters.Hit. A hit that may
// create is one write (counter.OpHit), so that the store counts the
// creating view in the stats like the others. A crawler's adds nothing
// (handler.view).
func (h *handler) hit(ctx context.Context, r *http.Request, name string) (counter.Counter, error) {
	w := counter.Increment(name, 1)
	if h.hitCreates {
		w = counter.Hit(name)
	}
	w, err := h.view(ctx, r, w)
	if err != nil {
		return counter.Counter{}, err
	}
	res, err := h.store.Apply(ctx, w)
	return res.Counter, err
}
