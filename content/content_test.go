package content

import (
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/course"
)

// The bundled course must load without a single problem (the server
// refuses to start otherwise), and it must be a whole course: four
// modules of real text, tasks whose answers are saved, figures, media with
// transcripts, laws and concepts, and a time budget of 27 hours.
func TestBundledCourse(t *testing.T) {
	c, problems := course.Load(Bundled())
	if len(problems) > 0 {
		t.Fatalf("bundled course has %d problems:\n%s", len(problems), problems.Error())
	}
	if len(c.Modules) != 4 {
		t.Fatalf("%d modules, want 4", len(c.Modules))
	}
	total := c.TotalMinutes()
	if total < 27*60-30 || total > 27*60+30 {
		t.Errorf("time budget %d min, want 27 h ± 30 min", total)
	}
	for _, m := range c.Modules {
		tasks, figures, media, laws := 0, 0, 0, 0
		if len(m.Sections) < 5 {
			t.Errorf("module %s has %d sections, want at least 5", m.Slug, len(m.Sections))
		}
		if m.Intro.Words < 150 {
			t.Errorf("module %s: introduction has %d words", m.Slug, m.Intro.Words)
		}
		for _, s := range m.Sections {
			if s.Body.Words < 400 {
				t.Errorf("%s/%s: %d words, want at least 400", m.Slug, s.Slug, s.Body.Words)
			}
			for _, tk := range s.Body.Tasks {
				if tk.Answer {
					tasks++
				}
			}
			figures += strings.Count(s.Body.HTML, `<figure class="figure">`)
			media += len(s.Body.Media)
			laws += len(s.Body.Laws)
			if s.Minutes <= 0 {
				t.Errorf("%s/%s has no minutes", m.Slug, s.Slug)
			}
		}
		if tasks < 2 {
			t.Errorf("module %s has %d learning tasks with saved answers, want at least 2", m.Slug, tasks)
		}
		if figures < 1 {
			t.Errorf("module %s has no figure", m.Slug)
		}
		if media < 1 {
			t.Errorf("module %s embeds no video or podcast", m.Slug)
		}
		if laws < 1 {
			t.Errorf("module %s links no law", m.Slug)
		}
	}
	// Every transcript is real text, and every law of the legislation table
	// belongs to a module.
	for id, m := range c.Media {
		if words := len(strings.Fields(m.TranscriptHTML)); words < 300 {
			t.Errorf("media %s: transcript of %d words", id, words)
		}
	}
	for _, l := range c.Laws {
		if len(l.Modules) == 0 || l.SummaryHTML == "" {
			t.Errorf("law %s lacks modules or a summary", l.ID)
		}
	}
	if len(c.Concepts) < 40 {
		t.Errorf("%d glossary concepts, want at least 40", len(c.Concepts))
	}
}
