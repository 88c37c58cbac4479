package countertest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// answer is what one keyed Apply returned: the result without its
// Replayed mark, the mark, and the error.
type answer struct {
	outcome  counter.Result
	replayed bool
	err      error
}

func newAnswer(r counter.Result, err error) answer {
	replayed := r.Replayed
	r.Replayed = false
	return answer{r, replayed, err}
}

func applyKeyed(t *testing.T, s counter.Store, key counter.IdempotencyKey, w counter.Write) answer {
	t.Helper()
	return newAnswer(s.Apply(ctx(t), w.WithKey(key)))
}

// sameAnswer fails t unless replay is first again, marked replayed.
func sameAnswer(t *testing.T, first, replay answer) {
	t.Helper()
	if !replay.replayed {
		t.Errorf("second call: replayed = false, want true")
	}
	if first.outcome != replay.outcome {
		t.Errorf("replayed outcome %+v, want the first %+v", replay.outcome, first.outcome)
	}
	if counter.ErrorCode(first.err) != counter.ErrorCode(replay.err) || counter.ErrorMessage(first.err) != counter.ErrorMessage(replay.err) {
		t.Errorf("replayed error %v, want the first %v", replay.err, first.err)
	}
}

// testKeyedReplay applies each kind of write with a key, then changes the
// counter without a key so that applying the write again would answer
// differently, then repeats the keyed write: it must answer as the first
// time, marked replayed, and change nothing.
func testKeyedReplay(t *testing.T, s counter.Store) {
	tests := []struct {
		name     string
		setup    func(*testing.T, counter.Store, string)
		write    counter.Write
		wantCode string
		// want checks the first answer's outcome.
		wantCount   int64
		wantCreated bool
		// change is the unkeyed change between the two calls; after it,
		// and after the replay, the counter has afterCount (-1: absent).
		change     func(*testing.T, counter.Store, string)
		afterCount int64
	}{
		{
			name:  "create",
			write: counter.Write{Op: counter.OpCreate, Count: 5}, wantCount: 5, wantCreated: true,
			change: incrementing(1), afterCount: 6,
		},
		{
			name: "create taken", setup: creating(1),
			write: counter.Write{Op: counter.OpCreate, Count: 5}, wantCode: counter.AlreadyExists,
			change: remove, afterCount: -1,
		},
		{
			name:  "set new",
			write: counter.Write{Op: counter.OpSet, Count: 3}, wantCount: 3, wantCreated: true,
			change: setting(9), afterCount: 9,
		},
		{
			name: "set existing", setup: creating(1),
			write: counter.Write{Op: counter.OpSet, Count: 3}, wantCount: 3,
			change: incrementing(1), afterCount: 4,
		},
		{
			name: "increment", setup: creating(10),
			write: counter.Write{Op: counter.OpIncrement, By: 5}, wantCount: 15,
			change: incrementing(1), afterCount: 16,
		},
		{
			name:  "increment missing",
			write: counter.Write{Op: counter.OpIncrement, By: 1}, wantCode: counter.NotFound,
			change: creating(0), afterCount: 0,
		},
		{
			name: "increment out of range", setup: creating(1),
			write: counter.Write{Op: counter.OpIncrement, By: -2}, wantCode: counter.OutOfRange,
			change: setting(5), afterCount: 5,
		},
		{
			name: "increment above max", setup: creating(counter.MaxCount - 1),
			write: counter.Write{Op: counter.OpIncrement, By: 2}, wantCode: counter.OutOfRange,
			change: setting(0), afterCount: 0,
		},
		{
			name: "delete", setup: creating(4),
			write:  counter.Write{Op: counter.OpDelete},
			change: creating(7), afterCount: 7,
		},
		{
			name:  "delete missing",
			write: counter.Write{Op: counter.OpDelete}, wantCode: counter.NotFound,
			change: creating(7), afterCount: 7,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("keyed%02d", i)
			w := tt.write
			w.Name = name
			key := counter.IdempotencyKey{Key: "key-" + tt.name}
			if tt.setup != nil {
				tt.setup(t, s, name)
			}
			first := applyKeyed(t, s, key, w)
			wantCode(t, "first keyed Apply", first.err, tt.wantCode)
			if first.replayed {
				t.Errorf("first keyed Apply: replayed = true, want false")
			}
			if tt.wantCode == "" && w.Op != counter.OpDelete {
				c := first.outcome.Counter
				if c.Name != name || c.Count != tt.wantCount || first.outcome.Created != tt.wantCreated {
					t.Errorf("first keyed Apply = %+v, want %q count %d created %t", first.outcome, name, tt.wantCount, tt.wantCreated)
				}
				if got := mustGet(t, s, name); got != c {
					t.Errorf("Get after keyed Apply = %+v, want the answered %+v", got, c)
				}
			}
			if tt.wantCode == "" && w.Op == counter.OpDelete && first.outcome != (counter.Result{}) {
				t.Errorf("delete outcome = %+v, want zero", first.outcome)
			}
			tt.change(t, s, name)
			for range 2 {
				sameAnswer(t, first, applyKeyed(t, s, key, w))
				checkCount(t, s, name, tt.afterCount)
			}
		})
	}
}

