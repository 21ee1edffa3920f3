package course_test

import (
	"testing"

	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
)

// BenchmarkLoadBundledCourse is the work done once per published version:
// parse, check and render the whole course.
func BenchmarkLoadBundledCourse(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, problems := course.Load(content.Bundled()); len(problems) > 0 {
			b.Fatal(problems.Error())
		}
	}
}
