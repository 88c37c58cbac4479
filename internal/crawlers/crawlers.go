// Package crawlers tells crawlers' requests from people's by their
// User-Agent, with the list of the crawler-user-agents project (vendored
// here from npm: SOURCE says which version; scripts/update-crawlers.sh
// updates it).
package crawlers

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
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
// checked against only the patterns whose literal it holds. One pass over
// the User-Agent rolls its three-byte windows (trigrams), folded to lower
// case in place, and looks each up in a table indexed by the trigram's
// hash: nearly every window of a browser's User-Agent finds an empty slot,
// so that it costs a few hundred nanoseconds and no allocation, where a
// map lookup per window and a lower-case copy cost microseconds. And a
// site's views come from a few browsers' User-Agents, the same on every
// request: the last verdicts are kept (verdicts), so that most requests
// cost a hash of the User-Agent and a comparison (BenchmarkIsCrawler;
// docs/benchmarks.md).
type Detector struct {
	verdicts verdicts
	// slots maps a trigram's hash (slot) to the index in buckets of the
	// patterns whose literal starts with a trigram of that hash; 0 (an
	// empty bucket) if none.
	slots   [1 << slotBits]uint16
	buckets [][]*pattern
	always  []*pattern // patterns without literals of three bytes or more
	count   int
}

// slotBits sizes Detector.slots: with the list's 780 first trigrams in
// 32,768 slots, about one window in forty of a User-Agent that holds none
// of them finds a bucket (whose literals then do not match).
const slotBits = 15

// slot returns the trigram t's slot (Fibonacci hashing of its 24 bits).
func slot(t uint32) uint32 { return t * 0x9e3779b1 >> (32 - slotBits) }

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
	d := &Detector{buckets: [][]*pattern{nil}, verdicts: verdicts{seed: maphash.MakeSeed()}}
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
			i := &d.slots[slot(trigram(lit[0], lit[1], lit[2]))]
			if *i == 0 { // at most 1<<slotBits buckets, within uint16
				*i = uint16(len(d.buckets))
				d.buckets = append(d.buckets, nil)
			}
			d.buckets[*i] = append(d.buckets[*i], &q)
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
	place, crawler, ok := d.verdicts.lookup(userAgent)
	if !ok {
		crawler = d.match(userAgent)
		d.verdicts.store(place, userAgent, crawler)
	}
	return crawler
}

// verdicts keeps the verdicts of the last User-Agents, one per slot of
// their hash: a fixed number of slots, each holding a User-Agent of at
// most maxRemembered bytes, so that a stream of distinct User-Agents
// replaces verdicts and never grows memory (at most about 280 KB). Safe
// for concurrent use: a slot is swapped whole, atomically.
type verdicts struct {
	seed  maphash.Seed
	slots [1 << verdictBits]atomic.Pointer[verdict]
}

const (
	verdictBits   = 9
	maxRemembered = 512 // bytes of User-Agent; browsers' are 100 to 300
)

// verdict is IsCrawler's answer for one User-Agent.
type verdict struct {
	userAgent string
	crawler   bool
}

// lookup returns userAgent's slot and, if ok, its verdict.
func (v *verdicts) lookup(userAgent string) (slot *atomic.Pointer[verdict], crawler, ok bool) {
	if len(userAgent) > maxRemembered {
		return nil, false, false
	}
	slot = &v.slots[maphash.String(v.seed, userAgent)>>(64-verdictBits)]
	if e := slot.Load(); e != nil && e.userAgent == userAgent {
		return slot, e.crawler, true
	}
	return slot, false, false
}

// store remembers userAgent's verdict in its slot (from lookup), in
// place of the one there.
func (v *verdicts) store(slot *atomic.Pointer[verdict], userAgent string, crawler bool) {
	if slot != nil {
		// A copy: the User-Agent may share its memory with the rest of
		// the request's header, which the slot would otherwise keep.
		slot.Store(&verdict{userAgent: strings.Clone(userAgent), crawler: crawler})
	}
}

// match reports whether userAgent matches a pattern of the list.
func (d *Detector) match(userAgent string) bool {
	// The literals are lower case by strings.ToLower; for an ASCII
	// User-Agent (nearly all) folding byte by byte is the same, without
	// allocating a lower-case copy.
	lower := userAgent
	if !isASCII(userAgent) {
		lower = strings.ToLower(userAgent)
	}
	if len(lower) >= 3 {
		t := trigram(0, lower[0], lower[1])
		for i := 2; i < len(lower); i++ {
			t = t<<8&0xffffff | uint32(foldASCII(lower[i]))
			b := d.slots[slot(t)]
			if b == 0 {
				continue
			}
			at := lower[i-2:]
			for _, p := range d.buckets[b] {
				if hasFoldedPrefix(at, p.literal) && p.re().MatchString(userAgent) {
					return true
				}
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

// trigram packs three bytes, folded to lower case, in the low 24 bits.
func trigram(a, b, c byte) uint32 {
	return uint32(foldASCII(a))<<16 | uint32(foldASCII(b))<<8 | uint32(foldASCII(c))
}

// foldASCII returns c in lower case if it is an ASCII capital letter, else
// c.
func foldASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasFoldedPrefix reports whether s, folded to lower case byte by byte
// (foldASCII), begins with the lower-case prefix (all of it: a bucket
// holds the literals of every trigram of its slot).
func hasFoldedPrefix(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if foldASCII(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
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
