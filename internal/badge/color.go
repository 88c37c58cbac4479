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

// light reports whether dark text (#333) contrasts more with the color
// than white text does, by WCAG's contrast ratio of relative luminances.
func (c Color) light() bool {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
	const white, dark = 1.0, 0.0331 // the luminances of #fff and #333
	return (l+0.05)/(dark+0.05) > (white+0.05)/(l+0.05)
}

// namedColors are shields.io's color names and their values, as a sorted
// table rather than a map: a map would be built at init in every binary
// that imports the package.
var namedColors = [...]struct {
	name string
	c    Color
}{
	{"blue", Color{Name: "blue", R: 0x00, G: 0x7e, B: 0xc6}},
	{"blueviolet", Color{Name: "blueviolet", R: 0x8a, G: 0x2b, B: 0xe2}},
	{"brightgreen", Color{Name: "brightgreen", R: 0x44, G: 0xcc, B: 0x11}},
	{"critical", Color{Name: "critical", R: 0xe0, G: 0x5d, B: 0x44}},
	{"gray", Color{Name: "gray", R: 0x55, G: 0x55, B: 0x55}},
	{"green", Color{Name: "green", R: 0x97, G: 0xca, B: 0x00}},
	{"grey", Color{Name: "grey", R: 0x55, G: 0x55, B: 0x55}},
	{"important", Color{Name: "important", R: 0xfe, G: 0x7d, B: 0x37}},
	{"inactive", Color{Name: "inactive", R: 0x9f, G: 0x9f, B: 0x9f}},
	{"informational", Color{Name: "informational", R: 0x00, G: 0x7e, B: 0xc6}},
	{"lightgray", Color{Name: "lightgray", R: 0x9f, G: 0x9f, B: 0x9f}},
	{"lightgrey", Color{Name: "lightgrey", R: 0x9f, G: 0x9f, B: 0x9f}},
	{"orange", Color{Name: "orange", R: 0xfe, G: 0x7d, B: 0x37}},
	{"red", Color{Name: "red", R: 0xe0, G: 0x5d, B: 0x44}},
	{"success", Color{Name: "success", R: 0x44, G: 0xcc, B: 0x11}},
	{"yellow", Color{Name: "yellow", R: 0xdf, G: 0xb3, B: 0x17}},
	{"yellowgreen", Color{Name: "yellowgreen", R: 0xa4, G: 0xa6, B: 0x1d}},
}

// Colors the badges use by default and for errors.
var (
	DefaultColor = Color{Name: "blue", R: 0x00, G: 0x7e, B: 0xc6}
	ErrorColor   = Color{Name: "lightgrey", R: 0x9f, G: 0x9f, B: 0x9f}
	FailureColor = Color{Name: "red", R: 0xe0, G: 0x5d, B: 0x44}
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
