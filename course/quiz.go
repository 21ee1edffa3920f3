package course

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"strings"
)

// A self-check (itsetesti) is a section's short quiz: a few items of the
// exam's kinds, answered as often as the learner likes, with feedback at
// once and no grade. Its items live in quizzes/NN-module.yaml, apart from
// the exam bank:
//
//	module: 01-tyokyvyn-tuki
//	sections:
//	  - section: 02-palvelupolku     # the section's file name without .md
//	    items:
//	      - id: t1-palvelupolku-vaiheet
//	        type: single
//	        …                        # as in exam/NN-module.yaml

// QuizMinutesPerItem is what a self-check item takes in the time budget.
const QuizMinutesPerItem = 1.5

var (
	quizFileRE      = regexp.MustCompile(`^(\d\d-[a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$`)
	sectionNumberRE = regexp.MustCompile(`^\d+-`)
)

// loadQuizzes reads quizzes/ when it exists and gives each section its
// self-check items.
func loadQuizzes(fsys fs.FS, c *Course, read func(string) ([]byte, bool), ps *Problems) {
	entries, err := fs.ReadDir(fsys, "quizzes")
	if err != nil {
		return
	}
	ids := map[string]*ExamItem{}
	for _, e := range entries {
		p := "quizzes/" + e.Name()
		if e.IsDir() {
			continue
		}
		m := quizFileRE.FindStringSubmatch(e.Name())
		if m == nil {
			ps.add(p, 1, 1, "self-check files are one NN-module.yaml per module, named as the module's folder")
			continue
		}
		if data, ok := read(p); ok {
			loadQuizFile(p, m[1], data, c, ids, ps)
		}
	}
}

func loadQuizFile(p, dir string, data []byte, c *Course, ids map[string]*ExamItem, ps *Problems) {
	var doc struct {
		Module   string `yaml:"module" req:"1"`
		Sections []struct {
			Section string      `yaml:"section" req:"1"`
			Items   []*ExamItem `yaml:"items" req:"1"`
		} `yaml:"sections" req:"1"`
	}
	*ps = append(*ps, decodeStrict(p, data, 1, &doc)...)
	if doc.Module != dir {
		ps.add(p, 1, 1, "module: %q does not match the file name (%s.yaml)", doc.Module, dir)
	}
	var mod *Module
	for _, m := range append(append([]*Module(nil), c.Modules...), c.Hidden...) {
		if m.Dir == "modules/"+dir {
			mod = m
		}
	}
	if mod == nil {
		ps.add(p, 1, 1, "module: no module folder %q in modules/", dir)
		return
	}
	text := string(data)
	lineOf := func(needle string) int {
		if i := strings.Index(text, needle); i >= 0 {
			return strings.Count(text[:i], "\n") + 1
		}
		return 1
	}
	for _, qs := range doc.Sections {
		// A section is named by its file name or its slug: moving a section
		// (which renumbers its file) keeps its self-check.
		var sec *Section
		want := sectionNumberRE.ReplaceAllString(qs.Section, "")
		for _, s := range mod.Sections {
			if s.Slug == want {
				sec = s
			}
		}
		line := lineOf("section: " + qs.Section)
		if sec == nil {
			// Advice, not a problem: archiving a section leaves its
			// self-check behind until an author removes it.
			c.quizOrphans = append(c.quizOrphans, Problem{File: p, Line: line, Col: 1, Msg: fmt.Sprintf("section: no section %s in %s: remove its self-check or fix the name", qs.Section, mod.Dir)})
			continue
		}
		if len(sec.Quiz) > 0 {
			ps.add(p, line, 1, "section %s has its self-check items already", qs.Section)
			continue
		}
		if n := len(qs.Items); n < 3 || n > 5 {
			ps.add(p, line, 1, "a self-check has 3–5 items, not %d", n)
		}
		for _, it := range qs.Items {
			if it == nil {
				ps.add(p, line, 1, "an empty item")
				continue
			}
			it.File, it.Module, it.Line = p, mod.Slug, lineOf("id: "+it.ID)
			checkItem(it, ps)
			if it.Objective != 0 {
				ps.add(p, it.Line, 1, "item %s: objective: belongs to exam items, not to self-checks", it.ID)
			}
			if prev, dup := ids[it.ID]; dup {
				ps.add(p, it.Line, 1, "item id %q is already used at %s:%d", it.ID, prev.File, prev.Line)
				continue
			}
			if c.Exam != nil && c.Exam.ByID[it.ID] != nil {
				ps.add(p, it.Line, 1, "item id %q is an exam item's: self-checks have their own items", it.ID)
				continue
			}
			r, issues := Render([]byte(it.Stem), c.envWithoutLinks(p))
			for _, is := range issues {
				ps.add(p, it.Line, 1, "stem: %s", is.Msg)
			}
			it.StemHTML = r.HTML
			ids[it.ID] = it
			sec.Quiz = append(sec.Quiz, it)
		}
	}
}

