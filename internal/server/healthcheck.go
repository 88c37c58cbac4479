package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hitcounter/hitcounter/internal/config"
)

// HealthCheckTimeout bounds a health check.
const HealthCheckTimeout = 5 * time.Second

// HealthCheck asks the server that cfg describes, on this machine, for
// GET /health, and returns nil if it answers 200: what the container
// image's HEALTHCHECK runs (`hitcounter healthcheck`), since an image FROM
// scratch has no curl. A server listening on all interfaces is asked on
// the loopback address.
func HealthCheck(ctx context.Context, cfg config.Config) error {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if port == "0" {
		return fmt.Errorf("PORT=0: the server's port is not known; set PORT")
	}
	ctx, cancel := context.WithTimeout(ctx, HealthCheckTimeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}} // never through a proxy
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, res.Status, body)
	}
	return nil
}
