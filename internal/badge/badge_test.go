package badge_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/badge"
)

func TestParseQuery(t *testing.T) {
	blue, _ := badge.ParseColor("blue")
	tests := map[string]struct {
		query   string
		want    badge.Options
		wantErr error
	}{
		"empty":             {"", badge.DefaultOptions(), nil},
		"label":             {"label=views", badge.Options{Label: "views", Color: blue, Style: badge.Flat}, nil},
		"label with space":  {"label=page+views", badge.Options{Label: "page views", Color: blue, Style: badge.Flat}, nil},
		"label unicode":     {"label=%E8%A8%AA%E5%95%8F", badge.Options{Label: "訪問", Color: blue, Style: badge.Flat}, nil},
		"label hostile":     {"label=%3Cscript%3E", badge.Options{Label: "<script>", Color: blue, Style: badge.Flat}, nil},
		"label 64 chars":    {"label=" + strings.Repeat("x", 64), badge.Options{Label: strings.Repeat("x", 64), Color: blue, Style: badge.Flat}, nil},
		"style flat":        {"style=flat", badge.DefaultOptions(), nil},
		"style flat-square": {"style=flat-square", badge.Options{Label: "hits", Color: blue, Style: badge.FlatSquare}, nil},
		"all three":         {"label=a&color=red&style=flat-square", badge.Options{Label: "a", Color: mustColor(t, "red"), Style: badge.FlatSquare}, nil},
		"metric count":      {"metric=count", badge.DefaultOptions(), nil},
		"uniques today":     {"metric=uniques&period=day", badge.Options{Label: "visitors", Color: blue, Style: badge.Flat, Metric: badge.MetricUniques, Period: "day"}, nil},
		"uniques default":   {"metric=uniques", badge.Options{Label: "visitors", Color: blue, Style: badge.Flat, Metric: badge.MetricUniques, Period: "day"}, nil},
		"uniques this hour": {"metric=uniques&period=hour&label=now", badge.Options{Label: "now", Color: blue, Style: badge.Flat, Metric: badge.MetricUniques, Period: "hour"}, nil},

		"metric unknown":  {"metric=views", badge.Options{}, badge.ErrMetric},
		"period without":  {"period=day", badge.Options{}, badge.ErrPeriod},
		"period unknown":  {"metric=uniques&period=week", badge.Options{}, badge.ErrPeriod},
		"metric repeated": {"metric=uniques&metric=count", badge.Options{}, badge.ErrRepeated},

		"label empty":         {"label=", badge.Options{}, badge.ErrLabel},
		"label 65 chars":      {"label=" + strings.Repeat("x", 65), badge.Options{}, badge.ErrLabel},
		"label very long":     {"label=" + strings.Repeat("%3C", 5000), badge.Options{}, badge.ErrLabel},
		"label newline":       {"label=a%0Ab", badge.Options{}, badge.ErrLabel},
		"label NUL":           {"label=a%00b", badge.Options{}, badge.ErrLabel},
		"label DEL":           {"label=a%7Fb", badge.Options{}, badge.ErrLabel},
		"label C1 control":    {"label=a%C2%85b", badge.Options{}, badge.ErrLabel},
		"label invalid UTF-8": {"label=%FF%FE", badge.Options{}, badge.ErrLabel},
		"label bidi override": {"label=a%E2%80%AEb", badge.Options{}, badge.ErrLabel},
		"label non-character": {"label=a%EF%BF%BEb", badge.Options{}, badge.ErrLabel},
		"color unknown name":  {"color=chartreuse", badge.Options{}, badge.ErrColor},
		"color 4 digits":      {"color=abcd", badge.Options{}, badge.ErrColor},
		"color not hex":       {"color=ggg", badge.Options{}, badge.ErrColor},
		"color with CSS":      {"color=red%3Bbackground:url(x)", badge.Options{}, badge.ErrColor},
		"color empty":         {"color=", badge.Options{}, badge.ErrColor},
		"style unknown":       {"style=plastic", badge.Options{}, badge.ErrStyle},
		"style wrong case":    {"style=Flat", badge.Options{}, badge.ErrStyle},
		"unknown parameter":   {"logo=github", badge.Options{}, badge.ErrUnknownParam},
		"repeated parameter":  {"label=a&label=b", badge.Options{}, badge.ErrRepeated},
		"malformed escape":    {"label=%zz", badge.Options{}, badge.ErrQuery},
		"semicolon separator": {"label=a;color=red", badge.Options{}, badge.ErrQuery},
		"no value, unknown":   {"x", badge.Options{}, badge.ErrUnknownParam},
		"no value, label":     {"label", badge.Options{}, badge.ErrLabel},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := badge.ParseQuery(tc.query)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseQuery(%q): got error %v, want %v", tc.query, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseQuery(%q) = %+v, want %+v", tc.query, got, tc.want)
			}
			if err != nil && len(tc.query) > 8 && strings.Contains(err.Error(), tc.query[6:]) {
				t.Errorf("error %q repeats the query", err)
			}
		})
	}
}

