package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
)

// shutdown stops the server gracefully: it stops accepting, closes idle
// connections and lets requests in flight finish within the grace period
// (SHUTDOWN_TIMEOUT). Past it, it closes the connections still open and
// logs how many it cut off. Either way the stop is what was asked for, so
// it returns nil; an error only if the server failed to close.
func (m *Main) shutdown() error {
	grace := m.cfg.ShutdownTimeout
	m.log.Info("shutting down", "grace_period", grace.String())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := m.srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	open := m.conns.count()
	_ = m.srv.Close() // closes the connections; its listener is closed already
	m.log.Warn(fmt.Sprintf("shutdown: grace period %v over; closed %d %s still open", grace, open, plural(open, "connection")),
		"closed_connections", open)
	return nil
}

// openConns counts the server's open connections, for saying what a
// shutdown cut off. Hook its track method to http.Server.ConnState.
type openConns struct{ n atomic.Int64 }

func (c *openConns) track(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		c.n.Add(1)
	case http.StateHijacked, http.StateClosed:
		c.n.Add(-1)
	}
}

func (c *openConns) count() int64 { return c.n.Load() }

func plural(n int64, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
