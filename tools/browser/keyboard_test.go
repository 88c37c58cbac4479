package browser_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/pages"
	hcbrowser "github.com/hitcounter/hitcounter/tools/browser"
)

// watchFocus records, from now on, every focus change (focusin), every
// user input (keydown, pointerdown) and every change of the status line.
const watchFocus = `(() => {
	window.focusLog = []; window.inputs = 0; window.statusChanges = 0;
	document.addEventListener('focusin', e => window.focusLog.push(e.target.id || e.target.tagName), true);
	for (const t of ['keydown', 'pointerdown']) document.addEventListener(t, () => window.inputs++, true);
	new MutationObserver(() => window.statusChanges++).observe(document.getElementById('status'), {childList: true, characterData: true, subtree: true});
})()`

// TestKeyboardFocus walks the list with the keyboard alone and checks that
// focus moves only when the user acts: while the API wants a key that is
// not set, refreshes neither move focus (to the key field, as before) nor
// announce the same error again; a confirmation's "press again" goes when
// the confirmation expires; focus stays on Reset after a confirmed reset.
// Each check waits for two refreshes, seen at the API.
func TestKeyboardFocus(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the dashboard's refreshes (20 s each)")
	}
	tab := hcbrowser.New(t)
	store := memstore.New()
	for _, name := range []string{"docs", "home"} {
		if _, err := store.Apply(t.Context(), counter.Create(name, 9)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := httpapi.New(store, httpapi.Options{APIKeys: []string{testKey}, Pages: pages.New()})
	if err != nil {
		t.Fatal(err)
	}
	log := &requestLog{next: h}
	srv := httptest.NewServer(log)
	t.Cleanup(srv.Close)
	api := srv.URL + "/"
	before := len(tab.Problems())
	// waitRefreshes waits until the API has seen two more requests: the
	// dashboard's refreshes, every 20 s.
	waitRefreshes := func() {
		t.Helper()
		start := log.len()
		deadline := time.Now().Add(2 * time.Minute)
		for log.len() < start+2 {
			if time.Now().After(deadline) {
				t.Fatalf("the dashboard did not refresh twice in 2 minutes")
			}
			time.Sleep(100 * time.Millisecond) // requests come on the page's timer: poll
		}
	}

	// No key: the page says so once, and leaves focus where the user put it.
	runSteps(t, tab, before, []step{
		{"open", chromedp.Navigate(api)},
		{"no key", evalVoid(`sessionStorage.clear()`)},
		{"reload", chromedp.Navigate(api)},
		{"ask for the key", poll(`document.getElementById('status').textContent.includes('needs an admin API key')`)},
		{"watch", evalVoid(watchFocus)},
		{"focus the search field", evalVoid(`document.getElementById('search').focus()`)},
		{"type", chromedp.SendKeys(chromedp.ID("search"), "ho")},
	})
	waitRefreshes()
	got := evalString(t, tab, `document.activeElement.id + ' ' + document.getElementById('search').value + ' ' + window.focusLog.join(',') + ' ' + window.statusChanges`)
	if got != "search ho search 0" {
		t.Errorf("after two refreshes without a key: %q, want focus still on the search field with 'ho', one focus change (the user's) and no status change", got)
	}

	// With the key, from the keyboard: Tab to the key field's button.
	runSteps(t, tab, before, []step{
		{"focus the key field", evalVoid(`document.getElementById('key-input').focus()`)},
		{"type the key", chromedp.SendKeys(chromedp.ID("key-input"), testKey+kb.Enter)},
		{"listed", poll(row("home") + `?.querySelector('.count')?.textContent === '9'`)},
		{"clear the search", evalVoid(`document.getElementById('search').value = ''`)},
		{"watch again", evalVoid(watchFocus)},
		{"focus Reset home", evalVoid(row("home") + `.querySelector('td.actions button').focus()`)},
		{"press Enter", chromedp.KeyEvent(kb.Enter)},
		{"asks to confirm", poll(`document.getElementById('status').textContent.startsWith('Press again to confirm')`)},
		// CONFIRM_MS is 5 s: the poll waits up to 20.
		{"the confirmation expires with its status", poll(`document.getElementById('status').textContent === '' && ` + row("home") + `.querySelector('td.actions button').textContent === 'Reset'`)},
		{"press Enter", chromedp.KeyEvent(kb.Enter)},
		{"press Enter to confirm", chromedp.KeyEvent(kb.Enter)},
		{"reset", poll(row("home") + `?.querySelector('.count')?.textContent === '0'`)},
	})
	if got := evalString(t, tab, `document.activeElement === `+row("home")+`.querySelector('td.actions button') ? 'reset' : document.activeElement.outerHTML`); got != "reset" {
		t.Errorf("focus after a confirmed reset: %s, want the Reset button", got)
	}
	mark := evalString(t, tab, `String(window.focusLog.length)`)
	waitRefreshes()
	if got := evalString(t, tab, `String(window.focusLog.length) + ' ' + (document.activeElement === `+row("home")+`.querySelector('td.actions button'))`); got != mark+" true" {
		t.Errorf("after two refreshes with no input: %q focus changes and focus on Reset, want %s true", got, mark)
	}
	wantNoProblems(t, tab, before, keyRefused)
}
