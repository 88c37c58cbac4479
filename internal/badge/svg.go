package badge

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

// Height is the height of every badge, in pixels.
const Height = 20

// Badge is one badge to draw.
type Badge struct {
	// Label is the text on the left, on a grey background.
	Label string
	// Message is the text on the right, on Color.
	Message string
	Color   Color
	Style   Style
}

// New returns a badge with opts' label, color and style and the message.
func New(opts Options, message string) Badge {
	return Badge{Label: opts.Label, Message: message, Color: opts.Color, Style: opts.Style}
}

// Width returns the badge's width in pixels: each text's measured width
// (TextWidth), rounded up, with 5 pixels of padding on each side.
func (b Badge) Width() int {
	return boxWidth(TextWidth(b.Label)) + boxWidth(TextWidth(b.Message))
}

// SVG draws the badge. The label and message are XML-escaped wherever they
// appear (accessible name, title, texts); the color is written as #rrggbb.
func (b Badge) SVG() []byte {
	labelW, messageW := boxWidth(TextWidth(b.Label)), boxWidth(TextWidth(b.Message))
	width := labelW + messageW
	title := b.Label + ": " + b.Message
	var buf bytes.Buffer
	buf.Grow(1024 + 4*(len(b.Label)+len(b.Message)))
	w := func(parts ...string) {
		for _, p := range parts {
			buf.WriteString(p)
		}
	}
	ws, hs := strconv.Itoa(width), strconv.Itoa(Height)
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="`, ws, `" height="`, hs, `" viewBox="0 0 `, ws, ` `, hs, `" role="img" aria-label="`)
	escape(&buf, title)
	w(`"><title>`)
	escape(&buf, title)
	w(`</title>`)
	rx := "0"
	if b.Style != FlatSquare {
		rx = "3"
		w(`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	}
	w(`<clipPath id="r"><rect width="`, ws, `" height="`, hs, `" rx="`, rx, `" fill="#fff"/></clipPath>`)
	w(`<g clip-path="url(#r)">`)
	w(`<rect width="`, strconv.Itoa(labelW), `" height="`, hs, `" fill="`, labelColor.Hex(), `"/>`)
	w(`<rect x="`, strconv.Itoa(labelW), `" width="`, strconv.Itoa(messageW), `" height="`, hs, `" fill="`, b.Color.Hex(), `"/>`)
	if b.Style != FlatSquare {
		w(`<rect width="`, ws, `" height="`, hs, `" fill="url(#s)"/>`)
	}
	w(`</g>`)
	w(`<g text-anchor="middle" font-family="`, FontFamily, `" text-rendering="geometricPrecision" font-size="`, strconv.Itoa(FontSize), `">`)
	text(&buf, b.Label, 0, labelW, labelColor, b.Style)
	text(&buf, b.Message, labelW, messageW, b.Color, b.Style)
	w(`</g></svg>`)
	return buf.Bytes()
}

// text writes s centred in the box [x, x+w) on background bg: a shadow (on
// flat badges) and the text, both stretched to the measured width.
func text(buf *bytes.Buffer, s string, x, w int, bg Color, style Style) {
	center := strconv.FormatFloat(float64(x)+float64(w)/2, 'f', -1, 64)
	length := strconv.Itoa(w - 2*horizontalPadding)
	fill, shadow := "#fff", "#010101"
	if tc := bg.TextColor(); tc.R != 0xff {
		fill, shadow = tc.Hex(), "#ccc"
		if tc.R == 0x33 {
			fill = "#333"
		}
	}
	if style != FlatSquare {
		buf.WriteString(`<text aria-hidden="true" x="` + center + `" y="15" fill="` + shadow + `" fill-opacity=".3" textLength="` + length + `" lengthAdjust="spacingAndGlyphs">`)
		escape(buf, s)
		buf.WriteString(`</text>`)
	}
	buf.WriteString(`<text x="` + center + `" y="14" fill="` + fill + `" textLength="` + length + `" lengthAdjust="spacingAndGlyphs">`)
	escape(buf, s)
	buf.WriteString(`</text>`)
}

// escape writes s as XML character data or attribute text: &, <, >, " and
// ' become references, as do tab, newline and carriage return; invalid
// UTF-8 and characters XML does not allow become U+FFFD.
func escape(buf *bytes.Buffer, s string) {
	_ = xml.EscapeText(buf, []byte(s)) // a bytes.Buffer does not fail
}
