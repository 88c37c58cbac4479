package localapi

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) {
	code := dynamolocal.RunTests(m)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built holds the bootstraps and the emulator the tests of this binary
// share, built on first use.
var built struct {
	once      sync.Once
	dir       string
	root      string
	rie       string
	bootstrap map[string]string // by package dir: functions/get, tools/localapi/testdata/hello
	err       error
}

// testBinaries returns the module root, the emulator and the host bootstraps
// of hello and of every function, building them once per test binary.
func testBinaries(tb testing.TB) (root, rie string, bootstraps map[string]string) {
	tb.Helper()
	built.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if built.root, built.err = FindModuleRoot("."); built.err != nil {
			return
		}
		if built.dir, built.err = os.MkdirTemp("", "localapi-test-"); built.err != nil {
			return
		}
		if built.rie, built.err = InstallRIE(ctx, filepath.Join(built.root, ".cache")); built.err != nil {
			return
		}
		built.bootstrap, built.err = BuildBootstraps(ctx, built.root, built.dir, []string{
			"tools/localapi/testdata/hello", "functions/get", "functions/health",
		})
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.root, built.rie, built.bootstrap
}

// startTestInstance runs bootstrap under the emulator with env, stopped
// when the test ends.
func startTestInstance(tb testing.TB, rie, bootstrap string, env []string) *instance {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log io.Writer = tbWriter{tb}
	if _, bench := tb.(*testing.B); bench {
		log = io.Discard
	}
	in, err := startInstance(ctx, rie, bootstrap, env, log, freePorts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(in.stop)
	return in
}

// tbWriter sends process output to the test log (shown with -v or on failure).
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Logf("%s", p)
	return len(p), nil
}
