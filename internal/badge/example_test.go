package badge_test

import (
	"fmt"

	"github.com/hitcounter/hitcounter/internal/badge"
)

func Example() {
	opts, err := badge.ParseQuery("label=views&color=green&style=flat-square")
	if err != nil {
		fmt.Println(err)
		return
	}
	b := badge.New(opts, "1234")
	fmt.Println(b.Width(), "x", badge.Height, len(b.SVG()) > 0)
	fmt.Printf("%s\n", b.Endpoint(false).JSON())
	// Output:
	// 79 x 20 true
	// {"schemaVersion":1,"label":"views","message":"1234","color":"green","style":"flat-square"}
}
