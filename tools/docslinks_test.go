package tools_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// readmeMaxLines is a standing rule: the README is for the first ten
// minutes, and later work adds pages under docs/, not README lines.
const readmeMaxLines = 250

// TestDocs checks the documentation as GitHub shows it: every relative link
// and anchor of README.md and docs/*.md leads to a file and a heading that
// exist, every docs page is in the README's table of contents, and the
// README stays under readmeMaxLines lines.
func TestDocs(t *testing.T) {
	for _, err := range checkDocs(os.DirFS("..")) {
		t.Error(err)
	}
}

// TestDocsCatchesBreakage: checkDocs fails on broken text, and only there.
func TestDocsCatchesBreakage(t *testing.T) {
	const toc = "[api](docs/api.md)\n"
	api := "# API\n\n## Exactly-once writes: `Idempotency-Key`\n\n## Badges\n\n## Badges\n"
	tests := map[string]struct {
		files map[string]string
		want  string // in one of the errors; "" for none
	}{
		"all good": {files: map[string]string{
			"README.md":   toc + "[keys](docs/api.md#exactly-once-writes-idempotency-key) [second](docs/api.md#badges-1) [web](https://example.com/x.md#nowhere)\n",
			"docs/api.md": api + "[back](../README.md) [self](#badges) [top](#api)\n",
		}},
		"missing file": {files: map[string]string{
			"README.md":   toc + "[gone](docs/gone.md)\n",
			"docs/api.md": api,
		}, want: "README.md:2: docs/gone.md: no such file"},
		"missing anchor in another page": {files: map[string]string{
			"README.md":   toc + "[keys](docs/api.md#idempotency-key)\n",
			"docs/api.md": api,
		}, want: `README.md:2: docs/api.md#idempotency-key: no heading "idempotency-key" in docs/api.md`},
		"missing anchor in the same page": {files: map[string]string{
			"README.md":   toc,
			"docs/api.md": api + "\nsee [below](#badgez)\n",
		}, want: `docs/api.md:9: #badgez: no heading "badgez" in docs/api.md`},
		"anchor with its case kept": {files: map[string]string{
			"README.md":   toc + "[b](docs/api.md#Badges)\n",
			"docs/api.md": api,
		}, want: `no heading "Badges"`},
		"a third heading of the same name": {files: map[string]string{
			"README.md":   toc + "[b](docs/api.md#badges-2)\n",
			"docs/api.md": api,
		}, want: `no heading "badges-2"`},
		"anchor into a file that is not Markdown": {files: map[string]string{
			"README.md":   toc + "[spec](docs/openapi.yaml#paths)\n",
			"docs/api.md": api, "docs/openapi.yaml": "openapi: 3.0.3\n",
		}, want: "docs/openapi.yaml#paths: an anchor into a file that is not Markdown"},
		"broken image": {files: map[string]string{
			"README.md":   toc + "![shot](docs/dashboard.png)\n",
			"docs/api.md": api,
		}, want: "docs/dashboard.png: no such file"},
		"broken reference definition": {files: map[string]string{
			"README.md":   toc + "[api][1]\n\n[1]: docs/ap.md\n",
			"docs/api.md": api,
		}, want: "README.md:4: docs/ap.md: no such file"},
		"links in code are not links": {files: map[string]string{
			"README.md":   toc + "`[x](nowhere.md)`\n\n```markdown\n![hits](nowhere.svg)\n```\n",
			"docs/api.md": api,
		}},
		"page missing from the table of contents": {files: map[string]string{
			"README.md":   toc,
			"docs/api.md": api, "docs/orphan.md": "# Orphan\n",
		}, want: "docs/orphan.md is not linked from README.md"},
		"README too long": {files: map[string]string{
			"README.md":   toc + strings.Repeat("line\n", readmeMaxLines),
			"docs/api.md": api,
		}, want: fmt.Sprintf("README.md has %d lines; keep it under %d", readmeMaxLines+1, readmeMaxLines)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, text := range tc.files {
				fsys[name] = &fstest.MapFile{Data: []byte(text)}
			}
			errs := checkDocs(fsys)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("got errors %q, want none", errs)
				}
				return
			}
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tc.want) }) {
				t.Errorf("got errors %q, want one containing %q", errs, tc.want)
			}
		})
	}
}

