package browser

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// InstallHint says how to get the browser these tests need.
const InstallHint = "install Chromium (as root: apt-get install -y chromium, which `make deps` does)"

// candidates are the names Chromium goes by on PATH.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Find returns the path of a Chromium or Chrome executable.
func Find() (string, error) {
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium on PATH: " + InstallHint)
}

// Tab is one tab of a fresh headless Chromium, with everything its pages
// write to the console.
type Tab struct {
	// Ctx runs chromedp actions on the tab.
	Ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// New starts a fresh headless Chromium (its own profile in a temporary
// directory) and returns a tab of it; the browser stops when the test ends.
// Without Chromium the test is skipped, saying how to install it.
func New(t *testing.T) *Tab {
	t.Helper()
	path, err := Find()
	if err != nil {
		t.Skip(err.Error())
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 760),
		// Headless Chromium says HeadlessChrome, which the crawler list
		// takes for a bot (BOT_FILTER): the tests play a person.
		chromedp.UserAgent(UserAgent),
		// Without these Chromium calls Google's services at start, and in a
		// closed network its own connections are then refused.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	tab := &Tab{Ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tab.mu.Lock()
			tab.messages = append(tab.messages, m)
			tab.mu.Unlock()
		}
	}()
	return tab
}

// Problems returns what the tab's pages reported as wrong so far: uncaught
// exceptions, console.error calls, and the browser's error entries (failed
// loads, Content-Security-Policy violations).
func (tab *Tab) Problems() []chromedp.ConsoleMessage {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	var out []chromedp.ConsoleMessage
	for _, m := range tab.messages {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Source == "security" || m.Source == "violation" {
			out = append(out, m)
		}
	}
	return out
}

// UserAgent is the User-Agent the browser sends: a desktop Chrome's, not
// headless Chromium's own.
const UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36"
