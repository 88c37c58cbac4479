package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/transfer"
)

// The maintenance routes: the standalone server's, for moving and backing
// up data (docs/self-hosting.md). They are not in Routes: no Lambda
// function serves them (a Lambda answer is at most 6 MB, and API Gateway
// gives up after 29 s), and the server serves each one only where
// Options.Maintenance provides for it. They are admin routes: with
// API_KEYS set, they need a key.
const (
	// RouteExport is GET /admin/export: every counter with its history,
	// as JSON lines (internal/transfer).
	RouteExport = "export"
	// RouteImport is POST /admin/import: an export's counters created in
	// the store, those that exist already skipped.
	RouteImport = "import"
	// RouteSnapshot is GET /admin/snapshot: a consistent copy of the file
	// store's data file, taken while it serves.
	RouteSnapshot = "snapshot"
)

// Maintenance says which maintenance routes a handler serves.
type Maintenance struct {
	// Export serves RouteExport, reading the handler's store.
	Export bool
	// Importer, when set, serves RouteImport into it (the handler's store).
	Importer counter.Importer
	// Snapshotter, when set, serves RouteSnapshot.
	Snapshotter Snapshotter
}

// Snapshotter writes a consistent copy of a store's data;
// *filestore.Store implements it.
type Snapshotter interface {
	// WriteSnapshot writes the copy to w and returns its length.
	WriteSnapshot(ctx context.Context, w io.Writer) (int64, error)
}

// MaxImportBytes bounds the body of an import.
const MaxImportBytes = 1 << 30

// transferIdle is how long a maintenance route waits for its client to
// read or send the next bytes: a transfer may take long, a stalled one
// may not.
const transferIdle = 30 * time.Second

// maintenanceRoutes returns the routes m provides for.
func maintenanceRoutes(m Maintenance) []Route {
	var routes []Route
	if m.Export {
		routes = append(routes, Route{Name: RouteExport, Method: http.MethodGet, Path: "/admin/export", Admin: true, serve: (*handler).export})
	}
	if m.Importer != nil {
		routes = append(routes, Route{Name: RouteImport, Method: http.MethodPost, Path: "/admin/import", Admin: true, serve: (*handler).importCounters})
	}
	if m.Snapshotter != nil {
		routes = append(routes, Route{Name: RouteSnapshot, Method: http.MethodGet, Path: "/admin/snapshot", Admin: true, serve: (*handler).snapshot})
	}
	return routes
}

// transferWriter writes a long answer: it pushes the connection's write
// deadline (if the server sets one) forward as bytes go out, and counts
// them.
type transferWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	written int64
}

func newTransferWriter(w http.ResponseWriter) *transferWriter {
	return &transferWriter{w: w, rc: http.NewResponseController(w)}
}

func (tw *transferWriter) Write(p []byte) (int, error) {
	_ = tw.rc.SetWriteDeadline(time.Now().Add(transferIdle)) // ErrNotSupported: no deadline to push
	n, err := tw.w.Write(p)
	tw.written += int64(n)
	return n, err
}

// fail ends an answer that failed: with a JSON error if nothing was sent
// yet, otherwise by cutting the connection, so that the client sees a
// broken transfer rather than a short file.
func (h *handler) fail(tw *transferWriter, r *http.Request, err error) {
	if tw.written == 0 {
		h.writeError(tw.w, r, err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelError, "transfer cut short", slog.String("path", r.URL.Path),
		slog.Int64("bytes", tw.written), slog.String("cause", err.Error()))
	panic(http.ErrAbortHandler)
}

func attachment(w http.ResponseWriter, contentType, name, ext string) {
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="hitcounter-%s-%s.%s"`, name, time.Now().UTC().Format("20060102T150405Z"), ext))
	hdr.Set("Cache-Control", "no-store")
}

// export answers GET /admin/export.
func (h *handler) export(w http.ResponseWriter, r *http.Request) {
	attachment(w, transfer.ContentType, "export", "jsonl")
	tw := newTransferWriter(w)
	n, err := transfer.Export(r.Context(), h.store, tw, time.Now())
	if err != nil {
		h.fail(tw, r, err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "exported", slog.Int("counters", n), slog.Int64("bytes", tw.written))
}

// snapshot answers GET /admin/snapshot.
func (h *handler) snapshot(w http.ResponseWriter, r *http.Request) {
	attachment(w, "application/octet-stream", "snapshot", "db")
	tw := newTransferWriter(w)
	n, err := h.maintenance.Snapshotter.WriteSnapshot(r.Context(), tw)
	if err != nil {
		h.fail(tw, r, err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "snapshot written", slog.Int64("bytes", n))
}

// transferReader reads a long request body, pushing the connection's read
// deadline forward as bytes come in.
type transferReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (tr transferReader) Read(p []byte) (int, error) {
	_ = tr.rc.SetReadDeadline(time.Now().Add(transferIdle))
	return tr.r.Read(p)
}

// importCounters answers POST /admin/import: 200 with what it did, or an
// error whose message says at which line it stopped and what it did
// before.
func (h *handler) importCounters(w http.ResponseWriter, r *http.Request) {
	body := transferReader{r: http.MaxBytesReader(w, r.Body, MaxImportBytes), rc: http.NewResponseController(w)}
	sum, err := transfer.Import(r.Context(), h.maintenance.Importer, body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch code := counter.ErrorCode(err); {
		case errors.As(err, &tooLarge):
			err = requestErrorf(PayloadTooLarge, "the export is larger than %d bytes; %d counters imported and %d skipped before", MaxImportBytes, sum.Imported, sum.Skipped)
		case errors.Is(err, transfer.ErrIncomplete):
			err = counter.Errorf(counter.InvalidRequest, "%s; %d counters imported and %d skipped", transfer.ErrIncomplete, sum.Imported, sum.Skipped)
		case code == counter.InvalidName || code == counter.InvalidRequest:
			err = counter.Errorf(code, "%s; %d counters imported and %d skipped before", counter.ErrorMessage(err), sum.Imported, sum.Skipped)
		}
		h.writeError(w, r, err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "imported", slog.Int("counters", sum.Imported), slog.Int("skipped", sum.Skipped))
	writeJSON(w, http.StatusOK, sum)
}
