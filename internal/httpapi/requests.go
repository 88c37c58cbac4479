package httpapi

import (
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Each route's request is decoded here, once, into the typed value its
// endpoint acts on: a counter.Write for the write routes (with the
// Idempotency-Key, if any), the options of a listing, a stats query.
// Errors are InvalidName, InvalidRequest or PayloadTooLarge; a write's
// Idempotency-Key is checked first, then its name, then its body.

// pathName returns the validated {name} of the request path.
func pathName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	return name, counter.ValidateName(name)
}

// decodeCreate decodes POST /counters, whose body is {"name": ...,
// "count": ..., "shards": ...} (count optional, 0 by default; shards
// optional).
func decodeCreate(w http.ResponseWriter, r *http.Request) (counter.Write, error) {
	key, err := idempotencyKey(r)
	if err != nil {
		return counter.Write{}, err
	}
	body, err := decodeBody(w, r, false, "name", "count", "shards")
	if err != nil {
		return counter.Write{}, err
	}
	name, err := parseName(body[0])
	if err != nil {
		return counter.Write{}, err
	}
	count, _, err := parseCount(body[1])
	if err != nil {
		return counter.Write{}, err
	}
	shards, err := parseShards(body[2])
	if err != nil {
		return counter.Write{}, err
	}
	return counter.Create(name, count).WithShards(shards).WithKey(key), nil
}

// decodeSet decodes PUT /counters/{name}, whose body is {"count": ...,
// "shards": ...} (shards optional).
func decodeSet(w http.ResponseWriter, r *http.Request) (counter.Write, error) {
	key, name, err := keyAndName(r)
	if err != nil {
		return counter.Write{}, err
	}
	body, err := decodeBody(w, r, false, "count", "shards")
	if err != nil {
		return counter.Write{}, err
	}
	count, present, err := parseCount(body[0])
	if err == nil && !present {
		err = counter.Errorf(counter.InvalidRequest, "field \"count\" is required")
	}
	if err != nil {
		return counter.Write{}, err
	}
	shards, err := parseShards(body[1])
	if err != nil {
		return counter.Write{}, err
	}
	return counter.Set(name, count).WithShards(shards).WithKey(key), nil
}

// decodeIncrement decodes POST /counters/{name}/increment, whose body,
// optional, is {"by": ...} (1 by default).
func decodeIncrement(w http.ResponseWriter, r *http.Request) (counter.Write, error) {
	key, name, err := keyAndName(r)
	if err != nil {
		return counter.Write{}, err
	}
	by := int64(1)
	if r.ContentLength != 0 { // -1 (unknown) or more: there may be a body
		body, err := decodeBody(w, r, true, "by")
		if err == nil {
			by, err = parseBy(body[0])
		}
		if err != nil && err != io.EOF { // io.EOF: an empty body, the default
			return counter.Write{}, err
		}
	}
	return counter.Increment(name, by).WithKey(key), nil
}

// decodeAdjust decodes PATCH /counters/{name}, whose body is {"by": ...}:
// an increment by any amount, which the body must give.
func decodeAdjust(w http.ResponseWriter, r *http.Request) (counter.Write, error) {
	key, name, err := keyAndName(r)
	if err != nil {
		return counter.Write{}, err
	}
	body, err := decodeBody(w, r, false, "by")
	if err != nil {
		return counter.Write{}, err
	}
	if body[0] == nil {
		return counter.Write{}, counter.Errorf(counter.InvalidRequest, "field \"by\" is required")
	}
	by, err := parseBy(body[0])
	if err != nil {
		return counter.Write{}, err
	}
	return counter.Increment(name, by).WithKey(key), nil
}

// decodeDelete decodes DELETE /counters/{name}.
func decodeDelete(r *http.Request) (counter.Write, error) {
	key, name, err := keyAndName(r)
	if err != nil {
		return counter.Write{}, err
	}
	return counter.Delete(name).WithKey(key), nil
}

func keyAndName(r *http.Request) (counter.IdempotencyKey, string, error) {
	key, err := idempotencyKey(r)
	if err != nil {
		return key, "", err
	}
	name, err := pathName(r)
	return key, name, err
}

// maxCursorLength bounds list cursors before any work is done.
const maxCursorLength = 2048

// MaxListStatsLimit is the largest page a listing with stats may ask for:
// each counter on it costs one statistics read.
const MaxListStatsLimit = 100

// listRequest is GET /counters decoded: the page, and the statistics to
// carry with each counter on it (Stats nil: none).
type listRequest struct {
	Options counter.ListOptions
	Stats   *counter.StatsQuery
}

// decodeList decodes GET /counters?limit=&cursor=&prefix=&stats=&from=&to=.
func decodeList(r *http.Request) (listRequest, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return listRequest{}, counter.Errorf(counter.InvalidRequest, "the query string is not valid")
	}
	opts := counter.ListOptions{Limit: counter.DefaultListLimit, Cursor: q.Get("cursor"), Prefix: q.Get("prefix")}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > counter.MaxListLimit {
			return listRequest{}, counter.Errorf(counter.InvalidRequest, "limit must be an integer from 1 to %d", counter.MaxListLimit)
		}
		opts.Limit = n
	}
	if len(opts.Cursor) > maxCursorLength {
		return listRequest{}, counter.InvalidCursorError()
	}
	if err := counter.ValidatePrefix(opts.Prefix); err != nil {
		return listRequest{}, err
	}
	req := listRequest{Options: opts}
	period, ok := q["stats"]
	if !ok {
		if q.Has("from") || q.Has("to") {
			return listRequest{}, counter.Errorf(counter.InvalidRequest, "from and to go with stats=day or stats=hour")
		}
		return req, nil
	}
	if opts.Limit > MaxListStatsLimit {
		return listRequest{}, counter.Errorf(counter.InvalidRequest, "limit must be at most %d with stats", MaxListStatsLimit)
	}
	// The stats route's parameters, with stats for its period.
	sq := url.Values{"period": period}
	for _, p := range []string{"from", "to"} {
		if v, ok := q[p]; ok {
			sq[p] = v
		}
	}
	stats, err := statsQuery(sq.Encode())
	if err != nil {
		return listRequest{}, err
	}
	req.Stats = &stats
	return req, nil
}