func TestParseColor(t *testing.T) {
	tests := map[string]struct {
		in, hex, str string
	}{
		"named":          {"brightgreen", "#44cc11", "brightgreen"},
		"named any case": {"BrightGreen", "#44cc11", "brightgreen"},
		"gray spelling":  {"gray", "#555555", "gray"},
		"hex 6":          {"A1b2C3", "#a1b2c3", "a1b2c3"},
		"hex 3":          {"f80", "#ff8800", "ff8800"},
		"hex with hash":  {"#0f0", "#00ff00", "00ff00"},
		"semantic name":  {"critical", "#b84c38", "critical"},
		"black":          {"000", "#000000", "000000"},
		"white":          {"ffffff", "#ffffff", "ffffff"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := badge.ParseColor(tc.in)
			if err != nil {
				t.Fatalf("ParseColor(%q): %v", tc.in, err)
			}
			if c.Hex() != tc.hex || c.String() != tc.str {
				t.Errorf("ParseColor(%q): got hex %s, string %s; want %s, %s", tc.in, c.Hex(), c.String(), tc.hex, tc.str)
			}
		})
	}
	for _, bad := range []string{"", "#", "12", "12345", "1234567", "#ggg", "0x123", "+12", "red ", "rgb(1,2,3)"} {
		if _, err := badge.ParseColor(bad); err == nil {
			t.Errorf("ParseColor(%q): got no error", bad)
		}
	}
}

