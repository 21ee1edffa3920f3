package account

import (
	"sync"
	"time"
)

// Limiter counts attempts per key (an IP address or an account) and, past
// the allowance, refuses for a delay that doubles with each further
// failure, up to Max. A success resets the key. It is kept in memory per
// instance: behind a load balancer every instance limits on its own.
type Limiter struct {
	Allow  int           // failures allowed before delays start
	Window time.Duration // failures older than this are forgotten
	Base   time.Duration // first delay
	Max    time.Duration // longest delay

	mu   sync.Mutex
	keys map[string]*attempts
	now  func() time.Time
}

type attempts struct {
	failures int
	first    time.Time
	until    time.Time
}

// NewLimiter makes a limiter.
func NewLimiter(allow int, window, base, max time.Duration) *Limiter {
	return &Limiter{Allow: allow, Window: window, Base: base, Max: max, keys: map[string]*attempts{}, now: time.Now}
}

// Wait tells how long key must still wait; zero means go ahead.
func (l *Limiter) Wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.keys[key]
	if a == nil {
		return 0
	}
	now := l.now()
	if now.Sub(a.first) > l.Window && now.After(a.until) {
		delete(l.keys, key)
		return 0
	}
	if now.Before(a.until) {
		return a.until.Sub(now)
	}
	return 0
}

// Fail records a failed attempt.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	a := l.keys[key]
	if a == nil || (now.Sub(a.first) > l.Window && now.After(a.until)) {
		a = &attempts{first: now}
		l.keys[key] = a
	}
	a.failures++
	if over := a.failures - l.Allow; over > 0 {
		d := l.Base << min(over-1, 20)
		if d > l.Max || d <= 0 {
			d = l.Max
		}
		a.until = now.Add(d)
	}
	if len(l.keys) > 100_000 { // bound memory under a flood of keys
		for k, v := range l.keys {
			if now.Sub(v.first) > l.Window && now.After(v.until) {
				delete(l.keys, k)
			}
		}
	}
}

// Succeed forgets a key's failures.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}
