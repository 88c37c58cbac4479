package badge

import (
	"errors"
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

// namedColors are shields.io's color names and their values.
var namedColors = map[string]string{
	"brightgreen":   "#44cc11",
	"green":         "#97ca00",
	"yellowgreen":   "#a4a61d",
	"yellow":        "#dfb317",
	"orange":        "#fe7d37",
	"red":           "#e05d44",
	"blue":          "#007ec6",
	"grey":          "#555555",
	"gray":          "#555555",
	"lightgrey":     "#9f9f9f",
	"lightgray":     "#9f9f9f",
	"blueviolet":    "#8a2be2",
	"success":       "#44cc11",
	"important":     "#fe7d37",
	"critical":      "#e05d44",
	"informational": "#007ec6",
	"inactive":      "#9f9f9f",
}

// Colors the badges use by default and for errors.
var (
	DefaultColor = mustColor("blue")
	ErrorColor   = mustColor("lightgrey")
	FailureColor = mustColor("red")
	labelColor   = mustColor("grey")
)

func mustColor(s string) Color {
	c, err := ParseColor(s)
	if err != nil {
		panic(err)
	}
	return c
}

// errColor is what ParseColor returns for anything it does not accept. The
// message never repeats the input.
var errColor = errors.New("color must be a named color (" + colorNames() + ") or 3 or 6 hexadecimal digits")

func colorNames() string {
	return "brightgreen, green, yellowgreen, yellow, orange, red, blue, grey, lightgrey, blueviolet, success, important, critical, informational, inactive"
}

// ParseColor parses a named color (see namedColors; case-insensitive) or
// 3 or 6 hexadecimal digits, with or without a leading '#'.
func ParseColor(s string) (Color, error) {
	name := strings.ToLower(s)
	if hex, ok := namedColors[name]; ok {
		c, _ := parseHex(hex[1:])
		c.Name = name
		return c, nil
	}
	c, ok := parseHex(strings.TrimPrefix(s, "#"))
	if !ok {
		return Color{}, errColor
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
