package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/filestore"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/transfer"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

// store is what an export reads and an import writes.
type store interface {
	counter.Store
	counter.Importer
}

// filled is a memory store with counters whose hits are spread over the
// last 300 days, dated from now.
func filled(t *testing.T, now time.Time) *memstore.Store {
	t.Helper()
	clock := countertest.NewClock(now.Add(-300 * 24 * time.Hour))
	s := memstore.New(memstore.WithClock(clock.Now))
	ctx := context.Background()
	for _, name := range []string{"home", "docs.v2", "quiet", "Release-1_0"} {
		if _, err := s.Apply(ctx, counter.Create(name, 10)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 150 {
		clock.Set(now.Add(-time.Duration(150-i) * 47 * time.Hour))
		name := []string{"home", "docs.v2", "Release-1_0"}[i%3]
		by := int64(i%7 + 1)
		if i%11 == 0 {
			by = -1
		}
		if _, err := s.Apply(ctx, counter.Increment(name, by)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(now)
	return s
}

func export(t *testing.T, s counter.Store, now time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := transfer.Export(context.Background(), s, &buf, now); err != nil {
		t.Fatalf("Export from %T: %v", s, err)
	}
	return buf.Bytes()
}

func dynamoStore(t *testing.T, now time.Time) store {
	t.Helper()
	ctx := context.Background()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: dynamolocal.ForTest(t).Endpoint()})
	table := fmt.Sprintf("transfer-%d", time.Now().UnixNano())
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	if err := dynamostore.CreateStatsTable(ctx, client, table+"-stats"); err != nil {
		t.Fatal(err)
	}
	return dynamostore.New(client, table, dynamostore.WithClock(func() time.Time { return now }))
}

// TestRoundTrip moves counters from the memory store to the file store,
// to DynamoDB (Local) and back to memory: every export along the way is
// the same, byte for byte.
func TestRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	src := filled(t, now)
	want := export(t, src, now)
	file, err := filestore.Open(filepath.Join(t.TempDir(), "hits.db"), filestore.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	chain := []store{file, dynamoStore(t, now), memstore.New(memstore.WithClock(func() time.Time { return now }))}
	data := want
	for _, dst := range chain {
		sum, err := transfer.Import(context.Background(), dst, bytes.NewReader(data))
		if err != nil || sum.Imported != 4 || sum.Skipped != 0 {
			t.Fatalf("Import into %T = %+v, %v; want 4 imported", dst, sum, err)
		}
		data = export(t, dst, now)
		sameLines(t, fmt.Sprintf("export from %T", dst), data, want)
	}
	if lines := strings.Count(string(want), "\n"); lines != 6 {
		t.Errorf("the export has %d lines, want 6 (header, 4 counters, end)", lines)
	}
	// Again into the same store: nothing changes.
	sum, err := transfer.Import(context.Background(), file, bytes.NewReader(want))
	if err != nil || sum.Imported != 0 || sum.Skipped != 4 || len(sum.SkippedNames) != 4 {
		t.Errorf("a second Import = %+v, %v; want 4 skipped, named", sum, err)
	}
	sameLines(t, "export after a second Import", export(t, file, now), want)
}

// sameLines fails t unless got and want hold the same lines, in any
// order (a DynamoDB scan lists counters in no particular order).
func sameLines(t *testing.T, what string, got, want []byte) {
	t.Helper()
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	slices.Sort(g)
	slices.Sort(w)
	if len(g) != len(w) {
		t.Fatalf("%s: %d lines, want %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s differs from the original:\n got %.300s\nwant %.300s", what, g[i], w[i])
		}
	}
}

func TestImportRefuses(t *testing.T) {
	now := time.Now().UTC()
	good := export(t, filled(t, now), now)
	lines := strings.SplitAfter(string(good), "\n")
	tests := map[string]struct {
		data     string
		wantCode string
		wantErr  error
		wantMsg  string
		imported int
	}{
		"empty":           {data: "", wantCode: counter.InvalidRequest, wantMsg: "empty"},
		"no header":       {data: strings.Join(lines[1:], ""), wantCode: counter.InvalidRequest, wantMsg: "not a header line"},
		"other version":   {data: `{"format":"hitcounter-export","version":2,"exported_at":"2026-01-01T00:00:00Z"}` + "\n", wantCode: counter.InvalidRequest, wantMsg: "version 2"},
		"cut short":       {data: strings.Join(lines[:3], ""), wantErr: transfer.ErrIncomplete, imported: 2},
		"not JSON":        {data: lines[0] + "hello\n", wantCode: counter.InvalidRequest, wantMsg: "not a counter line"},
		"unknown member":  {data: lines[0] + `{"name":"x","count":1,"color":"red"}` + "\n", wantCode: counter.InvalidRequest, wantMsg: "line 2"},
		"invalid counter": {data: lines[0] + `{"name":"a b","count":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","hours":[],"days":[]}` + "\n", wantCode: counter.InvalidName, wantMsg: "line 2"},
		"wrong count":     {data: strings.Join(lines[:2], "") + `{"end":true,"counters":7}` + "\n", wantCode: counter.InvalidRequest, wantMsg: "counts 7", imported: 1},
		"after the end":   {data: string(good) + lines[1], wantCode: counter.InvalidRequest, wantMsg: "after the end line", imported: 4},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dst := memstore.New()
			sum, err := transfer.Import(context.Background(), dst, strings.NewReader(tc.data))
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("Import: %v, want %v", err, tc.wantErr)
			case tc.wantCode != "" && (counter.ErrorCode(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantMsg)),
				tc.wantCode != "" && tc.data != "" && !strings.HasPrefix(counter.ErrorMessage(err), "line "):
				t.Errorf("Import: %v, want %s saying %q", err, tc.wantCode, tc.wantMsg)
			}
			if sum.Imported != tc.imported {
				t.Errorf("imported %d, want %d", sum.Imported, tc.imported)
			}
		})
	}
}
