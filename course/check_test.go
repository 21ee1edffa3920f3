package course

import (
	"os"
	"strings"
	"testing"
)

// TestCheckReportsPositions loads a course with a problem of every kind
// and compares the report, positions included, with broken.golden.
func TestCheckReportsPositions(t *testing.T) {
	_, problems := Load(os.DirFS("testdata/broken"))
	var b strings.Builder
	for _, p := range problems {
		b.WriteString(p.String() + "\n")
	}
	got := b.String()
	const golden = "testdata/broken.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("problems differ from %s:\n--- got ---\n%s--- want ---\n%s", golden, got, want)
	}
	// The positions that matter most, spelled out.
	for _, line := range []string{
		"modules/01-osio/01-eka.md:4:1: unknown key \"colour\"",
		"modules/01-osio/01-eka.md:8:16: broken link \"03-ei-ole.md\"",
		"modules/01-osio/01-eka.md:8:40: unknown law 1/1999",
		"modules/01-osio/01-eka.md:8:64: unknown glossary concept \"ei-ole\"",
		"modules/01-osio/01-eka.md:10:1: unknown media id \"ei-ole\"",
		"modules/01-osio/01-eka.md:12:5: image without alt text",
		"modules/01-osio/01-eka.md:14:1: raw HTML is not allowed",
		"modules/01-osio/01-eka.md:16:1: :::tehtava is not closed",
		"modules/01-osio/02-toka.md:2:1: missing key \"minutes\"",
		"modules/01-osio/02-toka.md:5:1: figure without alt text",
		"modules/01-osio/04-eka.md:1:1: duplicate section slug \"eka\"",
		"modules/02-osio:1:1: duplicate module slug \"osio\"",
		"course.yaml:3:1: cannot unmarshal !!str `yksi` into float64",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("report lacks %q", line)
		}
	}
}

func TestSplitFrontmatterLines(t *testing.T) {
	front, body, line, err := SplitFrontmatter([]byte("---\na: 1\nb: 2\n---\nbody\n"))
	if err != nil || string(front) != "a: 1\nb: 2\n" || string(body) != "body\n" || line != 5 {
		t.Fatalf("front %q body %q line %d err %v", front, body, line, err)
	}
	if _, _, _, err := SplitFrontmatter([]byte("---\na: 1\n")); err == nil {
		t.Fatal("unclosed frontmatter accepted")
	}
}
