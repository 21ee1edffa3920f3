package retry

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffAndAfter(t *testing.T) {
	for try, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 20: time.Hour} {
		for range 20 {
			if d := Backoff(time.Minute, try); d < want/2 || d > want {
				t.Fatalf("try %d: %s, want %s/2..%s", try, d, want, want)
			}
		}
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "120": 2 * time.Minute, " 5 ": 5 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second, now.Add(-time.Hour).Format(http.TimeFormat): 0} {
		if got := After(v, now); got != want {
			t.Errorf("After(%q) = %s, want %s", v, got, want)
		}
	}
}
