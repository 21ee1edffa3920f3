package i18n

import (
	"time"
	_ "time/tzdata" // Helsinki's rules even where the system has no zoneinfo
)

// Helsinki is the time zone of every date and time the platform shows:
// the course is Finnish, and so are its deadlines.
var Helsinki = func() *time.Location {
	l, err := time.LoadLocation("Europe/Helsinki")
	if err != nil { // cannot happen with time/tzdata embedded
		panic("i18n: " + err.Error())
	}
	return l
}()

// layouts are each language's date, date-and-time and clock layouts, as
// Finnish, Finland-Swedish and British readers write them.
var layouts = map[string]struct{ date, dateTime, clock string }{
	"fi": {"2.1.2006", "2.1.2006 15.04", "15.04"},
	"sv": {"2.1.2006", "2.1.2006 15.04", "15.04"},
	"en": {"2 January 2006", "2 January 2006 15:04", "15:04"},
}

func layoutOf(lang string) struct{ date, dateTime, clock string } {
	if l, ok := layouts[lang]; ok {
		return l
	}
	return layouts[Langs[0]]
}

// Date is t's date in Helsinki as lang writes it: 24.11.2026 (fi, sv),
// 24 November 2026 (en). Unknown languages are Finnish.
func Date(lang string, t time.Time) string { return t.In(Helsinki).Format(layoutOf(lang).date) }

// DateTime is t's date and time of day in Helsinki: 24.11.2026 15.04
// (fi, sv), 24 November 2026 15:04 (en).
func DateTime(lang string, t time.Time) string {
	return t.In(Helsinki).Format(layoutOf(lang).dateTime)
}

// Clock is t's time of day in Helsinki: 15.04 (fi, sv), 15:04 (en).
func Clock(lang string, t time.Time) string { return t.In(Helsinki).Format(layoutOf(lang).clock) }
