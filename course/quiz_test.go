package course

import (
	"strings"
	"testing"
)

const appliedTask = `---
title: Tehtävä
minutes: 30
completion: task
---
## Tehtävä

:::tehtava[Kartoita oma polku]{vastaus sovellus minuutit=150}
Piirrä yksikkösi polku.

:::ohje
Aloita tunnistamisesta.
:::
:::malli
Hyvä vastaus nimeää vastuut.
:::
:::arviointi
| Kriteeri | Alkuvaiheessa | Hyvä | Erinomainen |
| --- | --- | --- | --- |
| Vastuut | puuttuvat | nimetty | nimetty ja sovittu |
:::
:::
`

func TestTaskMinutesAndTheAppliedAssignment(t *testing.T) {
	c, problems := Load(fixtureWith(t, map[string]string{"modules/01-ensimmainen/02-tehtava.md": appliedTask}))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	s := c.Modules[0].Sections[1]
	if len(s.Body.Tasks) != 1 || s.Body.Tasks[0].Minutes != 150 || !s.Body.Tasks[0].Applied || !s.Body.Tasks[0].Answer {
		t.Fatalf("tasks = %+v", s.Body.Tasks)
	}
	for _, want := range []string{`class="task task-applied"`, "Soveltava tehtävä", "(150 min)", "Esimerkki hyvästä vastauksesta", "Itsearviointi", "<table>", AnswerSlot(s.Body.Tasks[0].ID)} {
		if !strings.Contains(s.Body.HTML, want) {
			t.Errorf("applied task's HTML lacks %q:\n%s", want, s.Body.HTML)
		}
	}
	// What the checker refuses, and says why.
	for body, want := range map[string]string{
		":::tehtava[T]{vastaus minuutit=puoli}\nx\n:::\n":                         "minuutit must be the task's time in whole minutes",
		":::tehtava[T]{vastaus kesto=5}\nx\n:::\n":                                `unknown task option "kesto"`,
		":::tehtava[T]{sovellus minuutit=120}\nx\n:::ohje\na\n:::\n:::\n":         "add vastaus",
		":::tehtava[T]{vastaus sovellus minuutit=20}\nx\n:::\n":                   "takes hours, not 20 minutes",
		":::tehtava[T]{vastaus sovellus minuutit=120}\nx\n:::ohje\na\n:::\n:::\n": "needs a :::malli block",
		":::malli\nx\n:::\n": ":::malli belongs inside a :::tehtava block",
	} {
		_, problems := Load(fixtureWith(t, map[string]string{"modules/01-ensimmainen/02-tehtava.md": "---\ntitle: T\nminutes: 30\n---\n" + body}))
		if !strings.Contains(problems.Error(), want) {
			t.Errorf("%q: problems %q, want %q", body, problems.Error(), want)
		}
	}
}

const quizFile = `module: 01-ensimmainen
sections:
  - section: 01-alku
    items:
      - id: t-alku-yksi
        type: single
        stem: Mikä pitää paikkansa?
        options:
          - text: Tämä
            correct: true
            feedback: Oikein.
          - text: Tuo
            feedback: Ei.
      - id: t-alku-kaksi
        type: truefalse
        stem: Väite.
        answer: true
      - id: t-alku-kolme
        type: matching
        stem: Yhdistä.
        pairs:
          - left: A
            right: "1"
          - left: B
            right: "2"
`

