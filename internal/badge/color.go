package badge

import (
	"math"
	"strconv"
	"strings"
)

// Color is a badge color: a hexadecimal RGB value, and the name it was
// given by, if any.
type Color struct {
	// Name is the named color it was given as ("blue"), or "" for a hex color.
	Name string
	// R, G, B are its components.
	R, G, B uint8
}

// Hex returns the color as #rrggbb.
func (c Color) Hex() string {
	const digits = "0123456789abcdef"
	b := []byte{'#', 0, 0, 0, 0, 0, 0}
	for i, v := range []uint8{c.R, c.G, c.B} {
		b[1+2*i] = digits[v>>4]
		b[2+2*i] = digits[v&0xf]
	}
	return string(b)
}

// String returns the name of a named color, else its rrggbb hex digits
// (without '#'), as shields.io's endpoint schema takes them.
func (c Color) String() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Hex()[1:]
}

// Text colors, the first that contrasts enough with a background wins.
var textColors = [...]Color{{R: 0xff, G: 0xff, B: 0xff}, {R: 0x33, G: 0x33, B: 0x33}, {R: 0, G: 0, B: 0}}

// MinTextContrast is the contrast ratio WCAG 2.1 AA asks of text of a
// badge's size (11 px, normal weight).
const MinTextContrast = 4.5

// TextColor returns the color of text on the background c: white, else
// #333, else black, the first whose contrast with every shade the flat
// style's gradient gives c (up to 10% of #bbb over it at the top, 10% of
// black at the bottom) is MinTextContrast or more; if none is, the one that
// contrasts most.
func (c Color) TextColor() Color {
	top, bottom := c.blend(Color{R: 0xbb, G: 0xbb, B: 0xbb}, 0.1), c.blend(Color{}, 0.1)
	best, bestRatio := textColors[0], 0.0
	for _, t := range textColors {
		r := min(Contrast(t, c), Contrast(t, top), Contrast(t, bottom))
		if r >= MinTextContrast {
			return t
		}
		if r > bestRatio {
			best, bestRatio = t, r
		}
	}
	return best
}

// blend returns c with o laid over it at opacity a.
func (c Color) blend(o Color, a float64) Color {
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-a) + float64(y)*a)) }
	return Color{R: mix(c.R, o.R), G: mix(c.G, o.G), B: mix(c.B, o.B)}
}

// luminance is WCAG's relative luminance of c.
func (c Color) luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Contrast returns WCAG's contrast ratio of a and b, 1 to 21.
func Contrast(a, b Color) float64 {
	x, y := a.luminance(), b.luminance()
	return (max(x, y) + 0.05) / (min(x, y) + 0.05)
}

// NamedColors returns the named colors, sorted by name.
func NamedColors() []Color {
	out := make([]Color, len(namedColors))
	for i, n := range namedColors {
		out[i] = n.c
	}
	return out
}

// namedColors are shields.io's color names and their values (blue and red
// a little darker than shields.io's, so that white text on them passes
// WCAG AA: 4.38:1 and 3.61:1 before), as a sorted table rather than a map: a map would be built at init in every binary
// that imports the package.
var namedColors = [...]struct {
	name string
	c    Color
}{
	{"blue", Color{Name: "blue", R: 0x00, G: 0x75, B: 0xb8}},
	{"blueviolet", Color{Name: "blueviolet", R: 0x8a, G: 0x2b, B: 0xe2}},
	{"brightgreen", Color{Name: "brightgreen", R: 0x44, G: 0xcc, B: 0x11}},
	{"critical", Color{Name: "critical", R: 0xb8, G: 0x4c, B: 0x38}},
	{"gray", Color{Name: "gray", R: 0x55, G: 0x55, B: 0x55}},
	{"green", Color{Name: "green", R: 0x97, G: 0xca, B: 0x00}},
	{"grey", Color{Name: "grey", R: 0x55, G: 0x55, B: 0x55}},
	{"important", Color{Name: "important", R: 0xfe, G: 0x7d, B: 0x37}},
	{"inactive", Color{Name: "inactive", R: 0x9f, G: 0x9f, B: 0x9f}},
	{"informational", Color{Name: "informational", R: 0x00, G: 0x75, B: 0xb8}},
	{"lightgray", Color{Name: "lightgray", R: 0x9f, G: 0x9f, B: 0x9f}},
	{"lightgrey", Color{Name: "lightgrey", R: 0x9f, G: 0x9f, B: 0x9f}},
	{"orange", Color{Name: "orange", R: 0xfe, G: 0x7d, B: 0x37}},
	{"red", Color{Name: "red", R: 0xb8, G: 0x4c, B: 0x38}},
	{"success", Color{Name: "success", R: 0x44, G: 0xcc, B: 0x11}},
	{"yellow", Color{Name: "yellow", R: 0xdf, G: 0xb3, B: 0x17}},
	{"yellowgreen", Color{Name: "yellowgreen", R: 0xa4, G: 0xa6, B: 0x1d}},
}

// Colors the badges use by default and for errors.
var (
	DefaultColor = Color{Name: "blue", R: 0x00, G: 0x75, B: 0xb8}
	ErrorColor   = Color{Name: "lightgrey", R: 0x9f, G: 0x9f, B: 0x9f}
	FailureColor = Color{Name: "red", R: 0xb8, G: 0x4c, B: 0x38}
	labelColor   = Color{Name: "grey", R: 0x55, G: 0x55, B: 0x55}
)

// ParseColor parses a named color (see namedColors; case-insensitive) or
// 3 or 6 hexadecimal digits, with or without a leading '#'. For anything
// else it returns ErrColor, whose message never repeats the input.
func ParseColor(s string) (Color, error) {
	name := strings.ToLower(s)
	for _, n := range namedColors {
		if n.name == name {
			return n.c, nil
		}
	}
	c, ok := parseHex(strings.TrimPrefix(s, "#"))
	if !ok {
		return Color{}, ErrColor
	}
	return c, nil
}

func parseHex(s string) (Color, bool) {
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	if len(s) != 6 {
		return Color{}, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return Color{}, false
	}
	return Color{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v)}, true
}
