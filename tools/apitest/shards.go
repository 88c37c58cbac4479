package apitest

// The checks of sharded counters: shards asked for on create and set, the
// optional shards member of a counter, exact totals on GET, and the
// staleness an increment's answer may have.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// maxShards is the most shards a counter may have.
const maxShards = 32

func (s *suite) testShards(t *testing.T) {
	name := s.name("sharded")
	r := s.do(t, jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q,"count":5,"shards":4}`, name)))
	c := wantCounter(t, r, http.StatusCreated, name, 5)
	if c.Shards != 4 {
		t.Fatalf("create with shards 4: got shards %d, want 4", c.Shards)
	}
	if got := s.get(t, name); got != c {
		t.Errorf("GET after create: got %+v, want %+v", got, c)
	}

	t.Run("increments", func(t *testing.T) {
		// Every answer includes its own increment, and none exceeds the
		// total; GET reads the exact total. Changes by other than 1 go
		// through PATCH, the admin's route (the open increment may only
		// add views when API keys are on).
		const n = 12
		target := "/counters/" + name + "/increment"
		var answers []int64
		for range n {
			r := s.do(t, adjust(name, 2)) // the admin route: the open one may only add views
			answers = append(answers, wantAnyCount(t, r, name, 4).Count)
		}
		final := s.get(t, name)
		if final.Count != 5+2*n || final.Shards != 4 {
			t.Fatalf("GET after %d increments by 2: got count %d shards %d, want %d and 4", n, final.Count, final.Shards, 5+2*n)
		}
		for i, a := range answers {
			if a < 7 || a > final.Count {
				t.Errorf("answer %d: count %d, want from 7 (the increment itself) to %d (the total)", i, a, final.Count)
			}
		}
		// A counter that has been quiet for a second answers exactly: no
		// signal says when every process's total is older than that.
		time.Sleep(1100 * time.Millisecond)
		wantCounter(t, s.do(t, request{method: http.MethodPost, target: target}), http.StatusOK, name, final.Count+1)
		if t.Failed() {
			return
		}
		wantAnyCount(t, s.do(t, adjust(name, -1)), name, 4)
		s.wantCount(t, name, final.Count)
	})

	t.Run("set", func(t *testing.T) {
		put := func(body string) response {
			return s.do(t, jsonBody(http.MethodPut, "/counters/"+name, body))
		}
		if c := wantCounter(t, put(`{"count":100,"shards":8}`), http.StatusOK, name, 100); c.Shards != 8 {
			t.Errorf("set with shards 8: got shards %d, want 8", c.Shards)
		}
		// Shards never shrink while the counter exists.
		if c := wantCounter(t, put(`{"count":0,"shards":2}`), http.StatusOK, name, 0); c.Shards != 8 {
			t.Errorf("set with shards 2 after 8: got shards %d, want 8", c.Shards)
		}
		if c := wantCounter(t, put(`{"count":9007199254740991}`), http.StatusOK, name, maxCount); c.Shards != 8 {
			t.Errorf("set without shards: got shards %d, want 8", c.Shards)
		}
		s.expectError(t, jsonBody(http.MethodPost, "/counters/"+name+"/increment", `{}`), http.StatusConflict, "out_of_range")
		wantCounter(t, s.do(t, adjust(name, -maxCount)), http.StatusOK, name, 0)
		s.expectError(t, adjust(name, -1), http.StatusConflict, "out_of_range")
		s.wantCount(t, name, 0)
		fresh := s.name("sharded-set")
		r := s.do(t, jsonBody(http.MethodPut, "/counters/"+fresh, `{"count":3,"shards":32}`))
		if c := wantCounter(t, r, http.StatusCreated, fresh, 3); c.Shards != maxShards {
			t.Errorf("set creating with shards 32: got shards %d, want 32", c.Shards)
		}
	})

	t.Run("one shard", func(t *testing.T) {
		// A counter kept in one item shows no shards member.
		plain := s.name("sharded-one")
		r := s.do(t, jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q,"shards":1}`, plain)))
		if c := wantCounter(t, r, http.StatusCreated, plain, 0); c.Shards != 0 {
			t.Errorf("create with shards 1: got shards %d, want none", c.Shards)
		}
	})

	t.Run("delete and create again", func(t *testing.T) {
		gone := s.name("sharded-gone")
		s.do(t, jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q,"count":7,"shards":3}`, gone)))
		if r := s.do(t, request{method: http.MethodDelete, target: "/counters/" + gone}); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: got %v, want 204", r)
		}
		s.wantMissing(t, gone)
		s.expectError(t, request{method: http.MethodPost, target: "/counters/" + gone + "/increment"}, http.StatusNotFound, "not_found")
		if c := s.create(t, gone, 0); c.Shards != 0 {
			t.Errorf("created again without shards: got shards %d, want none", c.Shards)
		}
		wantCounter(t, s.do(t, request{method: http.MethodPost, target: "/counters/" + gone + "/increment"}), http.StatusOK, gone, 1)
	})

	t.Run("invalid shards", func(t *testing.T) {
		for _, v := range []string{"0", "33", "-1", "1.5", "2.0", "1e1", `"4"`, "null", "true", "[4]", "9223372036854775808"} {
			bad := s.name("sharded-bad")
			s.expectError(t, jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q,"shards":%s}`, bad, v)), http.StatusBadRequest, "invalid_request")
			s.wantMissing(t, bad)
			s.expectError(t, jsonBody(http.MethodPut, "/counters/"+bad, `{"count":1,"shards":`+v+`}`), http.StatusBadRequest, "invalid_request")
			s.wantMissing(t, bad)
		}
		s.expectError(t, jsonBody(http.MethodPost, "/counters/"+name+"/increment", `{"shards":2}`), http.StatusBadRequest, "invalid_request")
	})
}

// wantAnyCount checks that r is a 200 counter named name with the given
// shards, whatever its count, and returns it.
func wantAnyCount(t *testing.T, r response, name string, shards int) counterJSON {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("got %v, want 200 with counter %q", r, name)
	}
	var c counterJSON
	decode(t, r, &c)
	if c.Name != name || c.Shards != shards || !strings.HasSuffix(c.UpdatedAt, "Z") {
		t.Errorf("got %+v, want counter %q with %d shards", c, name, shards)
	}
	return c
}
