package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

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

// pathName returns the validated {name} of the request path.
func pathName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	return name, counter.ValidateName(name)
}

func (h *handler) writeCounter(w http.ResponseWriter, status int, c counter.Counter) {
	writeBody(w, status, appendCounter(getBuf(), c))
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
		w.Header().Set("Retry-After", retryAfterSeconds)
		b := append(getBuf(), `{"status":"unavailable","error":{"code":"unavailable","message":`...)
		b = appendString(b, counter.ErrorMessage(err))
		writeBody(w, http.StatusServiceUnavailable, append(b, "}}"...))
		return
	}
	writeBody(w, http.StatusOK, append(getBuf(), `{"status":"ok"}`...))
}

// create answers POST /counters, whose body is {"name": ..., "count": ...}
// (count optional).
func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	body, err := decodeBody(w, r, false, "name", "count")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	name, err := parseName(body[0])
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	count, _, err := parseCount(body[1])
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	o, err := h.write(w, r, counter.Write{Op: counter.OpCreate, Name: name, Count: count})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setLocation(w, o.Counter.Name)
	h.writeCounter(w, http.StatusCreated, o.Counter)
}

// maxCursorLength bounds list cursors before any work is done.
const maxCursorLength = 2048

// list answers GET /counters?limit=&cursor=.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, counter.Errorf(counter.InvalidRequest, "the query string is not valid"))
		return
	}
	opts := counter.ListOptions{Limit: counter.DefaultListLimit, Cursor: q.Get("cursor")}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > counter.MaxListLimit {
			h.writeError(w, r, counter.Errorf(counter.InvalidRequest, "limit must be an integer from 1 to %d", counter.MaxListLimit))
			return
		}
		opts.Limit = n
	}
	if len(opts.Cursor) > maxCursorLength {
		h.writeError(w, r, counter.InvalidCursorError())
		return
	}
	ctx, cancel := h.storeContext(r)
	defer cancel()
	page, err := h.store.List(ctx, opts)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	b := append(getBuf(), `{"counters":[`...)
	for i, c := range page.Counters {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCounter(b, c)
	}
	b = append(b, ']')
	if page.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendString(b, page.NextCursor)
	}
	writeBody(w, http.StatusOK, append(b, '}'))
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

// set answers PUT /counters/{name}, whose body is {"count": ...}.
func (h *handler) set(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := decodeBody(w, r, false, "count")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	count, present, err := parseCount(body[0])
	if err == nil && !present {
		err = counter.Errorf(counter.InvalidRequest, "field \"count\" is required")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	o, err := h.write(w, r, counter.Write{Op: counter.OpSet, Name: name, Count: count})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if o.Created {
		status = http.StatusCreated
		setLocation(w, o.Counter.Name)
	}
	h.writeCounter(w, status, o.Counter)
}

// increment answers POST /counters/{name}/increment, whose body, optional,
// is {"by": ...}.
func (h *handler) increment(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	by := int64(1)
	if r.ContentLength != 0 { // -1 (unknown) or more: there may be a body
		body, err := decodeBody(w, r, true, "by")
		if err == nil {
			by, err = parseBy(body[0])
		}
		if err != nil && err != io.EOF { // io.EOF: an empty body, the default
			h.writeError(w, r, err)
			return
		}
	}
	o, err := h.write(w, r, counter.Write{Op: counter.OpIncrement, Name: name, By: by})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeCounter(w, http.StatusOK, o.Counter)
}

// delete answers DELETE /counters/{name}.
func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := h.write(w, r, counter.Write{Op: counter.OpDelete, Name: name}); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
