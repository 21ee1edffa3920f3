package assign

import (
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one due date in a calendar file: an all-day event on the day.
type Event struct {
	// UID is stable for an assignment, so that a calendar that imports
	// the file again updates the event instead of adding another.
	UID         string
	Day         time.Time // the due day (its date in Helsinki is used)
	Summary     string
	Description string
	URL         string
	Stamp       time.Time // when the assignment was made (DTSTAMP)
}

// WriteICS writes events as an iCalendar file (RFC 5545): lines end in
// CRLF, text values are escaped (backslash, semicolon, comma, newline)
// and lines longer than 75 octets are folded without splitting a UTF-8
// character.
func WriteICS(w io.Writer, name string, events []Event) error {
	var b strings.Builder
	line := func(s string) { b.WriteString(fold(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//tyokyky//assignments//FI")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("X-WR-CALNAME:" + escapeText(name))
	for _, e := range events {
		day := Day(e.Day)
		line("BEGIN:VEVENT")
		line("UID:" + e.UID)
		line("DTSTAMP:" + e.Stamp.UTC().Format("20060102T150405Z"))
		line("DTSTART;VALUE=DATE:" + day.Format("20060102"))
		line("DTEND;VALUE=DATE:" + day.AddDate(0, 0, 1).Format("20060102"))
		line("SUMMARY:" + escapeText(e.Summary))
		if e.Description != "" {
			line("DESCRIPTION:" + escapeText(e.Description))
		}
		if e.URL != "" {
			line("URL:" + e.URL)
		}
		line("TRANSP:TRANSPARENT")
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	_, err := io.WriteString(w, b.String())
	return err
}

// escapeText escapes a TEXT value (RFC 5545 3.3.11).
func escapeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// fold ends a content line with CRLF, folding it at 75 octets (3.1): each
// continuation line begins with a space, and no UTF-8 character is split.
func fold(s string) string {
	var b strings.Builder
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}