// checkQuizRules: a section completed by its self-check must have one.
func checkQuizRules(c *Course, ps *Problems) {
	for _, m := range c.Modules {
		for _, s := range m.Sections {
			if s.Completion == CompleteOnQuiz && len(s.Quiz) == 0 {
				ps.add(s.File, 2, 1, "completion: quiz needs the section's self-check in quizzes/%s.yaml", strings.TrimPrefix(m.Dir, "modules/"))
			}
		}
	}
}

// Budget is the time a section takes, part by part, in minutes.
type Budget struct {
	Reading int `json:"reading"` // the text's words (TextWords) at ReadingWPM
	Media   int `json:"media"`   // the videos and podcasts it shows
	Tasks   int `json:"tasks"`   // its tasks' declared minutes
	Quiz    int `json:"quiz"`    // its self-check items
}

// ReadingWPM is the reading speed of study text, words per minute.
const ReadingWPM = 130

// SpeechWPM is how fast the course's generated voices speak Finnish,
// pauses between sentences and speakers included: espeak-ng at its
// default rate, as media's generator runs it (its test measures this).
// A media item's minutes are its script's spoken words at this rate.
const SpeechWPM = 100

// Total is the sum of the parts.
func (b Budget) Total() int { return b.Reading + b.Media + b.Tasks + b.Quiz }

// Add adds another budget's parts.
func (b Budget) Add(o Budget) Budget {
	return Budget{b.Reading + o.Reading, b.Media + o.Media, b.Tasks + o.Tasks, b.Quiz + o.Quiz}
}

// Budget computes the section's time from its parts.
func (s *Section) Budget(c *Course) Budget {
	var b Budget
	if s.Body == nil {
		return b
	}
	b.Reading = (s.TextWords(c) + ReadingWPM - 1) / ReadingWPM
	seen := map[string]bool{}
	for _, id := range append(append([]string(nil), s.Body.Media...), s.Media...) {
		if seen[id] {
			continue
		}
		seen[id] = true
		if m, ok := c.Media[id]; ok {
			b.Media += m.Minutes
		}
	}
	for _, t := range s.Body.Tasks {
		b.Tasks += t.Minutes
	}
	b.Quiz = int(math.Ceil(QuizMinutesPerItem * float64(len(s.Quiz))))
	return b
}

// TextWords is the section's own text: its rendered words without the
// transcripts of the videos and podcasts it shows (their time is the
// media's).
func (s *Section) TextWords(c *Course) int {
	if s.Body == nil {
		return 0
	}
	n := s.Body.Words
	for _, id := range s.Body.Media {
		if m, ok := c.Media[id]; ok {
			n -= countWords(m.TranscriptHTML)
		}
	}
	return max(n, 0)
}

// Budget adds up the module's sections.
func (m *Module) Budget(c *Course) Budget {
	var b Budget
	for _, s := range m.Sections {
		b = b.Add(s.Budget(c))
	}
	return b
}

// ComputedMinutes is the course's time computed from its parts, with the
// exam's share.
func (c *Course) ComputedMinutes() int {
	total := c.Meta.ExamMinutes
	for _, m := range c.Modules {
		total += m.Budget(c).Total()
	}
	return total
}

