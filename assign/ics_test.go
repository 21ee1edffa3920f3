package assign

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tyokyky/tyokyky/internal/i18n"
)

// The calendar file: CRLF everywhere, text escaped, long lines folded at
// 75 octets without splitting a character, one all-day event a due date
// with a stable UID.
func TestWriteICS(t *testing.T) {
	var b strings.Builder
	long := strings.Repeat("Työkyvyn tuen johtaminen ", 8)
	err := WriteICS(&b, "Määrätyt, opinnot", []Event{{UID: "abc@tyokyky", Day: time.Date(2027, 3, 31, 23, 30, 0, 0, time.UTC), // 1.4. in Helsinki
		Summary: "Moduulit 1; 4, \\ ja rivi\nkaksi", Description: long, URL: "https://example.fi/omat-opinnot", Stamp: time.Date(2027, 3, 1, 10, 0, 0, 0, i18n.Helsinki)}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") || !strings.HasSuffix(out, "END:VCALENDAR\r\n") {
		t.Fatal("a line does not end in CRLF")
	}
	for _, want := range []string{"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", "X-WR-CALNAME:Määrätyt\\, opinnot\r\n", "UID:abc@tyokyky\r\n",
		"DTSTART;VALUE=DATE:20270401\r\n", "DTEND;VALUE=DATE:20270402\r\n", "DTSTAMP:20270301T080000Z\r\n",
		`SUMMARY:Moduulit 1\; 4\, \\ ja rivi\nkaksi` + "\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(l) > 75 || !utf8.ValidString(l) {
			t.Errorf("line of %d octets (valid UTF-8 %v): %q", len(l), utf8.ValidString(l), l)
		}
	}
	// Unfolded, the description is whole.
	unfolded := strings.ReplaceAll(out, "\r\n ", "")
	if !strings.Contains(unfolded, "DESCRIPTION:"+long+"\r\n") {
		t.Errorf("the folded description does not unfold to itself:\n%s", out)
	}
}
