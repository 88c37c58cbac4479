package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// storeContext bounds the store work of one request by the handler's
// timeout, and only by it: a client that goes away does not cut a store
// call short. net/http cancels a request's context when its client
// half-closes the connection after sending it (golang/go#18527), and such a
// client still waits for its answer; a write that is started is finished
// and answered, within the timeout, whatever the client does meanwhile.
func (h *handler) storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(r.Context())
	if h.timeout <= 0 {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, h.timeout)
}

func noCancel() {}

func (h *handler) writeCounter(w http.ResponseWriter, status int, c counter.Counter) {
	writeJSON(w, status, newCounterJSON(c))
}

func setLocation(w http.ResponseWriter, name string) {
	w.Header()["Location"] = []string{"/counters/" + name}
}

// health answers GET /health.
func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.storeContext(r)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		code := counter.ErrorCode(err)
		if code != counter.Unavailable {
			h.writeError(w, r, err)
			return
		}
		h.log.WarnContext(r.Context(), "health check failed", "cause", err.Error())
		w.Header().Set("Retry-After", RetryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, healthJSON{Status: "unavailable",
			Error: &errorBody{Code: counter.Unavailable, Message: counter.ErrorMessage(err)}})
		return
	}
	writeJSON(w, http.StatusOK, healthJSON{Status: "ok"})
}

// create answers POST /counters.
func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	cw, err := decodeCreate(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	res, err := h.apply(ctx, w, r, cw)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setLocation(w, res.Counter.Name)
	h.writeCounter(w, http.StatusCreated, res.Counter)
}

// list answers GET /counters?limit=&cursor=.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	req, err := decodeList(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	page, err := h.store.List(ctx, req.Options)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body := pageJSON{Counters: make([]counterJSON, len(page.Counters)), NextCursor: page.NextCursor}
	for i, c := range page.Counters {
		body.Counters[i] = newCounterJSON(c)
	}
	if req.Stats != nil {
		if body.Counters, err = h.listStats(ctx, body.Counters, *req.Stats); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// get answers GET /counters/{name}.
func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	c, err := h.store.Get(ctx, name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeCounter(w, http.StatusOK, c)
}

// set answers PUT /counters/{name}: 200, or 201 if it created the counter.
func (h *handler) set(w http.ResponseWriter, r *http.Request) {
	cw, err := decodeSet(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	res, err := h.apply(ctx, w, r, cw)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		setLocation(w, res.Counter.Name)
	}
	h.writeCounter(w, status, res.Counter)
}

// increment answers POST /counters/{name}/increment: an open route that,
// with a public bound, only adds views.
func (h *handler) increment(w http.ResponseWriter, r *http.Request) {
	cw, err := decodeIncrement(w, r)
	if err == nil {
		err = h.publicIncrement(cw)
	}
	ctx, cancel := h.storeContext(r) // one bound for the day's salt and the write
	defer cancel()
	if err == nil {
		cw, err = h.view(ctx, r, cw)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.apply(ctx, w, r, cw)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeCounter(w, http.StatusOK, res.Counter)
}

// view makes cw, an increment or a hit of a view, what its client makes
// it: a bot (counter.Bot) if a crawler sent it and crawlers are told apart;
// otherwise cw with its visitor, if visitors are counted. ctx bounds the
// wait for the day's salt: the request's store context.
func (h *handler) view(ctx context.Context, r *http.Request, cw counter.Write) (counter.Write, error) {
	ua := r.Header.Get("User-Agent")
	if h.crawlers != nil && h.crawlers.IsCrawler(ua) {
		return counter.Bot(cw.Name), nil
	}
	if h.visitors == nil {
		return cw, nil
	}
	v, err := h.visitors.Visitor(ctx, h.clientAddr(r), ua, cw.Name)
	if err != nil {
		return cw, err
	}
	return cw.WithVisitor(v), nil
}

// publicIncrement refuses, as 403 forbidden, an open increment by an
// amount other than the views it may add (Options.PublicMaxIncrement).
func (h *handler) publicIncrement(cw counter.Write) error {
	max := h.publicMaxIncrement
	if max <= 0 || cw.By >= 1 && cw.By <= max {
		return nil
	}
	views := "1"
	if max > 1 {
		views = fmt.Sprintf("1 to %d", max)
	}
	return requestErrorf(Forbidden, "this open route only adds views (by %s); to change counter %q by %d, use the admin route PATCH /counters/%s with {\"by\":%d} and an API key",
		views, cw.Name, cw.By, cw.Name, cw.By)
}

// adjust answers PATCH /counters/{name}: the admin route that adds any
// amount, negative included, as the increment does without API keys.
func (h *handler) adjust(w http.ResponseWriter, r *http.Request) {
	cw, err := decodeAdjust(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	res, err := h.apply(ctx, w, r, cw)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeCounter(w, http.StatusOK, res.Counter)
}

// delete answers DELETE /counters/{name}: 204, no body.
func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	cw, err := decodeDelete(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	if _, err := h.apply(ctx, w, r, cw); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
