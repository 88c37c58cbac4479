// Package badge draws flat, shields.io-style SVG badges (a label on the
// left, a message on the right) whose text is measured so that it fits, and
// parses the query parameters that choose a badge's label, color and style.
// Every piece of text is XML-escaped: a badge is safe to serve from the
// API's own origin whatever the query said.
package badge
