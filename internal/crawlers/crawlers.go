// Package crawlers tells crawlers' requests from people's by their
// User-Agent, with the list of the crawler-user-agents project (vendored
// here from npm: SOURCE says which version; scripts/update-crawlers.sh
// updates it).
package crawlers

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
)

//go:embed crawler-user-agents.json
var listJSON []byte

// entry is one pattern of the list (its instances, description and URL
// are not read).
type entry struct {
	Pattern string   `json:"pattern"`
	Tags    []string `json:"tags"`
}

// ImageProxies are the list's patterns of the proxies that fetch images on
// behalf of a person reading a page or a mail: a view, not a crawler.
// GitHub's camo fetches a README's images for each reader (with caching
// that GitHub asks it not to apply to badges); Gmail's and Yahoo Mail's
// proxies fetch a mail's images when its reader opens it.
var ImageProxies = []string{"github-camo", "GoogleImageProxy", "YahooMailProxy"}

// leftOut reports whether the list's entry e is not a crawler here: an
// image proxy, or an HTTP library (curl, Go's net/http, python-requests:
// the clients of scripts that call the API on purpose, which a crawler
// following links does not).
func leftOut(e entry) bool {
	for _, p := range ImageProxies {
		if e.Pattern == p {
			return true
		}
	}
	for _, t := range e.Tags {
		if t == "http-library" {
			return true
		}
	}
	return false
}

// Detector recognizes crawlers' User-Agents. It is safe for concurrent use.
//
// Matching 1,400 regular expressions one by one, or as one alternation,
// costs milliseconds a request; instead each pattern is indexed by a
// literal it requires (its longest, case-folded), and a User-Agent is
// checked against only the patterns whose literal it holds: a few
// microseconds (BenchmarkMatch).
type Detector struct {
	byTrigram map[string][]*pattern // by the first three bytes of their literal
	always    []*pattern            // patterns without literals of three bytes or more
	count     int
}

// pattern is one of the list's patterns, compiled when a User-Agent first
// holds its literal: most never are, and compiling all of them would add
// tens of milliseconds to every start (a Lambda function's cold start).
type pattern struct {
	literal string // lower case
	expr    string
	re      func() *regexp.Regexp
}

func newPattern(literal, expr string) *pattern {
	return &pattern{literal: literal, expr: expr, re: sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(expr) // New parsed it already
	})}
}

// New returns a Detector of the vendored list, less the entries that are
// not crawlers here (ImageProxies, HTTP libraries).
func New() (*Detector, error) {
	var list []entry
	if err := json.Unmarshal(listJSON, &list); err != nil {
		return nil, fmt.Errorf("crawlers: the vendored list: %w", err)
	}
	d := &Detector{byTrigram: make(map[string][]*pattern)}
	for _, e := range list {
		if leftOut(e) {
			continue
		}
		parsed, err := syntax.Parse(e.Pattern, syntax.Perl)
		if err != nil {
			continue // a pattern Go's regexp cannot read (none in 1.60.0): left out rather than failing
		}
		d.count++
		lits := literals(parsed.Simplify())
		if lits == nil {
			d.always = append(d.always, newPattern("", e.Pattern))
			continue
		}
		p := newPattern("", e.Pattern)
		for _, lit := range lits {
			q := *p // the same compiled expression under each literal
			q.literal = lit
			d.byTrigram[lit[:3]] = append(d.byTrigram[lit[:3]], &q)
		}
	}
	return d, nil
}

// Patterns returns the number of patterns d checks.
func (d *Detector) Patterns() int { return d.count }

// IsCrawler reports whether userAgent is a crawler's.
func (d *Detector) IsCrawler(userAgent string) bool {
	if userAgent == "" {
		return false
	}
	lower := strings.ToLower(userAgent)
	for i := 0; i+3 <= len(lower); i++ {
		for _, p := range d.byTrigram[lower[i:i+3]] {
			if strings.HasPrefix(lower[i:], p.literal) && p.re().MatchString(userAgent) {
				return true
			}
		}
	}
	for _, p := range d.always {
		if p.re().MatchString(userAgent) {
			return true
		}
	}
	return false
}

// literals returns, in lower case, literals of three bytes or more one of
// which every match of the parsed pattern holds (the longest of each
// branch of an alternation), or nil if it finds none.
func literals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if s := strings.ToLower(string(re.Rune)); len(s) >= 3 {
			return []string{s}
		}
	case syntax.OpCapture, syntax.OpPlus: // (x) and x+ hold x
		return literals(re.Sub[0])
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			lits := literals(sub)
			if lits == nil {
				return nil
			}
			all = append(all, lits...)
		}
		return all
	case syntax.OpConcat:
		var best []string // the branch's literals whose shortest is longest
		shortest := func(l []string) int {
			n := -1
			for _, s := range l {
				if n < 0 || len(s) < n {
					n = len(s)
				}
			}
			return n
		}
		consider := func(l []string) {
			if l != nil && (best == nil || shortest(l) > shortest(best)) {
				best = l
			}
		}
		run := ""
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral { // adjacent literals make one
				run += string(sub.Rune)
				continue
			}
			consider(literals(&syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune(run)}))
			run = ""
			consider(literals(sub))
		}
		consider(literals(&syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune(run)}))
		return best
	}
	return nil
}
