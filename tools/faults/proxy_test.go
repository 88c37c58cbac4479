package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		p.failures.add(err)
		return
	}
	req.Header = r.Header.Clone()
	res, err := p.client.Do(req)
	if err != nil {
		p.failures.add(fmt.Errorf("forward %s: %w", dynamoTarget(r), err))
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	resBody, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		p.failures.add(fmt.Errorf("read the answer to %s: %w", dynamoTarget(r), err))
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

// hangUp closes the caller's connection without an answer.
func (p *dynamoProxy) hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.failures.add(err)
		return
	}
	conn.Close()
}
