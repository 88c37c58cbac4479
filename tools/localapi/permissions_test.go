package localapi_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/hitcounter/hitcounter/tools/iamgate"
)

// accesses records what the gate between the functions and DynamoDB
// decided during a test (localapi.Options.OnAccess).
type accesses struct {
	mu  sync.Mutex
	all []iamgate.Decision
}

func (a *accesses) record(d iamgate.Decision) {
	a.mu.Lock()
	a.all = append(a.all, d)
	a.mu.Unlock()
}

func (a *accesses) decisions() []iamgate.Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.all)
}

// wantNoDenial fails the test for each request the gate refused: under
// the template's roles, every function may do what its routes do.
func (a *accesses) wantNoDenial(t *testing.T) {
	t.Helper()
	for _, d := range a.decisions() {
		if !d.Allowed {
			t.Errorf("%s: %s (%s) on %s refused %s", d.Principal, d.Action, d.Operation, d.Resource, d.Reason)
		}
	}
}