func TestTextWidth(t *testing.T) {
	tests := map[string]struct {
		text string
		want float64
	}{
		"empty":    {"", 0},
		"hits":     {"hits", (632 + 274 + 394 + 520) * 11.0 / 1000},
		"digits":   {"1234567890", 10 * 635 * 11.0 / 1000},
		"space":    {" ", 351 * 11.0 / 1000},
		"tilde":    {"~", 818 * 11.0 / 1000},
		"wide":     {"訪", 11},
		"accented": {"é", 11},
		"emoji":    {"🙂", 11},
		"mixed":    {"W@", (988 + 1000) * 11.0 / 1000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := badge.TextWidth(tc.text); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("TextWidth(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

// parsedSVG is what a badge's SVG says, read back with encoding/xml.
type parsedSVG struct {
	width, height int
	ariaLabel     string
	title         string
	texts         []svgText
	elements      []string
	fills         []string
}

type svgText struct {
	content    string
	textLength float64
	shadow     bool
	fill       string
}

// allowedElements are the only elements a badge may contain.
var allowedElements = map[string]bool{
	"svg": true, "title": true, "linearGradient": true, "stop": true,
	"clipPath": true, "rect": true, "g": true, "text": true,
}

// parseSVG reads svg strictly as XML and checks that it holds only the
// elements and attributes a badge needs: no scripts, handlers or links.
func parseSVG(t *testing.T, svg []byte) parsedSVG {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = true
	var p parsedSVG
	var stack []string
	var cur *svgText
	var title strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("badge is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			if !allowedElements[name] {
				t.Errorf("unexpected element <%s>", name)
			}
			if (len(stack) == 0) != (name == "svg") || len(stack) == 0 && (name != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				t.Errorf("root element is {%s}%s, want an SVG <svg>", tok.Name.Space, name)
			}
			p.elements = append(p.elements, name)
			stack = append(stack, name)
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") || strings.Contains(strings.ToLower(a.Name.Local), "href") {
					t.Errorf("<%s> has attribute %s", name, a.Name.Local)
				}
			}
			if f, ok := attrs["fill"]; ok {
				p.fills = append(p.fills, f)
			}
			switch name {
			case "svg":
				p.width, _ = strconv.Atoi(attrs["width"])
				p.height, _ = strconv.Atoi(attrs["height"])
				p.ariaLabel = attrs["aria-label"]
			case "text":
				l, err := strconv.ParseFloat(attrs["textLength"], 64)
				if err != nil {
					t.Errorf("<text> textLength %q: %v", attrs["textLength"], err)
				}
				p.texts = append(p.texts, svgText{textLength: l, shadow: attrs["aria-hidden"] == "true", fill: attrs["fill"]})
				cur = &p.texts[len(p.texts)-1]
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if tok.Name.Local == "text" {
				cur = nil
			}
		case xml.CharData:
			switch {
			case cur != nil:
				cur.content += string(tok)
			case len(stack) > 0 && stack[len(stack)-1] == "title":
				title.Write(tok)
			case strings.TrimSpace(string(tok)) != "":
				t.Errorf("text %q outside <text> and <title>", tok)
			}
		case xml.ProcInst, xml.Directive:
			t.Errorf("unexpected %T in a badge", tok)
		}
	}
	p.title = title.String()
	return p
}

// checkBadge checks that svg draws b: its size, its texts exactly as given
// (after XML decoding), each given at least its measured width.
func checkBadge(t *testing.T, b badge.Badge, svg []byte) parsedSVG {
	t.Helper()
	p := parseSVG(t, svg)
	if p.width != b.Width() || p.height != badge.Height {
		t.Errorf("size %dx%d, want %dx%d", p.width, p.height, b.Width(), badge.Height)
	}
	wantTitle := b.Label + ": " + b.Message
	if p.title != wantTitle || p.ariaLabel != wantTitle {
		t.Errorf("title %q, aria-label %q; want %q", p.title, p.ariaLabel, wantTitle)
	}
	var visible []string
	for _, tx := range p.texts {
		if tx.content != b.Label && tx.content != b.Message {
			t.Errorf("text %q is neither the label %q nor the message %q", tx.content, b.Label, b.Message)
		}
		if need := badge.TextWidth(tx.content); tx.textLength < need {
			t.Errorf("text %q: textLength %v is less than its measured width %v", tx.content, tx.textLength, need)
		}
		if !tx.shadow {
			visible = append(visible, tx.content)
		}
	}
	if len(visible) != 2 || visible[0] != b.Label || visible[1] != b.Message {
		t.Errorf("visible texts %q, want label then message", visible)
	}
	lw, mw := badge.TextWidth(b.Label), badge.TextWidth(b.Message)
	if float64(p.width) < lw+mw+20 {
		t.Errorf("width %d cannot hold texts of %v and %v with padding", p.width, lw, mw)
	}
	return p
}

func TestSVG(t *testing.T) {
	hostile := map[string]string{
		"script":           "<script>alert(1)</script>",
		"entities":         "&amp; &lt; &#x3c; &unknown;",
		"quotes":           `"'><svg onload=alert(1)>`,
		"cdata end":        "]]><![CDATA[",
		"comment":          "<!-- x -->",
		"processing":       "<?xml-stylesheet href='x'?>",
		"attribute escape": `" onmouseover="alert(1)`,
		"long":             strings.Repeat("W", badge.MaxLabelLength),
		"unicode":          "訪問者 🙂 é",
		"plain":            "hits",
	}
	for name, label := range hostile {
		for _, style := range []badge.Style{badge.Flat, badge.FlatSquare} {
			t.Run(name+"/"+string(style), func(t *testing.T) {
				opts, err := badge.ParseQuery("label=" + url.QueryEscape(label) + "&style=" + string(style))
				if err != nil {
					t.Fatalf("ParseQuery: %v", err)
				}
				b := badge.New(opts, "12345")
				svg := b.SVG()
				checkBadge(t, b, svg)
				for _, raw := range []string{"<script", "<!--", "<?xml-stylesheet", "<![CDATA["} {
					if bytes.Contains(svg, []byte(raw)) {
						t.Errorf("SVG holds %q unescaped:\n%s", raw, svg)
					}
				}
			})
		}
	}
}

// TestSVGUnvalidatedText draws texts that ParseQuery would refuse (control
// characters, invalid UTF-8): SVG must still be well-formed XML.
func TestSVGUnvalidatedText(t *testing.T) {
	for _, label := range []string{"a\x00b", "\xff\xfe", "a\x1bb", "tab\there", "line\nbreak"} {
		b := badge.Badge{Label: label, Message: "1", Color: badge.DefaultColor}
		parseSVG(t, b.SVG())
	}
}

func TestSVGStyles(t *testing.T) {
	b := badge.New(badge.DefaultOptions(), "42")
	flat := parseSVG(t, b.SVG())
	b.Style = badge.FlatSquare
	square := parseSVG(t, b.SVG())
	if !slices.Contains(flat.elements, "linearGradient") || slices.Contains(square.elements, "linearGradient") {
		t.Errorf("gradient: flat %v, flat-square %v; want only flat", flat.elements, square.elements)
	}
	if len(flat.texts) != 4 || len(square.texts) != 2 {
		t.Errorf("got %d texts (flat) and %d (flat-square), want 4 and 2 (flat has shadows)", len(flat.texts), len(square.texts))
	}
}

func TestSVGColors(t *testing.T) {
	tests := map[string]struct {
		color, wantFill, wantText string
	}{
		"blue":      {"blue", "#0075b8", "#fff"},
		"dark hex":  {"123", "#112233", "#fff"},
		"light hex": {"eeeeee", "#eeeeee", "#333"},
		"yellow":    {"yellow", "#dfb317", "#333"},
		"red":       {"red", "#b84c38", "#fff"},
		"orange":    {"orange", "#fe7d37", "#000000"},
		"lightgrey": {"lightgrey", "#9f9f9f", "#000000"},
		"white":     {"fff", "#ffffff", "#333"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts, err := badge.ParseQuery("color=" + tc.color)
			if err != nil {
				t.Fatal(err)
			}
			p := parseSVG(t, badge.New(opts, "7").SVG())
			if !slices.Contains(p.fills, tc.wantFill) {
				t.Errorf("fills %v, want %s among them", p.fills, tc.wantFill)
			}
			msg := p.texts[len(p.texts)-1]
			if msg.fill != tc.wantText {
				t.Errorf("message text fill %s, want %s", msg.fill, tc.wantText)
			}
		})
	}
}

