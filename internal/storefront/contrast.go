package storefront

import (
	"fmt"
	"math"
	"strconv"
)

// An organizer chooses its accent colour freely (PATCH /v1/settings), and
// the shop uses it for text too: links, and the label of a button drawn in
// it. Any colour must leave that text readable, which WCAG 2 measures as a
// contrast ratio of at least 4.5:1 (success criterion 1.4.3). Theme derives
// two colours from the accent that meet it, so that a light accent (a
// yellow, a pastel) neither vanishes as link text on the white page nor
// under white button labels.

// minContrast is WCAG 2's minimum contrast ratio of normal-sized text (AA).
const minContrast = 4.5

// The shop's page backgrounds, as store.css's --bg and --soft: accent-coloured
// text stands on either.
var (
	pageBackground = rgb{0xff, 0xff, 0xff}
	softBackground = rgb{0xf6, 0xf8, 0xfa}
)

var (
	white = rgb{0xff, 0xff, 0xff}
	black = rgb{0, 0, 0}
)

// rgb is a colour of the sRGB space, one byte a channel.
type rgb [3]uint8

// parseRGB reads #rrggbb (either case); ok is false for anything else.
func parseRGB(s string) (c rgb, ok bool) {
	if len(s) != 7 || s[0] != '#' {
		return c, false
	}
	for i := range c {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return c, false
		}
		c[i] = uint8(v)
	}
	return c, true
}

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

// luminance is the colour's relative luminance as WCAG 2 defines it: 0 for
// black, 1 for white.
func (c rgb) luminance() float64 {
	var l [3]float64
	for i, v := range c {
		s := float64(v) / 255
		if s <= 0.04045 {
			l[i] = s / 12.92
		} else {
			l[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// contrast is WCAG 2's contrast ratio of two colours, from 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// textOn is the colour of text on a background of colour bg: white where it
// is readable, else black, which then is (white and black contrast with any
// colour by ratios whose product is 21, so one of them reaches 21^½ > 4.5).
func textOn(bg rgb) rgb {
	if contrast(white, bg) >= minContrast {
		return white
	}
	return black
}

// inkOf is c as text on the shop's backgrounds: c itself where it is
// readable on both, else c darkened (each channel scaled down alike, which
// keeps its hue) just enough to be.
func inkOf(c rgb) rgb {
	for step := 0; step < 100; step++ {
		k := 1 - float64(step)/100
		d := rgb{uint8(math.Round(float64(c[0]) * k)), uint8(math.Round(float64(c[1]) * k)), uint8(math.Round(float64(c[2]) * k))}
		if contrast(d, softBackground) >= minContrast && contrast(d, pageBackground) >= minContrast {
			return d
		}
	}
	return black
}