// Setup and change steps of testKeyedReplay.
func creating(count int64) func(*testing.T, counter.Store, string) {
	return func(t *testing.T, s counter.Store, name string) { mustCreate(t, s, name, count) }
}

func setting(count int64) func(*testing.T, counter.Store, string) {
	return func(t *testing.T, s counter.Store, name string) {
		t.Helper()
		if _, _, err := set(t, s, name, count); err != nil {
			t.Fatalf("Set(%q, %d): %v", name, count, err)
		}
	}
}

func incrementing(by int64) func(*testing.T, counter.Store, string) {
	return func(t *testing.T, s counter.Store, name string) {
		t.Helper()
		if _, err := increment(t, s, name, by); err != nil {
			t.Fatalf("Increment(%q, %d): %v", name, by, err)
		}
	}
}

func remove(t *testing.T, s counter.Store, name string) {
	t.Helper()
	if err := del(t, s, name); err != nil {
		t.Fatalf("Delete(%q): %v", name, err)
	}
}

// checkCount fails t unless the counter has count want (-1: is absent).
func checkCount(t *testing.T, s counter.Store, name string, want int64) {
	t.Helper()
	c, err := s.Get(ctx(t), name)
	if want < 0 {
		wantCode(t, "Get", err, counter.NotFound)
		return
	}
	if err != nil || c.Count != want {
		t.Errorf("Get(%q) = %d, %v; want %d", name, c.Count, err, want)
	}
}

// testKeyedReuse checks that a key used for one request is refused for
// another one under the same scope, which changes nothing.
func testKeyedReuse(t *testing.T, s counter.Store) {
	mustCreate(t, s, "reused", 10)
	key := counter.IdempotencyKey{Key: "once"}
	inc := counter.Write{Op: counter.OpIncrement, Name: "reused", By: 1}
	if a := applyKeyed(t, s, key, inc); a.err != nil || a.outcome.Counter.Count != 11 {
		t.Fatalf("first increment = %+v, want count 11", a)
	}
	other := inc
	other.By = 2
	a := applyKeyed(t, s, key, other)
	wantCode(t, "keyed Apply(same key, other by)", a.err, counter.IdempotencyKeyReused)
	if a.replayed {
		t.Errorf("a reused key's answer is marked replayed")
	}
	checkCount(t, s, "reused", 11)

	setKey := counter.IdempotencyKey{Key: "set-once"}
	if a := applyKeyed(t, s, setKey, counter.Write{Op: counter.OpSet, Name: "reused", Count: 3}); a.err != nil {
		t.Fatalf("keyed set: %v", a.err)
	}
	a = applyKeyed(t, s, setKey, counter.Write{Op: counter.OpSet, Name: "reused", Count: 4})
	wantCode(t, "keyed Apply(same key, other count)", a.err, counter.IdempotencyKeyReused)
	checkCount(t, s, "reused", 3)
	// The original request still replays.
	if a := applyKeyed(t, s, key, inc); !a.replayed || a.err != nil || a.outcome.Counter.Count != 11 {
		t.Errorf("replay after a reuse = %+v, want the first answer (count 11), replayed", a)
	}
}

