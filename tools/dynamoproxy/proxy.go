// Package dynamoproxy is a forwarding proxy between a DynamoDB client and
// DynamoDB Local, for tests and benchmarks: hooks before and after each
// request (the fault tests drop, delay and cut requests with them), and
// Limits, which make it throttle each partition key's writes and reads as
// DynamoDB does, answering exactly as DynamoDB answers, since DynamoDB
// Local never throttles.
package dynamoproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Proxy forwards requests to a DynamoDB endpoint. Each request is forwarded
// detached from its caller: once forwarded, it completes whatever the
// caller does. Set the hooks before the first request.
type Proxy struct {
	// Before runs once the request has been read; it returns the request
	// to go on with (its context may carry what Answer needs to know), or
	// false: it is not forwarded (its caller left, or Before answered).
	Before func(r *http.Request, body []byte) (*http.Request, bool)
	// Answer runs with DynamoDB's answer; false: the caller gets nothing
	// from the proxy (Answer has answered or hung up).
	Answer func(w http.ResponseWriter, r *http.Request, res *http.Response) bool

	upstream string
	client   *http.Client
	srv      *http.Server
	ln       net.Listener
	throttle *throttle

	// mu is held for reading while a request is forwarded, and for
	// writing by Cut and Restore.
	mu   sync.RWMutex
	down bool // Cut: every request is hung up on, unforwarded

	errMu  sync.Mutex
	errs   []error
	nErrs  int
	closed chan struct{}
}

// Start starts a proxy to upstream (DynamoDB Local's endpoint) on a free
// loopback port.
func Start(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	p := &Proxy{upstream: strings.TrimSuffix(upstream, "/"), client: &http.Client{Transport: tr}, ln: ln,
		throttle: newThrottle(), closed: make(chan struct{})}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.closed)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// URL is the endpoint to give the client instead of DynamoDB's.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy once the requests it is serving have ended (at
// most 30 s), then cuts the connections it holds.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if err != nil {
		err = p.srv.Close()
	}
	<-p.closed
	p.client.CloseIdleConnections()
	return err
}

// Errors returns how many requests could not be forwarded or answered by
// DynamoDB (a proxy fault, not DynamoDB's), and the first few.
func (p *Proxy) Errors() (int, []error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.nErrs, append([]error(nil), p.errs...)
}

func (p *Proxy) fail(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	p.nErrs++
	if len(p.errs) < 10 {
		p.errs = append(p.errs, err)
	}
}

// Cut makes DynamoDB unreachable through the proxy: from now on it hangs up
// on every request without forwarding it. It returns once the requests
// already forwarded have been answered by DynamoDB (their callers may or
// may not get the answer), so that nothing reaches DynamoDB afterwards.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
}

// Restore makes DynamoDB reachable through the proxy again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Operation is the DynamoDB operation a request asks for, from its
// X-Amz-Target header ("DynamoDB_20120810.UpdateItem" is "UpdateItem").
func Operation(r *http.Request) string {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	return op
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the caller left while sending
	}
	if p.Before != nil {
		var ok bool
		if r, ok = p.Before(r, body); !ok {
			return
		}
	}
	admitted, refusal := p.throttle.admit(Operation(r), body)
	if refusal != nil {
		writeRefusal(w, refusal)
		return
	}
	if admitted != nil {
		body = admitted.body
	}
	res, resBody, forwarded := p.forward(r, body)
	if !forwarded {
		p.HangUp(w) // cut
		return
	}
	if res == nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if admitted != nil && res.StatusCode == http.StatusOK {
		resBody = admitted.answer(res, resBody)
	}
	if p.Answer != nil && !p.Answer(w, r, res) {
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(resBody)
}

// forward sends the request to DynamoDB and reads its answer, unless the
// proxy is cut (forwarded false); a failure is recorded and gives no
// answer.
func (p *Proxy) forward(r *http.Request, body []byte) (res *http.Response, resBody []byte, forwarded bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.down {
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		p.fail(err)
		return nil, nil, true
	}
	req.Header = r.Header.Clone()
	req.ContentLength = int64(len(body))
	res, err = p.client.Do(req)
	if err != nil {
		p.fail(fmt.Errorf("forward %s: %w", Operation(r), err))
		return nil, nil, true
	}
	resBody, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		p.fail(fmt.Errorf("read the answer to %s: %w", Operation(r), err))
		return nil, nil, true
	}
	return res, resBody, true
}

// HangUp closes the caller's connection without an answer.
func (p *Proxy) HangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.fail(err)
		return
	}
	conn.Close()
}
