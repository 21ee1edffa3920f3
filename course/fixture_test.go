package course

import (
	"os"
	"testing"
	"testing/fstest"

	"github.com/tyokyky/tyokyky/internal/testenv"
)

// fixtureWith is the test course with some files replaced (or removed,
// with an empty string).
func fixtureWith(t testing.TB, replace map[string]string) fstest.MapFS {
	return testenv.CourseFixture(t, replace)
}

func readFixture(t testing.TB, p string) string { return testenv.ReadCourseFixture(t, p) }

func TestFixtureCourseIsValid(t *testing.T) {
	c, problems := Load(os.DirFS("testdata/course"))
	if len(problems) > 0 {
		t.Fatalf("fixture has problems:\n%s", problems.Error())
	}
	if len(c.Modules) != 2 || len(c.Modules[0].Sections) != 2 || c.TotalMinutes() != 90 {
		t.Fatalf("fixture = %s", c.Summary())
	}
}
