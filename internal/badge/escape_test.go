package badge

import (
	"bytes"
	"encoding/xml"
	"testing"
)

// FuzzEscape checks escape against encoding/xml's EscapeText, which it
// replaces to keep encoding/xml out of the Lambda binaries.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "hits", `<script>alert("x")</script>`, "a & b ' c", "tab\tnl\ncr\r", "\x00\x1b\x7f", "\xff\xfe", "訪問 🙂", "\ufffd\ufffe\uffff", "]]>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want bytes.Buffer
		escape(&got, s)
		if err := xml.EscapeText(&want, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("escape(%q) = %q, want %q (encoding/xml)", s, got.String(), want.String())
		}
	})
}
