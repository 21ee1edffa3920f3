package content

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
)

// The course carries its 27 hours (issue 21): deep modules, an applied
// assignment and self-checks in each, an honest time budget, and an exam
// bank whose draw tests every objective.
func TestTheCourseCarriesItsHours(t *testing.T) {
	c, problems := course.Load(Bundled())
	if len(problems) > 0 {
		t.Fatalf("bundled course has problems:\n%s", problems.Error())
	}
	// `content check` is clean: budgets, task minutes, media lengths and
	// objectives included.
	if advice := c.Advice(); len(advice) > 0 {
		t.Errorf("content check reports %d things to fix:\n%s", len(advice), advice.Error())
	}
	if got := c.ComputedMinutes(); got < 26*60 || got > 28*60 {
		t.Errorf("the parts add up to %d min (%.1f h), want 27 h ± 1 h", got, float64(got)/60)
	}
	if got, want := float64(c.TotalMinutes()), c.Meta.WorkloadHours*60; got < want-60 || got > want+60 {
		t.Errorf("declared %.0f min, the front page says %g h", got, c.Meta.WorkloadHours)
	}
	for _, m := range c.Modules {
		words, applied := 0, 0
		if len(m.Sections) < 9 {
			t.Errorf("module %s has %d sections, want at least 9", m.Slug, len(m.Sections))
		}
		for _, s := range m.Sections {
			words += s.TextWords(c)
			for _, tk := range s.Body.Tasks {
				if tk.Applied {
					applied++
				}
			}
			if len(s.Quiz) < 3 {
				t.Errorf("%s/%s has %d self-check items, want 3–5", m.Slug, s.Slug, len(s.Quiz))
			}
		}
		if words < 11000 {
			t.Errorf("module %s has %d words, want at least 11,000", m.Slug, words)
		}
		if applied < 1 {
			t.Errorf("module %s has no applied assignment ({sovellus})", m.Slug)
		}
		// At least two videos or podcasts shown in the module's sections,
		// each with a transcript (its captions are made from the same
		// script by the generator).
		shown := map[string]bool{}
		for _, s := range m.Sections {
			for _, id := range append(append([]string(nil), s.Media...), s.Body.Media...) {
				if it := c.Media[id]; it != nil && strings.TrimSpace(it.TranscriptHTML) != "" {
					shown[id] = true
				}
			}
		}
		if len(shown) < 2 {
			t.Errorf("module %s shows %d media items with a transcript, want at least 2", m.Slug, len(shown))
		}
	}
	mediaMinutes := 0
	for _, it := range c.Media {
		mediaMinutes += it.Minutes
	}
	if mediaMinutes < 90 {
		t.Errorf("the course's media take %d min, want at least 90", mediaMinutes)
	}
}

var giveAway = regexp.MustCompile(`(?i)\b(aina|vain|kokonaan|ei koskaan)\b`)

func TestTheExamBank(t *testing.T) {
	c, problems := course.Load(Bundled())
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	ex := c.Exam
	stems, accordingTo := 0, 0
	keyWords, distractorWords := map[string]int{}, map[string]int{}
	correctCounts := map[int]bool{}
	for _, m := range c.Modules {
		ids := ex.ByModule[m.Slug]
		if len(ids) < 24 {
			t.Errorf("module %s has %d exam items, want at least 24", m.Slug, len(ids))
		}
		perObjective := map[int]int{}
		for _, id := range ids {
			it := ex.ByID[id]
			perObjective[it.Objective]++
			stems++
			if strings.Contains(strings.ToLower(it.Stem), "kurssin mukaan") {
				accordingTo++
			}
			correct := 0
			for _, o := range it.Options {
				for _, w := range giveAway.FindAllString(strings.ToLower(o.Text), -1) {
					if o.Correct {
						keyWords[w]++
					} else {
						distractorWords[w]++
					}
				}
				if o.Correct {
					correct++
				}
			}
			if it.Type == course.ItemMultiple {
				correctCounts[correct] = true
			}
		}
		for i := range m.Objectives {
			if perObjective[i+1] < 3 {
				t.Errorf("module %s: objective %d is tested by %d items, want at least 3", m.Slug, i+1, perObjective[i+1])
			}
		}
	}
	if accordingTo*4 > stems {
		t.Errorf("%d of %d stems say \"kurssin mukaan\", at most a quarter may", accordingTo, stems)
	}
	for w, n := range distractorWords {
		if keyWords[w] < n {
			t.Errorf("%q is in %d wrong options and %d correct ones: a give-away", w, n, keyWords[w])
		}
	}
	if len(correctCounts) < 2 {
		t.Errorf("multiple-answer items all have the same number of correct options: %v", correctCounts)
	}

	// Over 1,000 draws every attempt tests every objective of every module.
	var modules []string
	for _, m := range c.Modules {
		modules = append(modules, m.Slug)
	}
	for n := 0; n < 1000; n++ {
		tested := map[string]map[int]bool{}
		for _, d := range exam.Draw(ex, modules) {
			if tested[d.Module] == nil {
				tested[d.Module] = map[int]bool{}
			}
			tested[d.Module][ex.ByID[d.ID].Objective] = true
		}
		for _, m := range c.Modules {
			for i := range m.Objectives {
				if !tested[m.Slug][i+1] {
					t.Fatalf("draw %d does not test objective %d of module %s", n, i+1, m.Slug)
				}
			}
		}
	}
}
