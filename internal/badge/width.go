package badge

import "math"

// FontFamily and FontSize are the font the badges declare, and the one
// TextWidth measures: Verdana at 11px, with the fallbacks shields.io uses.
// The SVG also gives each text its measured length (textLength), so a
// fallback font is stretched or squeezed to the same width.
const (
	FontFamily = "Verdana,Geneva,DejaVu Sans,sans-serif"
	FontSize   = 11
)

// verdanaAdvance holds Verdana's advance widths, in 1/1000 em, of the
// printable ASCII characters U+0020 (space) to U+007E (tilde), from the
// font's metrics.
var verdanaAdvance = [95]uint16{
	351, 393, 458, 818, 635, 1076, 726, 268, 454, 454, 635, 818, 363, 454, 363, 454, // space to /
	635, 635, 635, 635, 635, 635, 635, 635, 635, 635, // 0 to 9
	454, 454, 818, 818, 818, 545, 1000, // : to @
	683, 685, 698, 770, 632, 574, 775, 751, 420, 454, 692, 556, 842, // A to M
	748, 787, 603, 787, 695, 683, 616, 731, 683, 988, 685, 615, 685, // N to Z
	454, 454, 454, 818, 635, 635, // [ to `
	600, 623, 520, 623, 595, 351, 623, 632, 274, 344, 591, 274, 972, // a to m
	632, 606, 623, 623, 426, 520, 394, 632, 591, 818, 591, 591, 525, // n to z
	634, 454, 634, 818, // { to ~
}

// wideAdvance is the width assumed for any character outside printable
// ASCII: a full em, as wide as Verdana's widest common glyphs ('@', 'W' is
// 988) and as CJK ideographs, so that text never overflows its box.
const wideAdvance = 1000

// TextWidth returns the width in pixels of s set in FontFamily at FontSize.
func TextWidth(s string) float64 {
	units := 0
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			units += int(verdanaAdvance[r-0x20])
		} else {
			units += wideAdvance
		}
	}
	return float64(units) * FontSize / 1000
}

// horizontalPadding is the space on each side of a text, in pixels.
const horizontalPadding = 5

// boxWidth is the width of the box that holds a text of width w: the text
// rounded up to a whole pixel, with padding on both sides.
func boxWidth(w float64) int {
	return int(math.Ceil(w)) + 2*horizontalPadding
}
