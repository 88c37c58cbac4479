package filestore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/filestore"
)

// filled writes a file of many counters (several pages), one of them
// named needle, and closes it; it returns the path.
func filled(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hits.db")
	s, err := filestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 16 { // 16 writers: their creates share commits
		wg.Go(func() {
			for i := w; i < 2000; i += 16 {
				if _, err := s.Apply(ctx, counter.Create(fmt.Sprintf("counter-%04d", i), int64(i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := s.Apply(ctx, counter.Create("needle", 12345)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// metas returns the offsets and transaction IDs of the file's two meta
// pages (bbolt's format: a 16-byte page header, then the meta, whose
// transaction ID is at offset 48; pages of 4096 bytes here).
func metas(t *testing.T, data []byte) (offsets [2]int, txids [2]uint64) {
	t.Helper()
	for i := range 2 {
		offsets[i] = i * 4096
		txids[i] = binary.LittleEndian.Uint64(data[offsets[i]+16+48:])
	}
	return offsets, txids
}

// wantDamaged opens path, which must fail with ErrDamaged and a message
// holding want, and leave the file as it was.
func wantDamaged(t *testing.T, path, want string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := filestore.Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open of a damaged file succeeded")
	}
	if !errors.Is(err, filestore.ErrDamaged) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open: %v; want ErrDamaged saying %q", err, want)
	}
	t.Logf("Open: %v", err)
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("a failed Open changed the file (%d bytes before, %d after)", len(before), len(after))
	}
}

// TestDamageDetected damages a closed file in the ways a disk, a copy or
// a person can, and checks that Open refuses it with a message saying
// what is wrong, without touching it.
func TestDamageDetected(t *testing.T) {
	tests := map[string]struct {
		damage func(t *testing.T, data []byte) []byte
		want   string
	}{
		"truncated to half its pages": {
			func(t *testing.T, data []byte) []byte {
				hw := highWater(t, data)
				return data[:hw*4096/2]
			},
			"was truncated",
		},
		"cut short by one page": {
			func(t *testing.T, data []byte) []byte {
				return data[:(highWater(t, data)-1)*4096]
			},
			"was truncated",
		},
		"both meta pages overwritten": {
			func(t *testing.T, data []byte) []byte {
				offs, _ := metas(t, data)
				for _, o := range offs {
					copy(data[o+16:o+80], bytes.Repeat([]byte{0xAB}, 64))
				}
				return data
			},
			"no valid meta page",
		},
		"not a data file": {
			func(t *testing.T, data []byte) []byte {
				return []byte(strings.Repeat("this is not a database\n", 1000))
			},
			"no valid meta page",
		},
		"a bit flipped in a counter's value": {
			func(t *testing.T, data []byte) []byte {
				// Every copy of the needle's value (old copies may
				// linger in free pages): the count's last byte.
				n := 0
				for i := 0; ; {
					j := bytes.Index(data[i:], []byte("needle"))
					if j < 0 {
						break
					}
					data[i+j+len("needle")+7] ^= 0x01
					i += j + 1
					n++
				}
				if n == 0 {
					t.Fatal("needle not found in the file")
				}
				return data
			},
			`the value of "needle" in bucket counters: checksum mismatch`,
		},
		"a torn page (its second half zeroed)": {
			func(t *testing.T, data []byte) []byte {
				// The page that holds the live needle: the last copy
				// in the file is not necessarily it, so tear them all.
				for i := 0; ; {
					j := bytes.Index(data[i:], []byte("needle"))
					if j < 0 {
						break
					}
					page := (i + j) / 4096 * 4096
					clear(data[page+2048 : page+4096])
					i = page + 4096
				}
				return data
			},
			"damaged",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filled(t)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(t, data), 0o600); err != nil {
				t.Fatal(err)
			}
			wantDamaged(t, path, tc.want)
		})
	}
}

// highWater returns the pages in use, as the newest meta page says.
func highWater(t *testing.T, data []byte) int {
	t.Helper()
	offs, txids := metas(t, data)
	o := offs[0]
	if txids[1] > txids[0] {
		o = offs[1]
	}
	return int(binary.LittleEndian.Uint64(data[o+16+40:]))
}

// TestTornLastCommitRollsBack: a meta page torn in its last commit (a
// power cut in the middle of writing it) is not damage: the file opens on
// the transaction before, which was the last one acknowledged, and the
// store says so.
func TestTornLastCommitRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hits.db")
	ctx := context.Background()
	s := open(t, path)
	if _, err := s.Apply(ctx, counter.Create("c", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if _, err := s.Apply(ctx, counter.Increment("c", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offs, txids := metas(t, data)
	newest := 0
	if txids[1] > txids[0] {
		newest = 1
	}
	// The meta page's second half of its 64 bytes never reached the disk.
	clear(data[offs[newest]+16+32 : offs[newest]+16+64])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if c, err := s.Get(ctx, "c"); err != nil || c.Count != 1 {
		t.Errorf("after a torn last commit: Get = %+v, %v; want count 1 (the increment's commit rolled back)", c, err)
	}
	if note := s.Recovered(); !strings.Contains(note, "meta page") {
		t.Errorf("Recovered() = %q, want a note on the meta page", note)
	} else {
		t.Logf("Recovered: %s", note)
	}
	if _, err := s.Apply(ctx, counter.Increment("c", 1)); err != nil {
		t.Errorf("a write after the rollback: %v", err)
	}
}