// BudgetTolerance is how far a section's declared minutes may be from
// its parts (a share of the computed time).
const BudgetTolerance = 0.2

// Advice is what `content check` reports beyond the problems that stop a
// publication: sections whose declared minutes are not what their parts
// add up to (or whose tasks give no time), media whose minutes are not
// their scripts' length, and module objectives that no exam item tests.
// An author can publish while a section is being written; the check (and
// the bundled course's test) holds the finished course to them.
func (c *Course) Advice() Problems {
	ps := append(Problems(nil), c.quizOrphans...)
	checkBudgets(c, &ps)
	checkObjectives(c, &ps)
	ps.sort()
	return ps
}

func checkBudgets(c *Course, ps *Problems) {
	for _, m := range append(append([]*Module(nil), c.Modules...), c.Hidden...) {
		for _, s := range m.Sections {
			if s.Body == nil || s.Minutes <= 0 {
				continue
			}
			for _, t := range s.Body.Tasks {
				if t.Minutes == 0 {
					ps.add(s.File, 1, 1, "task %q: give its time: {minuutit=N}", t.Title)
				}
			}
			b := s.Budget(c)
			if off := math.Abs(float64(s.Minutes - b.Total())); off > BudgetTolerance*float64(b.Total()) {
				ps.add(s.File, 2, 1, "minutes: the section says %d, its parts add up to %d (reading %d, media %d, tasks %d, self-check %d): make them agree within 20 %%", s.Minutes, b.Total(), b.Reading, b.Media, b.Tasks, b.Quiz)
			}
		}
	}
	ids := make([]string, 0, len(c.Media))
	for id := range c.Media {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := c.Media[id]
		spoken := SpokenWords(string(m.body))
		want := (spoken + SpeechWPM - 1) / SpeechWPM
		if off := math.Abs(float64(m.Minutes - want)); want > 0 && off > 1 && off > BudgetTolerance*float64(want) {
			ps.add(m.File, 2, 1, "minutes: the media says %d, its script of %d spoken words takes about %d at %d words a minute", m.Minutes, spoken, want, SpeechWPM)
		}
	}
}

var speakerLabel = regexp.MustCompile(`^\*\*[^*]{1,60}?:?\*\*:?`)

// SpokenWords counts the words a script speaks: its paragraphs without
// the speakers' names, leaving out the picture's descriptions (whole
// italic paragraphs) and headings.
func SpokenWords(script string) int {
	n := 0
	for _, para := range strings.Split(strings.ReplaceAll(script, "\r\n", "\n"), "\n\n") {
		p := strings.TrimSpace(para)
		switch {
		case p == "", strings.HasPrefix(p, "#"):
			continue
		case speakerLabel.MatchString(p):
			p = speakerLabel.ReplaceAllString(p, "")
		case strings.HasPrefix(p, "*") && strings.HasSuffix(p, "*"):
			continue
		}
		n += len(strings.Fields(p))
	}
	return n
}

// checkObjectives: the draw tests every objective of a module, so each
// needs exam items and an attempt needs room for one of each.
func checkObjectives(c *Course, ps *Problems) {
	ex := c.Exam
	if ex == nil {
		return
	}
	for _, m := range c.Modules {
		ids := ex.ByModule[m.Slug]
		if len(ids) == 0 {
			continue
		}
		if len(m.Objectives) > ex.Rules.PerModule {
			ps.add("exam/exam.yaml", 1, 1, "per_module (%d) is less than the %d objectives of module %s: an attempt cannot test each", ex.Rules.PerModule, len(m.Objectives), m.Slug)
		}
		tested := map[int]int{}
		for _, id := range ids {
			it := ex.ByID[id]
			if it.Objective == 0 && len(m.Objectives) > 0 {
				ps.add(it.File, it.Line, 1, "item %s: objective: name the module objective the item tests (1–%d)", it.ID, len(m.Objectives))
			}
			tested[it.Objective]++
		}
		for i := range m.Objectives {
			if tested[i+1] == 0 {
				ps.add(m.File, 2, 1, "objectives: objective %d of module %s is tested by no exam item", i+1, m.Slug)
			}
		}
	}
}