func TestSelfChecksAndTheTimeBudget(t *testing.T) {
	c, problems := Load(fixtureWith(t, map[string]string{"quizzes/01-ensimmainen.yaml": quizFile, "modules/01-ensimmainen/02-tehtava.md": appliedTask}))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	alku, tehtava := c.Modules[0].Sections[0], c.Modules[0].Sections[1]
	if len(alku.Quiz) != 3 || alku.Quiz[0].ID != "t-alku-yksi" || alku.Quiz[0].Options[0].ID != "a" || len(tehtava.Quiz) != 0 {
		t.Fatalf("self-checks = %v / %v", alku.Quiz, tehtava.Quiz)
	}
	b := alku.Budget(c)
	if alku.TextWords(c) >= alku.Body.Words || len(alku.Body.Media) == 0 {
		t.Fatalf("alku shows a video: its transcript is not the section's text (%d of %d words)", alku.TextWords(c), alku.Body.Words)
	}
	wantReading := (alku.TextWords(c) + ReadingWPM - 1) / ReadingWPM
	if b.Reading != wantReading || b.Quiz != 5 || b.Tasks != 0 { // 3 × 1.5 min, rounded up
		t.Errorf("budget of alku = %+v (words %d)", b, alku.Body.Words)
	}
	if tb := tehtava.Budget(c); tb.Tasks != 150 {
		t.Errorf("budget of tehtava = %+v", tb)
	}
	if got, want := c.Modules[0].Budget(c).Total(), b.Total()+tehtava.Budget(c).Total(); got != want {
		t.Errorf("module budget %d, want %d", got, want)
	}
	if c.ComputedMinutes() <= c.Meta.ExamMinutes {
		t.Errorf("computed minutes %d", c.ComputedMinutes())
	}
	// The tehtava section declares 30 minutes for 150 minutes of work:
	// advice, not a problem that stops a publication.
	advice := c.Advice().Error()
	if !strings.Contains(advice, "02-tehtava.md:2:1: minutes: the section says 30, its parts add up to") {
		t.Errorf("advice = %s", advice)
	}

	// Self-check files are checked like exam items.
	for file, want := range map[string]string{
		strings.Replace(quizFile, "answer: true", "answer: true\n        objective: 1", 1): "belongs to exam items",
		strings.Replace(quizFile, "t-alku-kaksi", "t-alku-yksi", 1):                        `item id "t-alku-yksi" is already used`,
		strings.Replace(quizFile, "t-alku-kaksi", "e-yksi", 1):                             "is an exam item's",
		strings.Replace(quizFile, "type: truefalse", "type: essee", 1):                     "type must be single",
	} {
		_, problems := Load(fixtureWith(t, map[string]string{"quizzes/01-ensimmainen.yaml": file}))
		if !strings.Contains(problems.Error(), want) {
			t.Errorf("problems %q, want %q", problems.Error(), want)
		}
	}
	// A self-check of a section that is not there (archived, say) is
	// advice; a section may be named by its slug too.
	c2, problems := Load(fixtureWith(t, map[string]string{"quizzes/01-ensimmainen.yaml": strings.Replace(quizFile, "section: 01-alku", "section: 09-ei-ole", 1)}))
	if len(problems) > 0 || !strings.Contains(c2.Advice().Error(), "no section 09-ei-ole in modules/01-ensimmainen") {
		t.Errorf("problems %q, advice %q", problems.Error(), c2.Advice().Error())
	}
	c3, problems := Load(fixtureWith(t, map[string]string{"quizzes/01-ensimmainen.yaml": strings.Replace(quizFile, "section: 01-alku", "section: alku", 1)}))
	if len(problems) > 0 || len(c3.Modules[0].Sections[0].Quiz) != 3 {
		t.Errorf("by slug: problems %q", problems.Error())
	}
	_, problems = Load(fixtureWith(t, map[string]string{"quizzes/01-ensimmainen.yaml": strings.Split(quizFile, "      - id: t-alku-kolme")[0]}))
	if !strings.Contains(problems.Error(), "a self-check has 3–5 items, not 2") {
		t.Errorf("problems %q", problems.Error())
	}
}

func TestExamObjectives(t *testing.T) {
	bank := readFixture(t, "exam/01-ensimmainen.yaml")
	_, problems := Load(fixtureWith(t, map[string]string{"exam/01-ensimmainen.yaml": strings.Replace(bank, "difficulty: 1", "difficulty: 1\n    objective: 3", 1)}))
	if !strings.Contains(problems.Error(), "objective 3: module ensimmainen has 1 objectives") {
		t.Errorf("problems %q", problems.Error())
	}
	c, problems := Load(fixtureWith(t, nil))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	advice := c.Advice().Error()
	for _, want := range []string{"item e-yksi: objective: name the module objective the item tests (1–1)", "objective 1 of module ensimmainen is tested by no exam item"} {
		if !strings.Contains(advice, want) {
			t.Errorf("advice lacks %q:\n%s", want, advice)
		}
	}
}

func TestSpokenWords(t *testing.T) {
	script := "*Kuvassa on toimisto.*\n\n**Kertoja:** Yksi kaksi kolme.\n\n## Väliotsikko\n\n**Anu Lehto:** Neljä viisi.\n\nKuusi.\n"
	if n := SpokenWords(script); n != 6 {
		t.Errorf("SpokenWords = %d, want 6", n)
	}
}

// Renaming or moving a section keeps its self-check; archiving it leaves
// the self-check as advice.
func TestSelfChecksFollowStructureChanges(t *testing.T) {
	tree := fixtureWith(t, map[string]string{"quizzes/01-ensimmainen.yaml": quizFile})
	ch, err := RenameSection(tree, "ensimmainen", "alku", "aloitus")
	if err != nil {
		t.Fatal(err)
	}
	renamed := Apply(tree, ch)
	c, problems := Load(renamed)
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	if s, ok := c.Modules[0].Section("aloitus"); !ok || len(s.Quiz) != 3 {
		t.Fatalf("after the rename: %v", s)
	}
	ch, err = MoveSection(renamed, "ensimmainen", "aloitus", 1)
	if err != nil {
		t.Fatal(err)
	}
	c, problems = Load(Apply(renamed, ch))
	if s, ok := c.Modules[0].Section("aloitus"); len(problems) > 0 || !ok || len(s.Quiz) != 3 {
		t.Fatalf("after the move: %v %v", problems, s)
	}
}
