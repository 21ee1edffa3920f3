package content

import (
	"testing"

	"github.com/tyokyky/tyokyky/course"
)

// The bundled course must load without a single problem: the server
// refuses to start otherwise.
func TestBundledCourseIsValid(t *testing.T) {
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
		tasks := 0
		if len(m.Sections) < 5 {
			t.Errorf("module %s has %d sections", m.Slug, len(m.Sections))
		}
		for _, s := range m.Sections {
			tasks += len(s.Body.Tasks)
			t.Logf("%s/%s: %d words", m.Slug, s.Slug, s.Body.Words)
		}
		if tasks < 2 {
			t.Errorf("module %s has %d learning tasks", m.Slug, tasks)
		}
	}
}
