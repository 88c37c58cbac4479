package crawlers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func newDetector(t testing.TB) *Detector {
	t.Helper()
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestIndexAgreesWithEveryPattern checks the literal index against the
// plain way: every User-Agent the list gives as an instance (and a few
// browsers') is a crawler exactly when one of the kept patterns matches it.
func TestIndexAgreesWithEveryPattern(t *testing.T) {
	d := newDetector(t)
	var list []struct {
		entry
		Instances []string `json:"instances"`
	}
	if err := json.Unmarshal(listJSON, &list); err != nil {
		t.Fatal(err)
	}
	var kept []*regexp.Regexp
	var uas []string
	for _, e := range list {
		uas = append(uas, e.Instances...)
		if !leftOut(e.entry) {
			kept = append(kept, regexp.MustCompile(e.Pattern))
		}
	}
	uas = append(uas, browsers...)
	if d.Patterns() != len(kept) || len(kept) < 1000 {
		t.Fatalf("the detector checks %d patterns, want the %d kept of the list", d.Patterns(), len(kept))
	}
	crawlers := 0
	for _, ua := range uas {
		want := false
		for _, re := range kept {
			if re.MatchString(ua) {
				want = true
				break
			}
		}
		for _, when := range []string{"first", "remembered"} {
			if got := d.IsCrawler(ua); got != want {
				t.Errorf("IsCrawler(%q) = %v (%s), want %v", ua, got, when, want)
			}
		}
		if want {
			crawlers++
		}
	}
	if crawlers < len(uas)*9/10 {
		t.Errorf("%d of the list's %d instances are crawlers, want most", crawlers, len(uas))
	}
}

var browsers = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
}

func TestWhoIsACrawler(t *testing.T) {
	d := newDetector(t)
	for _, tc := range []struct {
		name, ua string
		want     bool
	}{
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true},
		{"Slack's link preview", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true},
		{"Twitter's card preview", "Twitterbot/1.0", true},
		{"UptimeRobot", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", true},
		{"GitHub's camo", "github-camo (876de43e)", false},
		{"Gmail's image proxy", "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", false},
		{"Yahoo Mail's proxy", "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", false},
		{"curl", "curl/8.5.0", false},
		{"Go's net/http", "Go-http-client/1.1", false},
		{"Chrome", browsers[0], false},
		{"Firefox", browsers[2], false},
		{"no User-Agent", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.IsCrawler(tc.ua); got != tc.want {
				t.Errorf("IsCrawler(%q) = %v, want %v", tc.ua, got, tc.want)
			}
		})
	}
}

// BenchmarkIsCrawler classifies User-Agents as they come: browsers' (the
// five above, which are most of a page's views), crawlers' (an instance
// of every tenth entry of the list), a mix of nine browsers to one
// crawler, and User-Agents each seen once in a while (distinct: more
// than the verdicts kept, so each is matched anew).
func BenchmarkIsCrawler(b *testing.B) {
	d := newDetector(b)
	var list []struct {
		Instances []string `json:"instances"`
	}
	if err := json.Unmarshal(listJSON, &list); err != nil {
		b.Fatal(err)
	}
	var bots []string
	for i := 0; i < len(list); i += 10 {
		if len(list[i].Instances) > 0 {
			bots = append(bots, list[i].Instances[0])
		}
	}
	var mix []string
	for i, bot := range bots {
		mix = append(mix, bot)
		for j := range 9 {
			mix = append(mix, browsers[(i+j)%len(browsers)])
		}
	}
	for _, bc := range []struct {
		name string
		uas  []string
	}{{"browsers", browsers}, {"crawlers", bots}, {"mix", mix}, {"distinct", distinctAgents(4096)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d.IsCrawler(bc.uas[i%len(bc.uas)])
				i++
			}
		})
	}
}

// distinctAgents returns n browsers' User-Agents, all different.
func distinctAgents(n int) []string {
	uas := make([]string, n)
	for i := range uas {
		uas[i] = browsers[i%len(browsers)] + " build/" + strconv.Itoa(i)
	}
	return uas
}

// TestVerdictsConcurrentAndBounded: goroutines classifying, at once,
// browsers, crawlers and more distinct User-Agents than verdicts are kept
// (so that they replace each other's in the slots) each get the verdict
// of the patterns; User-Agents too long to remember are classified too.
func TestVerdictsConcurrentAndBounded(t *testing.T) {
	d := newDetector(t)
	long := "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) " + strings.Repeat("x", maxRemembered)
	uas := append(distinctAgents(3000), long, strings.Repeat("y", maxRemembered+1))
	for i := range 1000 {
		uas = append(uas, fmt.Sprintf("Mozilla/5.0 (compatible; Googlebot/2.%d; +http://www.google.com/bot.html)", i))
	}
	want := make(map[string]bool, len(uas))
	for _, ua := range uas {
		want[ua] = d.match(ua)
	}
	if !want[long] || want[uas[0]] {
		t.Fatal("the patterns do not tell these crawlers from browsers")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 3 * len(uas) {
				ua := uas[(i*7+g*131)%len(uas)]
				if got := d.IsCrawler(ua); got != want[ua] {
					t.Errorf("IsCrawler(%q) = %v, want %v", ua, got, want[ua])
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range d.verdicts.slots {
		if v := d.verdicts.slots[i].Load(); v != nil && len(v.userAgent) > maxRemembered {
			t.Errorf("a verdict of a %d-byte User-Agent is kept", len(v.userAgent))
		}
	}
}

// TestSourceNamesTheVendoredFile: SOURCE gives the vendored list's
// checksum, so that a list changed by hand, not by the update script, is
// caught.
func TestSourceNamesTheVendoredFile(t *testing.T) {
	source, err := os.ReadFile("SOURCE")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(listJSON)
	if !strings.Contains(string(source), "sha256 of crawler-user-agents.json: "+hex.EncodeToString(sum[:])) {
		t.Errorf("SOURCE does not give the vendored list's sha256 %x:\n%s", sum, source)
	}
	if !regexp.MustCompile(`(?m)^version: \d+\.\d+\.\d+$`).Match(source) {
		t.Errorf("SOURCE gives no version:\n%s", source)
	}
}