// testKeyedScope checks that a key is scoped by principal, operation and
// counter name: the same key elsewhere is a new write.
func testKeyedScope(t *testing.T, s counter.Store) {
	mustCreate(t, s, "a", 0)
	mustCreate(t, s, "b", 0)
	key := counter.IdempotencyKey{Key: "shared"}
	steps := []struct {
		what      string
		key       counter.IdempotencyKey
		write     counter.Write
		wantCount int64
	}{
		{"first", key, counter.Write{Op: counter.OpIncrement, Name: "a", By: 1}, 1},
		{"other counter", key, counter.Write{Op: counter.OpIncrement, Name: "b", By: 1}, 1},
		{"other principal", counter.IdempotencyKey{Key: "shared", Principal: "someone"}, counter.Write{Op: counter.OpIncrement, Name: "a", By: 1}, 2},
		{"other operation", key, counter.Write{Op: counter.OpSet, Name: "a", Count: 7}, 7},
		{"key differs in case", counter.IdempotencyKey{Key: "Shared"}, counter.Write{Op: counter.OpIncrement, Name: "a", By: 1}, 8},
	}
	for _, st := range steps {
		a := applyKeyed(t, s, st.key, st.write)
		if a.err != nil || a.replayed || a.outcome.Counter.Count != st.wantCount {
			t.Errorf("%s: keyed Apply = %+v; want applied, count %d", st.what, a, st.wantCount)
		}
	}
}

// testKeyedInvalid checks that invalid keys and writes are refused before
// anything is recorded.
func testKeyedInvalid(t *testing.T, s counter.Store) {
	mustCreate(t, s, "v", 1)
	inc := counter.Write{Op: counter.OpIncrement, Name: "v", By: 1}
	// (An empty key is no key: Write.Keyed. The HTTP layer refuses an
	// empty Idempotency-Key header itself.)
	for name, key := range map[string]string{
		"too long":  strings.Repeat("k", counter.MaxIdempotencyKeyLength+1),
		"newline":   "a\nb",
		"tab":       "a\tb",
		"delete":    "a\x7f",
		"non-ASCII": "clé",
	} {
		t.Run("key "+name, func(t *testing.T) {
			a := applyKeyed(t, s, counter.IdempotencyKey{Key: key}, inc)
			wantCode(t, "keyed Apply", a.err, counter.InvalidRequest)
		})
	}
	for name, tc := range map[string]struct {
		write counter.Write
		code  string
	}{
		"bad name":          {counter.Write{Op: counter.OpIncrement, Name: "a/b", By: 1}, counter.InvalidName},
		"zero increment":    {counter.Write{Op: counter.OpIncrement, Name: "v"}, counter.InvalidRequest},
		"negative count":    {counter.Write{Op: counter.OpSet, Name: "v", Count: -1}, counter.InvalidRequest},
		"count too large":   {counter.Write{Op: counter.OpCreate, Name: "w", Count: counter.MaxCount + 1}, counter.InvalidRequest},
		"no operation":      {counter.Write{Name: "v"}, counter.InvalidRequest},
		"delete with count": {counter.Write{Op: counter.OpDelete, Name: "v", Count: 1}, counter.InvalidRequest},
	} {
		t.Run(name, func(t *testing.T) {
			a := applyKeyed(t, s, counter.IdempotencyKey{Key: "k-" + name}, tc.write)
			wantCode(t, "keyed Apply", a.err, tc.code)
		})
	}
	checkCount(t, s, "v", 1)
	// Nothing was recorded: the longest valid key works for a real write.
	long := strings.Repeat("~", counter.MaxIdempotencyKeyLength)
	if a := applyKeyed(t, s, counter.IdempotencyKey{Key: long}, inc); a.err != nil || a.replayed {
		t.Errorf("keyed Apply(255-character key) = %+v, want applied", a)
	}
	if a := applyKeyed(t, s, counter.IdempotencyKey{Key: " "}, inc); a.err != nil || a.replayed {
		t.Errorf("keyed Apply(key %q) = %+v, want applied", " ", a)
	}
	checkCount(t, s, "v", 3)
}

