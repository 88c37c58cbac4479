package uniques

import (
	"context"
	"crypto/rand"
	"sync"
	"time"
)

// SaltSize is the size of a day's salt.
const SaltSize = 32

// Salt is one UTC day's random salt.
type Salt [SaltSize]byte

// SaltMargin is how long after its day a salt may still be kept: requests
// answered just after midnight that started before it, and the clocks of
// several processes that differ a little. Past it, a salt is deleted.
const SaltMargin = time.Hour

// SaltExpires is when the salt of the UTC day that starts at day is to be
// deleted: the day's end plus SaltMargin.
func SaltExpires(day time.Time) time.Time { return day.Add(24*time.Hour + SaltMargin) }

// Salts gives the salt of a UTC day: the same to every caller, for as long
// as it is kept; random, never logged nor answered.
type Salts interface {
	// Salt returns the salt of the UTC day that starts at day, making it
	// if it does not exist yet.
	Salt(ctx context.Context, day time.Time) (Salt, error)
}

// MemorySalts keeps each day's salt in the process's memory only, and
// forgets it once its day has ended more than SaltMargin before the day
// asked for: the salts of one process (the standalone server's). The zero
// value is ready to use.
type MemorySalts struct {
	mu    sync.Mutex
	salts map[int64]Salt
}

// Salt implements Salts.
func (m *MemorySalts) Salt(_ context.Context, day time.Time) (Salt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := day.Unix()
	if s, ok := m.salts[key]; ok {
		return s, nil
	}
	if m.salts == nil {
		m.salts = make(map[int64]Salt)
	}
	for d := range m.salts { // the days that ended more than the margin before
		if SaltExpires(time.Unix(d, 0)).Before(day) {
			delete(m.salts, d)
		}
	}
	var s Salt
	_, _ = rand.Read(s[:]) // crypto/rand.Read never fails
	m.salts[key] = s
	return s, nil
}

// Kept returns the number of days whose salts m holds.
func (m *MemorySalts) Kept() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.salts)
}

// SaltFunc makes a Salts of a function: what tests inject, so that the
// visitors of a day, and so the sketches' estimates, are the same on every
// run.
type SaltFunc func(day time.Time) Salt

// Salt implements Salts.
func (f SaltFunc) Salt(_ context.Context, day time.Time) (Salt, error) { return f(day), nil }
