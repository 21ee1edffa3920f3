package course

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testEnv knows two laws, one concept, two media items, two pages and an
// image, as seen from modules/01-osio/01-sivu.md.
func testEnv() Env {
	laws := map[string]*Law{"612/2021": {ID: "612/2021"}, "1301/2014": {ID: "1301/2014"}}
	terms := map[string]*Concept{"tyokyky": {ID: "tyokyky", Term: "työkyky"}}
	media := map[string]*MediaItem{
		"m-video":   {ID: "m-video", Title: "Video", Kind: "video", Minutes: 7, TranscriptHTML: "<p><strong>Anu:</strong> Hei.</p>\n"},
		"m-podcast": {ID: "m-podcast", Title: "Podcast verkostoista", Kind: "audio", Minutes: 9},
	}
	pages := map[string]string{"modules/01-osio/02-toinen.md": "/osiot/osio/toinen", "modules/02-muu/module.md": "/osiot/muu"}
	return Env{
		File:  "modules/01-osio/01-sivu.md",
		Law:   func(id string) (*Law, bool) { l, ok := laws[id]; return l, ok },
		Term:  func(id string) (*Concept, bool) { c, ok := terms[id]; return c, ok },
		Media: func(id string) (*MediaItem, bool) { m, ok := media[id]; return m, ok },
		Page:  func(f string) (string, bool) { u, ok := pages[f]; return u, ok },
		Asset: func(f string) (string, bool) {
			if f == "modules/01-osio/kuvat/kaavio.svg" {
				return "/kurssi/kuvat/0123456789abcdef.svg", true
			}
			return "", false
		},
	}
}

// Every construct of the dialect has a golden file: testdata/golden/X.md
// renders to X.html (run with -update to rewrite after a deliberate change).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.md")
	if len(files) < 9 {
		t.Fatalf("only %d golden inputs", len(files))
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".md")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			r, issues := Render(src, testEnv())
			got := r.HTML
			for _, is := range issues {
				got += "<!-- issue: " + is.Msg + " -->\n"
			}
			out := strings.TrimSuffix(in, ".md") + ".html"
			if *update {
				if err := os.WriteFile(out, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test ./course -run TestGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", in, out, got, want)
			}
		})
	}
}