// TestHeadingAnchor: GitHub's anchors, for the kinds of heading the docs use.
func TestHeadingAnchor(t *testing.T) {
	tests := map[string]string{
		"Two commands":                                  "two-commands",
		"Exactly-once writes: `Idempotency-Key`":        "exactly-once-writes-idempotency-key",
		"Hits over time (`GET /counters/{name}/stats`)": "hits-over-time-get-countersnamestats",
		"API Gateway's own answers":                     "api-gateways-own-answers",
		"`make local` (no Docker, no SAM CLI)":          "make-local-no-docker-no-sam-cli",
		"Where to add — a [route](api.md)":              "where-to-add--a-route",
		"snake_case and 2^53-1":                         "snake_case-and-253-1",
	}
	for heading, want := range tests {
		if got := headingAnchor(heading); got != want {
			t.Errorf("headingAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// checkDocs returns what is wrong with the documentation in fsys (the
// repository root): links and anchors that lead nowhere, docs pages the
// README does not link, a README too long.
func checkDocs(fsys fs.FS) []error {
	pages, err := fs.Glob(fsys, "docs/*.md")
	if err != nil {
		return []error{err}
	}
	pages = append([]string{"README.md"}, pages...)
	var errs []error
	texts := map[string]string{}
	for _, p := range pages {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return append(errs, err)
		}
		texts[p] = string(data)
	}
	anchors := map[string]map[string]bool{} // by Markdown file, read when first linked
	anchorsOf := func(file string) (map[string]bool, error) {
		if a, ok := anchors[file]; ok {
			return a, nil
		}
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		anchors[file] = markdownAnchors(string(data))
		return anchors[file], nil
	}

	for _, p := range pages {
		for _, l := range markdownLinks(texts[p]) {
			if isAbsoluteURL(l.target) {
				continue
			}
			file, anchor, _ := strings.Cut(l.target, "#")
			if file == "" {
				file = p
			} else {
				file = path.Join(path.Dir(p), file)
			}
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %s", p, l.line, l.target, fmt.Sprintf(format, args...)))
			}
			if !fs.ValidPath(file) {
				fail("outside the repository")
				continue
			}
			if _, err := fs.Stat(fsys, file); err != nil {
				fail("no such file")
				continue
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(file, ".md") {
				fail("an anchor into a file that is not Markdown")
				continue
			}
			a, err := anchorsOf(file)
			if err != nil {
				fail("%v", err)
			} else if !a[anchor] {
				fail("no heading %q in %s", anchor, file)
			}
		}
	}

	linked := map[string]bool{}
	for _, l := range markdownLinks(texts["README.md"]) {
		file, _, _ := strings.Cut(l.target, "#")
		linked[path.Clean(file)] = true
	}
	for _, p := range pages[1:] {
		if !linked[p] {
			errs = append(errs, fmt.Errorf("%s is not linked from README.md: add it to the table of contents", p))
		}
	}

	if n := strings.Count(strings.TrimSuffix(texts["README.md"], "\n"), "\n") + 1; n >= readmeMaxLines {
		errs = append(errs, fmt.Errorf("README.md has %d lines; keep it under %d (move detail to a page under docs/)", n, readmeMaxLines))
	}
	return errs
}

// A link is a link target found in Markdown, and the line it is on.
type link struct {
	target string
	line   int
}

var (
	// inlineLink matches the target of an inline link or image, [text](target "title").
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?`)
	// referenceDef matches a link reference definition, [label]: target.
	referenceDef = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	// htmlLink matches the target of an HTML link or image.
	htmlLink = regexp.MustCompile(`\b(?:href|src)="([^"]+)"`)
	// atxHeading matches a heading line, ## Title.
	atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)
	// htmlAnchor matches an anchor set by HTML, id="x" or name="x".
	htmlAnchor = regexp.MustCompile(`\b(?:id|name)="([^"]+)"`)
)

