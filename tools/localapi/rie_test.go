package localapi

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var baseEnv = []string{"PATH=/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_TIMEOUT=5"}

func readEvent(tb testing.TB, root, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(root, "events", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestInitErrorUnderEmulator checks that a function that cannot start
// reports an init error through the Runtime API, which the emulator returns
// for each invocation, instead of crashing in a loop.
func TestInitErrorUnderEmulator(t *testing.T) {
	root, rie, bins := testBinaries(t)
	in := startTestInstance(t, rie, bins["functions/get"], append(baseEnv, "STORE=bogus"))
	for i := range 2 { // the emulator restarts the runtime; it fails the same way
		body, fnErr, err := in.invoke(context.Background(), http.DefaultClient, readEvent(t, root, "get"))
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
		var got struct{ ErrorMessage, ErrorType string }
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("invoke %d: %s: %v", i, body, err)
		}
		if !fnErr || got.ErrorType != "Runtime.InitError" || !strings.Contains(got.ErrorMessage, "bogus") {
			t.Errorf("invoke %d: function error %v, %s; want a Runtime.InitError about STORE", i, fnErr, body)
		}
	}
}

// helloPool starts a pool of size emulators of the hello test function,
// stopped when the test ends, and returns the module root beside it.
func helloPool(t *testing.T, size int) (root string, p *pool) {
	t.Helper()
	root, rie, bins := testBinaries(t)
	p, err := newPool(context.Background(), "hello", size, func(ctx context.Context) (*instance, error) {
		return startInstance(ctx, rie, bins["tools/localapi/testdata/hello"], baseEnv, tbWriter{t}, freePorts)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return root, p
}

// TestPoolQueuesConcurrentInvokes sends more concurrent invocations than
// the pool has emulators; each emulator takes one at a time.
func TestPoolQueuesConcurrentInvokes(t *testing.T) {
	ctx := context.Background()
	root, p := helloPool(t, 2)
	event := readEvent(t, root, "health")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			body, fnErr, err := p.invoke(ctx, http.DefaultClient, event)
			if err == nil && (fnErr || !strings.Contains(string(body), `"statusCode":200`)) {
				err = &unexpectedBody{body}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

type unexpectedBody struct{ body []byte }

func (e *unexpectedBody) Error() string { return "unexpected answer: " + string(e.body) }

// TestPoolReplacesDeadInstance kills an emulator behind the pool's back; the
// next invocation gets a fresh one.
func TestPoolReplacesDeadInstance(t *testing.T) {
	ctx := context.Background()
	root, p := helloPool(t, 1)
	in := <-p.idle
	in.stop()
	p.idle <- in
	if _, fnErr, err := p.invoke(ctx, http.DefaultClient, readEvent(t, root, "health")); err != nil || fnErr {
		t.Fatalf("invoke after the emulator died: function error %v, %v", fnErr, err)
	}
}

// TestPoolRecycle: a recycle stops the idle instances at once and retires
// the busy one too; the next invocations run on fresh processes.
func TestPoolRecycle(t *testing.T) {
	ctx := context.Background()
	root, p := helloPool(t, 2)
	busy := <-p.idle // as if in an invocation during the recycle
	idle := <-p.idle
	p.idle <- idle
	p.recycle()
	if idle.alive() {
		t.Error("an idle instance is still running after the recycle")
	}
	if !busy.alive() {
		t.Error("the recycle stopped an instance in an invocation")
	}
	p.idle <- busy // taken next after the other, and retired then
	event := readEvent(t, root, "health")
	for i := range 2 {
		if _, fnErr, err := p.invoke(ctx, http.DefaultClient, event); err != nil || fnErr {
			t.Fatalf("invoke %d after the recycle: function error %v, %v", i, fnErr, err)
		}
	}
	if busy.alive() {
		t.Error("the instance busy during the recycle is still running after the next invocations")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.all) != 2 {
		t.Errorf("%d instances after the recycle, want 2 fresh ones", len(p.all))
	}
	for in := range p.all {
		if in == idle || in == busy || in.gen != 1 || !in.alive() {
			t.Errorf("instance %p (generation %d, alive %v) after the recycle, want a fresh, running one", in, in.gen, in.alive())
		}
	}
}
