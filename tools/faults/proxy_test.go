package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
)

// dynamoProxy stands between a server and DynamoDB Local and forwards each
// request, detached from its caller (tools/dynamoproxy); its hooks, if
// set, decide around the forwarding, and cut makes DynamoDB unreachable.
type dynamoProxy struct {
	*dynamoproxy.Proxy
}

func newDynamoProxy(t *testing.T, upstream string) *dynamoProxy {
	t.Helper()
	p, err := dynamoproxy.Start(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &dynamoProxy{p}
}

// check fails the test if the proxy could not forward a request or read
// DynamoDB's answer.
func (p *dynamoProxy) check(t *testing.T) {
	t.Helper()
	if n, errs := p.Errors(); n > 0 {
		t.Errorf("proxy: %d failures, the first ones:\n%v", n, errors.Join(errs...))
	}
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
	proxy.Cut()
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
	proxy.Restore()
}
