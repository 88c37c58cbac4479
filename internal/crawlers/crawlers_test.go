package crawlers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strings"
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
		if got := d.IsCrawler(ua); got != want {
			t.Errorf("IsCrawler(%q) = %v, want %v", ua, got, want)
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
// of every tenth entry of the list), and a mix of nine browsers to one
// crawler.
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
	}{{"browsers", browsers}, {"crawlers", bots}, {"mix", mix}} {
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
