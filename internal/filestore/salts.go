package filestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

var _ uniques.Salts = (*Store)(nil)

// SaltsSuffix names the salts' file: the data file's path with it.
const SaltsSuffix = ".salt"

// The salts' file holds the salts of the days that still need one (today,
// and yesterday for uniques.SaltMargin): the file's mark, then for each
// day its start in Unix seconds (8 bytes) and its salt, then a CRC-32C of
// all that. It lives beside the data file, not in it, so that neither a
// snapshot (WriteSnapshot, whose copies a backup may keep for long) nor an
// export carries a salt; it is replaced whole (a temporary file, fsync,
// rename, fsync of the directory) and removed when no day needs a salt.
var saltsMark = []byte("hitcounter-salts-v1\n")

const saltEntrySize = 8 + uniques.SaltSize

// salts is the store's salts of unique visitors: those of its file, kept
// in memory too; mu also serializes the file's changes.
type salts struct {
	mu     sync.Mutex
	days   map[int64]uniques.Salt // by the day's start, Unix seconds
	timer  *time.Timer            // drops the salts past their day and margin
	closed bool
}

// saltsPath returns the path of the salts' file of the data file path.
func saltsPath(path string) string { return path + SaltsSuffix }

// openSalts reads the salts' file, dropping the salts past their day and
// margin; a file that cannot be read or is damaged is set aside (its
// salts are forgotten: the day's visitors may be counted again) and the
// returned note says so.
func (s *Store) openSalts() (note string, err error) {
	s.salts.days = map[int64]uniques.Salt{}
	data, err := os.ReadFile(saltsPath(s.path))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil
	case err == nil:
		err = decodeSalts(data, s.salts.days)
	}
	if err != nil {
		clear(s.salts.days)
		if rerr := removeSync(saltsPath(s.path)); rerr != nil {
			return "", fmt.Errorf("filestore: %s: %w", saltsPath(s.path), rerr)
		}
		note = fmt.Sprintf("the salts' file %s was unreadable (%v) and was removed: today's visitors so far may be counted again", saltsPath(s.path), err)
	}
	s.salts.mu.Lock()
	defer s.salts.mu.Unlock()
	return note, s.dropSalts(false)
}

func decodeSalts(data []byte, days map[int64]uniques.Salt) error {
	body, ok := bytes.CutPrefix(data, saltsMark)
	if !ok || len(body) < 4 || (len(body)-4)%saltEntrySize != 0 {
		return errors.New("not a salts' file")
	}
	body, sum := body[:len(body)-4], binary.BigEndian.Uint32(body[len(body)-4:])
	if crc32.Checksum(data[:len(data)-4], castagnoli) != sum {
		return errChecksum
	}
	for ; len(body) > 0; body = body[saltEntrySize:] {
		days[int64(binary.BigEndian.Uint64(body))] = uniques.Salt(body[8:saltEntrySize])
	}
	return nil
}

// Salt implements uniques.Salts: the salt of the UTC day that starts at
// day, made (random) and written to the salts' file, on disk, before it is
// first returned, so that a restart does not count the day's visitors
// again. The salt is deleted once its day has ended more than
// uniques.SaltMargin ago, by a timer of the store or at the next call or
// Open after that. It fails as Unavailable if the file cannot be written.
func (s *Store) Salt(ctx context.Context, day time.Time) (uniques.Salt, error) {
	if err := ctx.Err(); err != nil {
		return uniques.Salt{}, err
	}
	key := day.Unix()
	ss := &s.salts
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.closed && s.saltExpired() { // the timer's work, if it is late
		if err := s.dropSalts(false); err != nil {
			return uniques.Salt{}, counter.UnavailableError(err)
		}
	}
	if salt, ok := ss.days[key]; ok {
		return salt, nil
	}
	if ss.closed {
		return uniques.Salt{}, counter.UnavailableError(errClosed)
	}
	var salt uniques.Salt
	_, _ = rand.Read(salt[:]) // crypto/rand.Read never fails
	ss.days[key] = salt
	if err := s.dropSalts(true); err != nil { // writes the file, with the new salt
		delete(ss.days, key)
		return uniques.Salt{}, counter.UnavailableError(err)
	}
	return salt, nil
}

// dropSalts forgets the salts whose day ended more than
// uniques.SaltMargin ago, writes the file as the others are if that or
// the caller (changed) changed them, and sets the timer to the next
// salt's end. s.salts.mu is held.
func (s *Store) dropSalts(changed bool) error {
	ss := &s.salts
	now := s.now()
	next := time.Time{}
	for d := range ss.days {
		end := saltEnd(d)
		if !end.After(now) {
			delete(ss.days, d)
			changed = true
		} else if next.IsZero() || end.Before(next) {
			next = end
		}
	}
	if changed {
		if err := s.writeSalts(); err != nil {
			return err
		}
	}
	if ss.timer != nil {
		ss.timer.Stop()
		ss.timer = nil
	}
	if !next.IsZero() {
		ss.timer = time.AfterFunc(next.Sub(now), func() {
			ss.mu.Lock()
			defer ss.mu.Unlock()
			if !ss.closed {
				_ = s.dropSalts(false) // failing, the next call or Open tries again
			}
		})
	}
	return nil
}

// saltExpired reports whether a salt kept is past its end; s.salts.mu is
// held.
func (s *Store) saltExpired() bool {
	now := s.now()
	for d := range s.salts.days {
		if !saltEnd(d).After(now) {
			return true
		}
	}
	return false
}

// saltEnd is when the salt of the day that starts at day (Unix seconds)
// is deleted.
func saltEnd(day int64) time.Time {
	return uniques.SaltExpires(time.Unix(day, 0))
}

// writeSalts replaces the salts' file with the salts in memory, or
// removes it if there are none; either is on disk when it returns.
func (s *Store) writeSalts() error {
	path := saltsPath(s.path)
	if len(s.salts.days) == 0 {
		return removeSync(path)
	}
	data := bytes.Clone(saltsMark)
	for _, d := range slices.Sorted(maps.Keys(s.salts.days)) {
		salt := s.salts.days[d]
		data = binary.BigEndian.AppendUint64(data, uint64(d))
		data = append(data, salt[:]...)
	}
	data = binary.BigEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// removeSync removes path, if it exists, and syncs its directory.
func removeSync(path string) error {
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// closeSalts stops the timer; later calls of Salt for a day not in
// memory fail.
func (s *Store) closeSalts() {
	s.salts.mu.Lock()
	defer s.salts.mu.Unlock()
	s.salts.closed = true
	if s.salts.timer != nil {
		s.salts.timer.Stop()
	}
}
