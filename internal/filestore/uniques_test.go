package filestore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/filestore"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// lastPoint returns the named counter's last point of period p.
func lastPoint(t *testing.T, s counter.Store, name string, p counter.Period) counter.Point {
	t.Helper()
	points, err := s.Stats(context.Background(), name, counter.StatsQuery{Period: p})
	if err != nil {
		t.Fatal(err)
	}
	return points[len(points)-1]
}

// TestUniquesAndBots: visitors are counted once per bucket, exactly for
// small numbers, from concurrent writes sharing commits; a bot changes no
// count, adds no hit and shows in bots; a bot of a missing counter is
// NotFound and creates nothing. All of it is in the file: after Close
// and Open, the same visitors again are not new.
func TestUniquesAndBots(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hits.db")
	s := open(t, path)
	if _, err := s.Apply(ctx, counter.Create("u", 5)); err != nil {
		t.Fatal(err)
	}
	visit := func(s *filestore.Store) {
		var wg sync.WaitGroup
		for w := range 10 {
			wg.Go(func() {
				for i := range 30 {
					v := counter.Visitor(1 + (w*30+i)%100) // 100 visitors, 3 times each
					if _, err := s.Apply(ctx, counter.Increment("u", 1).WithVisitor(v)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
	visit(s)
	if _, err := s.Apply(ctx, counter.Increment("u", 2)); err != nil { // no visitor known
		t.Fatal(err)
	}
	res, err := s.Apply(ctx, counter.Bot("u"))
	if err != nil || res.Counter.Count != 307 {
		t.Fatalf("a bot: %+v, %v; want the count, 307", res.Counter, err)
	}
	if _, err := s.Apply(ctx, counter.Bot("missing")); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("a bot of a missing counter: %v, want NotFound", err)
	}
	if _, err := s.Get(ctx, "missing"); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("a bot created a counter: %v", err)
	}
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		if last := lastPoint(t, s, "u", p); last.Hits != 302 || last.Uniques != 100 || last.Bots != 1 {
			t.Errorf("%s: %+v, want hits 302, uniques 100, bots 1", p, last)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	visit(s)
	if _, err := s.Apply(ctx, counter.Bot("u")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		if last := lastPoint(t, s, "u", p); last.Hits != 602 || last.Uniques != 100 || last.Bots != 2 {
			t.Errorf("%s, after reopening and the same visitors again: %+v, want hits 602, uniques 100, bots 2", p, last)
		}
	}
}

// TestUniquesFrozen: once a counter's next hour has a write, the hour
// before keeps its visitors as a number, not a sketch, so that a counter
// holds one sketch per period; the numbers stay the same.
func TestUniquesFrozen(t *testing.T) {
	ctx := context.Background()
	start := counter.Day.Start(time.Now()).Add(-48 * time.Hour)
	clock := countertest.NewClock(start.Add(time.Minute))
	s := newStore(t, filestore.WithClock(clock.Now))
	if _, err := s.Apply(ctx, counter.Create("f", 0)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := s.Apply(ctx, counter.Increment("f", 1).WithVisitor(counter.Visitor(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if n := filestore.Sketches(s); n != 2 {
		t.Fatalf("%d sketches after the first hour, want 2 (its hour and its day)", n)
	}
	clock.Set(start.Add(70 * time.Minute))
	for i := range 20 { // 10 of the first hour's visitors, 10 new ones
		if _, err := s.Apply(ctx, counter.Hit("f").WithVisitor(counter.Visitor(41+i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := filestore.Sketches(s); n != 2 {
		t.Errorf("%d sketches after the second hour, want 2 (the second hour and the day)", n)
	}
	points, err := s.Stats(ctx, "f", counter.StatsQuery{Period: counter.Hour, From: start, To: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(points[0].Uniques, points[1].Uniques, lastPoint(t, s, "f", counter.Day).Uniques); got != "50 20 60" {
		t.Errorf("uniques of the two hours and the day: %s, want 50 20 60", got)
	}
	// A clock set back: the frozen hour gets visitors again, a sketch of
	// their own, added to its number.
	clock.Set(start.Add(30 * time.Minute))
	if _, err := s.Apply(ctx, counter.Increment("f", 1).WithVisitor(1000)); err != nil {
		t.Fatal(err)
	}
	if points, err = s.Stats(ctx, "f", counter.StatsQuery{Period: counter.Hour, From: start, To: start}); err != nil || points[0].Uniques != 51 {
		t.Errorf("the first hour after a visitor with the clock set back: %+v, %v; want 51 uniques", points, err)
	}
}

// TestSaltsKeptBesideTheFile: the day's salt is made once, kept in the
// salts' file beside the data file (not in it, so that no snapshot holds
// it) across Close and Open, and deleted with the file once its day has
// ended more than uniques.SaltMargin ago.
func TestSaltsKeptBesideTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hits.db")
	now := time.Now().UTC()
	clock := countertest.NewClock(now)
	today := counter.Day.Start(now)
	s := open(t, path, filestore.WithClock(clock.Now))
	salt, err := s.Salt(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.Salt(ctx, today); err != nil || again != salt {
		t.Fatalf("the day's salt asked again: %x, %v; want the same", again, err)
	}
	if other, err := s.Salt(ctx, today.Add(24*time.Hour)); err != nil || other == salt {
		t.Fatalf("the next day's salt: %x, %v; want another", other, err)
	}
	if _, err := s.Apply(ctx, counter.Create("c", 0)); err != nil {
		t.Fatal(err)
	}
	var snapshot bytes.Buffer
	if _, err := s.WriteSnapshot(ctx, &snapshot); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snapshot.Bytes(), salt[:]) {
		t.Error("a snapshot holds the day's salt")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); bytes.Contains(data, salt[:]) {
		t.Error("the data file holds the day's salt")
	}
	if data, err := os.ReadFile(path + filestore.SaltsSuffix); err != nil || !bytes.Contains(data, salt[:]) {
		t.Fatalf("the salts' file: %v; want it to hold the day's salt", err)
	}

	s = open(t, path, filestore.WithClock(clock.Now))
	if again, err := s.Salt(ctx, today); err != nil || again != salt {
		t.Fatalf("the day's salt after reopening: %x, %v; want the same", again, err)
	}
	// The day is over, plus the margin: today's salt goes, tomorrow's
	// stays.
	clock.Set(today.Add(24*time.Hour + uniques.SaltMargin + time.Second))
	if _, err := s.Salt(ctx, today.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path + filestore.SaltsSuffix); err != nil || bytes.Contains(data, salt[:]) {
		t.Errorf("the salts' file past the day and its margin: %v; want it without that day's salt", err)
	}
	if again, err := s.Salt(ctx, today); err != nil || again == salt {
		t.Errorf("the salt of a day past its margin: %x, %v; want another (it was deleted)", again, err)
	}
	// Past every day's margin, the file goes at the next Open.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Set(today.Add(72 * time.Hour))
	open(t, path, filestore.WithClock(clock.Now))
	if _, err := os.Stat(path + filestore.SaltsSuffix); !os.IsNotExist(err) {
		t.Errorf("the salts' file once no day needs a salt: %v, want it removed", err)
	}
}

// TestSaltsFileDamaged: a salts' file that does not read is removed, its
// salts forgotten, and Recovered says so; the store opens.
func TestSaltsFileDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hits.db")
	open(t, path).Close()
	if err := os.WriteFile(path+filestore.SaltsSuffix, []byte("hitcounter-salts-v1\ngarbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if note := s.Recovered(); !bytes.Contains([]byte(note), []byte("salts")) {
		t.Errorf("Recovered() = %q, want a note on the salts' file", note)
	}
	if _, err := os.Stat(path + filestore.SaltsSuffix); !os.IsNotExist(err) {
		t.Errorf("the damaged salts' file: %v, want it removed", err)
	}
	if _, err := s.Salt(context.Background(), counter.Day.Start(time.Now())); err != nil {
		t.Errorf("a salt after the damaged file: %v", err)
	}
}