// untilDefinite applies a keyed write until it gets an answer other than
// Unavailable, as a client that retries with the same key does.
func untilDefinite(t *testing.T, s counter.Store, key counter.IdempotencyKey, w counter.Write) (answer, int) {
	t.Helper()
	for retries := 0; ; retries++ {
		a := newAnswer(s.Apply(ctx(t), w.WithKey(key)))
		if counter.ErrorCode(a.err) != counter.Unavailable || retries == 100 {
			return a, retries
		}
	}
}

// testKeyedConcurrentSameKey sends one keyed increment from 16 goroutines
// at once: it is applied once, and every caller gets the same answer.
func testKeyedConcurrentSameKey(t *testing.T, s counter.Store) {
	const racers = 16
	mustCreate(t, s, "raced", 100)
	key := counter.IdempotencyKey{Key: "raced-key"}
	w := counter.Write{Op: counter.OpIncrement, Name: "raced", By: 1}
	answers := make([]answer, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { answers[i], _ = untilDefinite(t, s, key, w) })
	}
	wg.Wait()
	applied := 0
	for _, a := range answers {
		if a.err != nil {
			t.Fatalf("keyed Apply: %v", a.err)
		}
		if a.outcome != answers[0].outcome {
			t.Errorf("answers differ: %+v and %+v", a.outcome, answers[0].outcome)
		}
		if !a.replayed {
			applied++
		}
	}
	if applied > 1 {
		t.Errorf("%d callers were told their increment was applied, want at most 1", applied)
	}
	if answers[0].outcome.Counter.Count != 101 {
		t.Errorf("answered count %d, want 101", answers[0].outcome.Counter.Count)
	}
	checkCount(t, s, "raced", 101)
}

// testKeyedConcurrentKeys increments one counter from many goroutines, each
// with its own keys, retrying a key until a definite answer: no increment
// is lost or doubled, and (but for a sharded counter, whose answers may
// lag) no two answers show the same count.
func testKeyedConcurrentKeys(t *testing.T, s counter.Store) {
	// 8 goroutines on one counter keep every keyed write in conflict with
	// others (DynamoDB: transactions that cancel and are retried); 16 x 25
	// took 400 s of make test on DynamoDB Local, most of it retries.
	workers, each := 8, 10
	if testing.Short() {
		each = 4
	}
	mustCreate(t, s, "keyed-hot", 0)
	var mu sync.Mutex
	seen := map[int64]bool{}
	retries := 0
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for j := range each {
				key := counter.IdempotencyKey{Key: fmt.Sprintf("w%d-%d", i, j)}
				a, r := untilDefinite(t, s, key, counter.Write{Op: counter.OpIncrement, Name: "keyed-hot", By: 1})
				mu.Lock()
				retries += r
				if a.err != nil {
					t.Errorf("keyed Apply(%s): %v", key.Key, a.err)
				} else if seen[a.outcome.Counter.Count] && !sharded(s) {
					t.Errorf("two increments answered count %d", a.outcome.Counter.Count)
				}
				seen[a.outcome.Counter.Count] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkCount(t, s, "keyed-hot", int64(workers*each))
	t.Logf("%d keyed increments, %d retried after unavailable", workers*each, retries)
}
