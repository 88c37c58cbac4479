package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// dynamoProxy stands between a server and DynamoDB Local and forwards each
// request, detached from its caller: once forwarded, a request completes
// whatever the caller does. Its hooks, if set, decide around the forwarding.
type dynamoProxy struct {
	srv      *httptest.Server
	upstream string
	client   *http.Client
	failures errorList
	// before runs once the request has been read; it returns the request
	// to go on with (its context may carry what answer needs to know), or
	// false: it is not forwarded (its caller left).
	before func(r *http.Request, body []byte) (*http.Request, bool)
	// answer runs with DynamoDB's answer; false: the caller gets nothing
	// (answer has dropped the connection, or the caller left).
	answer func(w http.ResponseWriter, r *http.Request, res *http.Response) bool

	// mu is held for reading while a request is forwarded, and for
	// writing by cut and restore.
	mu   sync.RWMutex
	down bool // cut: every request is hung up on, unforwarded
}

// cut makes DynamoDB unreachable through the proxy: from now on it hangs
// up on every request without forwarding it. It returns once the requests
// already forwarded have been answered by DynamoDB (their callers may or
// may not get the answer), so that nothing reaches DynamoDB afterwards.
func (p *dynamoProxy) cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
}

// restore makes DynamoDB reachable through the proxy again.
func (p *dynamoProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func newDynamoProxy(t *testing.T, upstream string) *dynamoProxy {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	p := &dynamoProxy{upstream: upstream, client: &http.Client{Transport: tr}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		p.srv.Close()
		tr.CloseIdleConnections()
	})
	return p
}

// URL is the endpoint to give the server instead of DynamoDB Local's.
func (p *dynamoProxy) URL() string { return p.srv.URL }

func (p *dynamoProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the caller left while sending
	}
	if p.before != nil {
		var ok bool
		if r, ok = p.before(r, body); !ok {
			return
		}
	}
	res, resBody, forwarded := p.forward(r, body)
	if !forwarded {
		p.hangUp(w) // cut
		return
	}
	if res == nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if p.answer != nil && !p.answer(w, r, res) {
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
func (p *dynamoProxy) forward(r *http.Request, body []byte) (res *http.Response, resBody []byte, forwarded bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.down {
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		p.failures.add(err)
		return nil, nil, true
	}
	req.Header = r.Header.Clone()
	res, err = p.client.Do(req)
	if err != nil {
		p.failures.add(fmt.Errorf("forward %s: %w", dynamoTarget(r), err))
		return nil, nil, true
	}
	resBody, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		p.failures.add(fmt.Errorf("read the answer to %s: %w", dynamoTarget(r), err))
		return nil, nil, true
	}
	return res, resBody, true
}

// hangUp closes the caller's connection without an answer.
func (p *dynamoProxy) hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.failures.add(err)
		return
	}
	conn.Close()
}

// settleBeforeKill is how long the kill tests wait between cutting DynamoDB
// Local off and killing it. DynamoDB Local is not durable at SIGKILL: in
// one run it lost, whole, a transaction it had acknowledged 29 ms before
// the kill (the key's increment and its record both gone), which DynamoDB
// never does. Cutting it off first and letting it settle keeps the
// emulator's loss out of what the tests check: the server's answers while
// its store goes away in the middle of requests, and comes back.
const settleBeforeKill = time.Second

// crash makes DynamoDB Local go away under load as a crash would for the
// server: every request in flight or to come fails (hung up on), then the
// process is killed with SIGKILL.
func crash(t *testing.T, proxy *dynamoProxy, db *dynamolocal.Server) {
	t.Helper()
	proxy.cut()
	time.Sleep(settleBeforeKill) // no signal says the emulator has written its last transaction
	if err := db.Kill(); err != nil {
		t.Fatalf("kill DynamoDB Local: %v", err)
	}
}

// recoverStore starts DynamoDB Local again, on the same port and files, and
// lets requests through to it.
func recoverStore(t *testing.T, proxy *dynamoProxy, db *dynamolocal.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := db.Start(ctx); err != nil {
		t.Fatalf("start DynamoDB Local again: %v", err)
	}
	proxy.restore()
}
