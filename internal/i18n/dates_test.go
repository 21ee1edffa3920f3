package i18n

import (
	"testing"
	"time"
)

func TestDatesPerLanguage(t *testing.T) {
	at := time.Date(2026, 11, 24, 13, 4, 0, 0, time.UTC) // 15.04 in Helsinki (EET)
	summer := time.Date(2026, 7, 1, 21, 30, 0, 0, time.UTC)
	cases := []struct{ lang, date, dateTime, clock string }{
		{"fi", "24.11.2026", "24.11.2026 15.04", "15.04"},
		{"sv", "24.11.2026", "24.11.2026 15.04", "15.04"},
		{"en", "24 November 2026", "24 November 2026 15:04", "15:04"},
		{"de", "24.11.2026", "24.11.2026 15.04", "15.04"},
	}
	for _, c := range cases {
		if got := Date(c.lang, at); got != c.date {
			t.Errorf("Date(%s) = %q, want %q", c.lang, got, c.date)
		}
		if got := DateTime(c.lang, at); got != c.dateTime {
			t.Errorf("DateTime(%s) = %q, want %q", c.lang, got, c.dateTime)
		}
		if got := Clock(c.lang, at); got != c.clock {
			t.Errorf("Clock(%s) = %q, want %q", c.lang, got, c.clock)
		}
	}
	// Summer time: 21.30 UTC is past midnight in Helsinki (EEST, +3).
	if got := DateTime("fi", summer); got != "2.7.2026 00.30" {
		t.Errorf("summer time: %q", got)
	}
}
