package course

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestExamBankProblemsHaveLines(t *testing.T) {
	_, problems := Load(fixtureWith(t, map[string]string{
		"exam/exam.yaml": "per_module: 0\npass_percent: 150\nreview: sometimes\n",
		"exam/02-toinen.yaml": `module: 02-toinen
items:
  - id: t-kaksi-oikein
    type: single
    stem: Kaksi oikeaa?
    options:
      - text: A
        correct: true
      - text: B
        correct: true
  - id: t-tosi
    type: truefalse
    stem: Ei vastausta.
  - id: e-yksi
    type: single
    stem: Sama id kuin ensimmäisessä osiossa.
    options:
      - text: A
        correct: true
      - text: B
  - id: t-outo
    type: essay
    stem: Mikä tyyppi?
  - id: t-pari
    type: matching
    stem: Yksi pari ei riitä.
    pairs:
      - left: A
        right: B
  - id: t-monta
    type: multiple
    stem: Kaikki oikein.
    options:
      - text: A
        correct: true
      - text: B
        correct: true
      - text: C
        correct: true
    colour: red
`,
		"exam/99-ei-ole.yaml":  "module: 99-ei-ole\nitems: []\n",
		"exam/sekalaista.yaml": "x: 1\n",
	}))
	got := problems.Error()
	for _, want := range []string{
		"exam/exam.yaml:1:1: per_module must be 1–50",
		"exam/exam.yaml:2:1: pass_percent must be 1–100",
		"exam/exam.yaml:3:1: review must be",
		"exam/02-toinen.yaml:3:1: item t-kaksi-oikein: a single-choice item has exactly one correct option, not 2",
		"exam/02-toinen.yaml:11:1: item t-tosi: a truefalse item needs answer",
		`exam/02-toinen.yaml:14:1: item id "e-yksi" is already used at exam/01-ensimmainen.yaml:3`,
		`exam/02-toinen.yaml:21:1: item t-outo: type must be single, multiple, truefalse or matching, not "essay"`,
		"exam/02-toinen.yaml:24:1: item t-pari: a matching item has 2–8 pairs, not 1",
		"exam/02-toinen.yaml:40:",
		`exam/99-ei-ole.yaml:1:1: module: no module folder "99-ei-ole"`,
		"exam/sekalaista.yaml:1:1: exam files are exam.yaml and one NN-module.yaml",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}
}

func TestExamBankLoads(t *testing.T) {
	c, problems := Load(os.DirFS("testdata/course"))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	ex := c.Exam
	if ex.Rules.PerModule != 2 || ex.Rules.Attempts != 2 || len(ex.Items) != 6 || len(ex.ByModule["ensimmainen"]) != 3 {
		t.Fatalf("exam = %+v", ex)
	}
	it := ex.ByID["e-yksi"]
	if it.Options[1].ID != "b" || !it.Options[1].Correct || !strings.Contains(it.StemHTML, "<strong>oikein</strong>") || it.Line != 3 {
		t.Fatalf("item = %+v", it)
	}
	// Too few items for the draw is a problem.
	_, problems = Load(fixtureWith(t, map[string]string{"exam/exam.yaml": "per_module: 5\n"}))
	if !strings.Contains(problems.Error(), "module ensimmainen has 3 exam items, fewer than per_module (5)") {
		t.Fatal(problems.Error())
	}
}

// The eligibility rule: every module completed unless exam.yaml says
// none; other values are problems with their line.
func TestExamEligibility(t *testing.T) {
	c, problems := Load(os.DirFS("testdata/course"))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	if c.Exam.Rules.Eligibility != EligibleAllModules {
		t.Fatalf("default eligibility = %q", c.Exam.Rules.Eligibility)
	}
	slugs := func(ms []*Module) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Slug)
		}
		return strings.Join(out, ",")
	}
	if got := slugs(c.ExamMissing(nil)); got != "ensimmainen,toinen" {
		t.Fatalf("nothing studied: missing %q", got)
	}
	now := time.Now()
	records := map[string]*SectionProgress{
		"ensimmainen/alku":    {CompletedAt: &now},
		"ensimmainen/tehtava": {CompletedAt: &now},
		"toinen/jatko":        {Seconds: 900, Scroll: 1}, // read, not completed
	}
	if got := slugs(c.ExamMissing(records)); got != "toinen" {
		t.Fatalf("one module completed: missing %q", got)
	}
	records["toinen/jatko"].CompletedAt = &now
	if got := c.ExamMissing(records); len(got) != 0 {
		t.Fatalf("everything completed: missing %q", slugs(got))
	}
	open, problems := Load(fixtureWith(t, map[string]string{"exam/exam.yaml": "per_module: 2\neligibility: none\n"}))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	if got := open.ExamMissing(nil); len(got) != 0 {
		t.Fatalf("eligibility none: missing %q", slugs(got))
	}
	_, problems = Load(fixtureWith(t, map[string]string{"exam/exam.yaml": "per_module: 2\n\neligibility: half_the_modules\n"}))
	if !strings.Contains(problems.Error(), "exam/exam.yaml:3:1: eligibility must be all_modules") {
		t.Fatal(problems.Error())
	}
}
