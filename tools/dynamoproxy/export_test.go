package dynamoproxy

import "time"

// SetClock makes the throttle read the time from now, so that a test
// decides how much capacity comes back between requests instead of the
// machine's speed deciding it.
func (p *Proxy) SetClock(now func() time.Time) {
	t := p.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	t.now = now
	clear(t.buckets)
}