func TestWidthGrowsWithText(t *testing.T) {
	short := badge.New(badge.DefaultOptions(), "1")
	long := badge.New(badge.DefaultOptions(), "9007199254740991")
	if long.Width() <= short.Width() {
		t.Errorf("width of 16 digits %d <= width of 1 digit %d", long.Width(), short.Width())
	}
	// "hits" is 20.02px: 21 + 10; "1" is 6.985px: 7 + 10.
	if got, want := short.Width(), 31+17; got != want {
		t.Errorf("hits|1 width %d, want %d", got, want)
	}
}

func TestEndpoint(t *testing.T) {
	opts, err := badge.ParseQuery("label=%3Cb%3E&color=abc&style=flat-square")
	if err != nil {
		t.Fatal(err)
	}
	body := badge.New(opts, "12").Endpoint(false).JSON()
	if bytes.Contains(body, []byte("<b>")) {
		t.Errorf("JSON %s holds <b> unescaped", body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"schemaVersion": 1.0, "label": "<b>", "message": "12", "color": "aabbcc", "style": "flat-square"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	var e map[string]any
	_ = json.Unmarshal(badge.New(badge.DefaultOptions(), "not found").Endpoint(true).JSON(), &e)
	if e["isError"] != true || e["color"] != "blue" {
		t.Errorf("error endpoint %v, want isError true and color blue", e)
	}
}

func mustColor(t *testing.T, s string) badge.Color {
	t.Helper()
	c, err := badge.ParseColor(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLabelCharacters: a label may hold letters, marks, numbers,
// punctuation, symbols and spaces; every invisible or format character is
// refused alike: format characters (Cf: zero-width ones, bidirectional
// marks, overrides and isolates, the byte order mark, tags), line and
// paragraph separators (Zl, Zp), private use (Co), controls (Cc) and code
// points unassigned in Go's Unicode tables (noncharacters among them).
func TestLabelCharacters(t *testing.T) {
	tests := map[string]struct {
		r    rune
		want bool // accepted
	}{
		// The finding's examples: some were accepted, others refused.
		"U+061C arabic letter mark (Cf)":     {0x061c, false},
		"U+200B zero width space (Cf)":       {0x200b, false},
		"U+FEFF byte order mark (Cf)":        {0xfeff, false},
		"U+E0041 tag latin capital A (Cf)":   {0xe0041, false},
		"U+2028 line separator (Zl)":         {0x2028, false},
		"U+200E left-to-right mark (Cf)":     {0x200e, false},
		"U+200F right-to-left mark (Cf)":     {0x200f, false},
		"U+202E right-to-left override (Cf)": {0x202e, false},
		// More of each kind.
		"U+00AD soft hyphen (Cf)":                 {0x00ad, false},
		"U+180E mongolian vowel separator (Cf)":   {0x180e, false},
		"U+200C zero width non-joiner (Cf)":       {0x200c, false},
		"U+200D zero width joiner (Cf)":           {0x200d, false},
		"U+2060 word joiner (Cf)":                 {0x2060, false},
		"U+2062 invisible times (Cf)":             {0x2062, false},
		"U+2066 left-to-right isolate (Cf)":       {0x2066, false},
		"U+FFF9 interlinear annotation (Cf)":      {0xfff9, false},
		"U+110BD kaithi number sign (Cf)":         {0x110bd, false},
		"U+1D173 musical begin beam (Cf)":         {0x1d173, false},
		"U+E0001 language tag (Cf)":               {0xe0001, false},
		"U+E007F cancel tag (Cf)":                 {0xe007f, false},
		"U+2029 paragraph separator (Zp)":         {0x2029, false},
		"U+E000 private use (Co)":                 {0xe000, false},
		"U+F8FF private use, apple logo (Co)":     {0xf8ff, false},
		"U+F0000 supplementary private use (Co)":  {0xf0000, false},
		"U+10FFFD supplementary private use (Co)": {0x10fffd, false},
		"U+0378 unassigned":                       {0x0378, false},
		"U+2065 unassigned":                       {0x2065, false},
		"U+5FFFF unassigned plane":                {0x5ffff, false},
		"U+FDD0 noncharacter":                     {0xfdd0, false},
		"U+FFFE noncharacter":                     {0xfffe, false},
		"U+1FFFF noncharacter":                    {0x1ffff, false},
		"U+0085 next line (Cc)":                   {0x0085, false},
		"U+0009 tab (Cc)":                         {0x0009, false},
		// What a label is made of.
		"a":                              {'a', true},
		"U+00E9 e acute (Ll)":            {0x00e9, true},
		"U+0301 combining acute (Mn)":    {0x0301, true},
		"U+0663 arabic-indic three (Nd)": {0x0663, true},
		"U+00A0 no-break space (Zs)":     {0x00a0, true},
		"U+3000 ideographic space (Zs)":  {0x3000, true},
		"U+2014 em dash (Pd)":            {0x2014, true},
		"U+20AC euro sign (Sc)":          {0x20ac, true},
		"U+1F600 grinning face (So)":     {0x1f600, true},
		"U+05D0 hebrew alef (Lo)":        {0x05d0, true},
		"U+0627 arabic alef (Lo)":        {0x0627, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			label := "a" + string(tc.r) + "b"
			_, err := badge.ParseQuery("label=" + url.QueryEscape(label))
			switch {
			case tc.want && err != nil:
				t.Errorf("label %+q: got %v, want it accepted", label, err)
			case !tc.want && !errors.Is(err, badge.ErrLabel):
				t.Errorf("label %+q: got %v, want %v", label, err, badge.ErrLabel)
			}
		})
	}
}

// TestNamedColorContrast draws a badge in every named color, in both
// styles, and checks that the message's text contrasts 4.5:1 or more (WCAG
// 2.1 AA for 11 px text) with its fill and with every shade the flat
// style's gradient gives it; and the label's text with the label's grey.
func TestNamedColorContrast(t *testing.T) {
	hex := func(s string) badge.Color {
		if s == "#333" {
			s = "#333333"
		}
		c, err := badge.ParseColor(s)
		if err != nil {
			t.Fatalf("fill %q: %v", s, err)
		}
		return c
	}
	shades := func(bg badge.Color, style badge.Style) []badge.Color {
		if style == badge.FlatSquare {
			return []badge.Color{bg}
		}
		mix := func(o uint8, a float64) func(uint8) uint8 {
			return func(v uint8) uint8 { return uint8(math.Round(float64(v)*(1-a) + float64(o)*a)) }
		}
		top, bottom := mix(0xbb, 0.1), mix(0, 0.1)
		return []badge.Color{bg, {R: top(bg.R), G: top(bg.G), B: top(bg.B)}, {R: bottom(bg.R), G: bottom(bg.G), B: bottom(bg.B)}}
	}
	colors := badge.NamedColors()
	if len(colors) < 17 {
		t.Fatalf("%d named colors, want shields.io's 17", len(colors))
	}
	for _, c := range colors {
		for _, style := range []badge.Style{badge.Flat, badge.FlatSquare} {
			p := parseSVG(t, badge.New(badge.Options{Label: "views", Color: c, Style: style}, "1234").SVG())
			for i, tc := range []struct {
				what string
				bg   badge.Color
			}{{"label", hex("#555555")}, {"message", c}} {
				text := p.texts[len(p.texts)/2*i+len(p.texts)/2-1] // the last text of each half (after its shadow)
				fg := hex(text.fill)
				for _, shade := range shades(tc.bg, style) {
					if r := badge.Contrast(fg, shade); r < badge.MinTextContrast {
						t.Errorf("%s, %s: %s text %s on %s: %.2f:1, want %.1f:1 or more", c.Name, style, tc.what, fg.Hex(), shade.Hex(), r, badge.MinTextContrast)
					}
				}
			}
		}
	}
}
