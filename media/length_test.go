package media_test

import (
	"context"
	"math"
	"testing"

	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/media"
)

// A media item's minutes are checked against its script at
// course.SpeechWPM; the generator's voice must really speak at that rate,
// so what a learner plays lasts what the time budget says (issue 21).
func TestGeneratedLengthMatchesScript(t *testing.T) {
	if missing := media.Tools(); len(missing) > 0 {
		t.Fatalf("%v not installed: make test installs them", missing)
	}
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	m := c.Media["m2-verkostojohtamisen-podcast"]
	if m == nil {
		t.Fatal("no m2-verkostojohtamisen-podcast in the bundled course")
	}
	g, err := media.Generate(context.Background(), media.Script{ID: m.ID, Title: m.Title, Kind: "audio", Text: m.Script()}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	words := course.SpokenWords(m.Script())
	rate := float64(words) / (g.Duration / 60)
	if math.Abs(rate-course.SpeechWPM) > 0.1*course.SpeechWPM {
		t.Errorf("the voice speaks %d words in %.0f s = %.0f words a minute; media minutes are checked at %d", words, g.Duration, rate, course.SpeechWPM)
	}
	if off := math.Abs(g.Duration/60 - float64(m.Minutes)); off > 1 && off > 0.2*float64(m.Minutes) {
		t.Errorf("%s lasts %.1f min, its minutes say %d", m.ID, g.Duration/60, m.Minutes)
	}
}