// markdownLinks returns the targets of the links, images and reference
// definitions of text, leaving out what is in code.
func markdownLinks(text string) []link {
	prose := withoutCode(text)
	var out []link
	for _, re := range []*regexp.Regexp{inlineLink, referenceDef, htmlLink} {
		for _, m := range re.FindAllStringSubmatchIndex(prose, -1) {
			out = append(out, link{target: prose[m[2]:m[3]], line: strings.Count(prose[:m[2]], "\n") + 1})
		}
	}
	return out
}

// markdownAnchors returns the anchors GitHub gives the headings of text, and
// those set by HTML id and name attributes.
func markdownAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := withoutFences(text)
	for _, line := range strings.Split(fenced, "\n") {
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := headingAnchor(m[1])
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	for _, m := range htmlAnchor.FindAllStringSubmatch(withoutCode(text), -1) {
		anchors[m[1]] = true
	}
	return anchors
}

var (
	headingLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag     = regexp.MustCompile(`<[^>]+>`)
)

// headingAnchor returns the anchor GitHub gives a heading: its text, with
// links reduced to their text and HTML tags dropped, lowercased, without
// punctuation other than '-' and '_', each space a '-'.
func headingAnchor(heading string) string {
	heading = headingLink.ReplaceAllString(heading, "$1")
	heading = htmlTag.ReplaceAllString(heading, "")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-', unicode.IsLetter(r), unicode.IsNumber(r), unicode.IsMark(r), unicode.Is(unicode.Pc, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// withoutFences returns text with the lines of fenced code blocks emptied,
// keeping every line break so that offsets keep their line numbers.
func withoutFences(text string) string {
	lines := strings.Split(text, "\n")
	fence := ""
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " \t")
		if fence == "" {
			if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
				fence = trimmed[:3]
				lines[i] = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, fence) {
			fence = ""
		}
		lines[i] = ""
	}
	return strings.Join(lines, "\n")
}

// withoutCode returns text without fenced code blocks and with the
// contents of code spans blanked, keeping every line break. A run of
// backticks opens a span only if the same run closes it before the
// paragraph ends; otherwise it is text.
func withoutCode(text string) string {
	b := []byte(withoutFences(text))
	for i := 0; i < len(b); {
		if b[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(b) && b[i+n] == '`' {
			n++
		}
		end := closingRun(b, i+n, n)
		if end < 0 {
			i += n
			continue
		}
		for j := i; j < end+n; j++ {
			if b[j] != '\n' {
				b[j] = ' '
			}
		}
		i = end + n
	}
	return string(b)
}

// closingRun returns where a run of exactly n backticks starts in b from
// from on, before a blank line, or -1.
func closingRun(b []byte, from, n int) int {
	for j := from; j < len(b); {
		if b[j] == '\n' && j+1 < len(b) && strings.TrimSpace(string(b[j+1:lineEnd(b, j+1)])) == "" {
			return -1
		}
		if b[j] != '`' {
			j++
			continue
		}
		m := 0
		for j+m < len(b) && b[j+m] == '`' {
			m++
		}
		if m == n {
			return j
		}
		j += m
	}
	return -1
}

// lineEnd returns the index of the line break ending the line that starts at i.
func lineEnd(b []byte, i int) int {
	if k := strings.IndexByte(string(b[i:]), '\n'); k >= 0 {
		return i + k
	}
	return len(b)
}

// isAbsoluteURL reports whether target names a scheme (https:, mailto:):
// not a file of the repository.
func isAbsoluteURL(target string) bool {
	scheme, _, ok := strings.Cut(target, ":")
	return ok && scheme != "" && !strings.ContainsAny(scheme, "/#.")
}
