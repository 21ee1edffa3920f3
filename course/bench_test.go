package course_test

import (
	"strings"
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

// BenchmarkStudioPreviewLongSection is the studio's preview of the
// longest section while an author types: the whole course loaded with the
// edited text in place (so the HTML and the problems are the learners'
// and the publisher's own).
func BenchmarkStudioPreviewLongSection(b *testing.B) {
	tree := bundledTree(b)
	longest, size := "", 0
	for p, f := range tree {
		if strings.HasPrefix(p, "modules/") && strings.HasSuffix(p, ".md") && !strings.HasSuffix(p, "module.md") && len(f.Data) > size {
			longest, size = p, len(f.Data)
		}
	}
	text := string(tree[longest].Data) + "\nUusi kappale.\n"
	b.Logf("%s: %d bytes", longest, len(text))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, problems := course.Load(course.WithFile(tree, longest, []byte(text))); len(problems) > 0 {
			b.Fatal(problems.Error())
		}
	}
}

// BenchmarkRenameModuleChecked is the work of the studio's module rename
// before anything is written: the changes worked out over the whole tree
// (files moved, references and links rewritten, redirects) and the course
// checked with them.
func BenchmarkRenameModuleChecked(b *testing.B) {
	tree := bundledTree(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ch, err := course.RenameModule(tree, "monialainen-tyo", "monialaisuus")
		if err != nil {
			b.Fatal(err)
		}
		if _, problems := course.Load(course.Apply(tree, ch)); len(problems) > 0 {
			b.Fatal(problems.Error())
		}
	}
}
