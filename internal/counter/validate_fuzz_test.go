package counter_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// namePattern is the contract's definition of a counter name.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// FuzzValidateName checks ValidName and ValidateName against the
// contract's regular expression, on any string.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{
		"", "a", "home", "9", "A.b_c-D", ".a", "-a", "_a", "a/b", "a b", "a\n", "\na",
		"été", "a\x00", "\xff", "a\u0130", "\u212a", // KELVIN SIGN, which folds to k
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129),
		strings.Repeat("é", 64), "a" + strings.Repeat(".", 127),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := namePattern.MatchString(name)
		if got := counter.ValidName(name); got != want {
			t.Fatalf("ValidName(%q): got %t, want %t", name, got, want)
		}
		err := counter.ValidateName(name)
		if (err == nil) != want {
			t.Fatalf("ValidateName(%q): got %v, want valid %t", name, err, want)
		}
		if err != nil && counter.ErrorCode(err) != counter.InvalidName {
			t.Fatalf("ValidateName(%q): got code %q, want %q", name, counter.ErrorCode(err), counter.InvalidName)
		}
	})
}
