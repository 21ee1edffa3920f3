// Package retry holds the waits of the outboxes that call other servers
// (scores to learning platforms, statements to learning record stores):
// the back-off between failed tries and the wait a server asks for.
package retry

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is the wait after the try-th failed try: from first, doubling
// up to an hour, with jitter (between half and all of it).
func Backoff(first time.Duration, try int) time.Duration {
	d := first
	for i := 1; i < try && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d/2 + rand.N(d/2+1)
}

// After is the wait a Retry-After header asks for (RFC 9110 10.2.3:
// seconds, or an HTTP date), from now; 0 when it asks for none.
func After(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
