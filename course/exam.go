package course

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The exam bank: content/exam/exam.yaml holds the rules and
// content/exam/NN-module.yaml the items of one module each. The exam
// engine (package quiz) draws, grades and keeps attempts; this file is the
// bank as content: loaded, checked with line numbers, rendered.

// Item types.
const (
	ItemSingle    = "single"
	ItemMultiple  = "multiple"
	ItemTrueFalse = "truefalse"
	ItemMatching  = "matching"
)

// Review settings: what a learner sees of the correct answers.
const (
	ReviewAfterPass = "after_pass_or_last" // correct answers and feedback after passing or after the last attempt
	ReviewAlways    = "always"
	ReviewNever     = "never"
)

// Eligibility settings: who may start an attempt.
const (
	// EligibleAllModules: a learner who has completed every module of
	// the course (each section by its completion rule).
	EligibleAllModules = "all_modules"
	// EligibleNone: anyone signed in, whatever their progress.
	EligibleNone = "none"
)

// ExamRules are the exam's settings from content/exam/exam.yaml.
type ExamRules struct {
	PerModule   int `yaml:"per_module" json:"per_module"`     // items drawn per module
	PassPercent int `yaml:"pass_percent" json:"pass_percent"` // pass mark, % of the maximum score
	TimeLimit   int `yaml:"time_limit_minutes" json:"time_limit_minutes"`
	Attempts    int `yaml:"attempts" json:"attempts"`
	WaitHours   int `yaml:"wait_hours" json:"wait_hours"` // between attempts
	// Review decides when a submitted attempt shows which items were
	// right (with their scores), the correct answers and the feedback;
	// otherwise only the total score and the modules' totals are shown.
	Review string `yaml:"review" json:"review"`
	// Eligibility decides who may start an attempt.
	Eligibility string `yaml:"eligibility" json:"eligibility"`
}

// DefaultExamRules apply when exam.yaml leaves a setting out.
var DefaultExamRules = ExamRules{PerModule: 5, PassPercent: 70, TimeLimit: 0, Attempts: 3, WaitHours: 24, Review: ReviewAfterPass,
	Eligibility: EligibleAllModules}

// ExamMissing lists the modules a learner must still complete before
// starting the exam, by the rules' eligibility, in course order; none
// when they may start. records are the learner's progress records
// (Progress.ForUser). An eligibility this code does not know (content
// check refuses it) asks for every module.
func (c *Course) ExamMissing(records map[string]*SectionProgress) []*Module {
	if c.Exam != nil && c.Exam.Rules.Eligibility == EligibleNone {
		return nil
	}
	mods, _ := c.Summarise(records)
	var out []*Module
	for _, mp := range mods {
		if !mp.Completed {
			out = append(out, mp.Module)
		}
	}
	return out
}

// ExamOption is one option of a choice item.
type ExamOption struct {
	ID       string `yaml:"-" json:"id"` // a, b, c… in bank order
	Text     string `yaml:"text" req:"1" json:"text"`
	Correct  bool   `yaml:"correct" json:"correct"`
	Feedback string `yaml:"feedback" json:"feedback,omitempty"`
}

// ExamPair is one pair of a matching item.
type ExamPair struct {
	Left  string `yaml:"left" req:"1" json:"left"`
	Right string `yaml:"right" req:"1" json:"right"`
}

// ExamItem is one question of the bank, with its key.
type ExamItem struct {
	ID            string       `yaml:"id" req:"1" json:"id"`
	Type          string       `yaml:"type" req:"1" json:"type"`
	Difficulty    int          `yaml:"difficulty" json:"difficulty,omitempty"`
	Stem          string       `yaml:"stem" req:"1" json:"stem"`
	Options       []ExamOption `yaml:"options" json:"options,omitempty"`
	Answer        *bool        `yaml:"answer" json:"answer,omitempty"` // truefalse
	FeedbackTrue  string       `yaml:"feedback_true" json:"feedback_true,omitempty"`
	FeedbackFalse string       `yaml:"feedback_false" json:"feedback_false,omitempty"`
	Pairs         []ExamPair   `yaml:"pairs" json:"pairs,omitempty"`
	Feedback      string       `yaml:"feedback" json:"feedback,omitempty"`
	// Objective is the module objective the item tests (1 is the first
	// of the module's objectives); the draw takes an item for each.
	Objective int `yaml:"objective" json:"objective,omitempty"`

	Module   string `yaml:"-" json:"module"` // module slug
	StemHTML string `yaml:"-" json:"stem_html"`
	File     string `yaml:"-" json:"file"`
	Line     int    `yaml:"-" json:"line"`
}

// Option finds an option by id.
func (it *ExamItem) Option(id string) *ExamOption {
	for i := range it.Options {
		if it.Options[i].ID == id {
			return &it.Options[i]
		}
	}
	return nil
}

// Exam is the loaded bank.
type Exam struct {
	Rules ExamRules
	Items []*ExamItem
	ByID  map[string]*ExamItem
	// ByModule lists item ids by module slug, in bank order.
	ByModule map[string][]string
}

var examFileRE = regexp.MustCompile(`^(\d\d-[a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$`)

// loadExam reads content/exam/ when it exists.
func loadExam(fsys fs.FS, c *Course, read func(string) ([]byte, bool), ps *Problems) {
	entries, err := fs.ReadDir(fsys, "exam")
	if err != nil {
		return
	}
	ex := &Exam{Rules: DefaultExamRules, ByID: map[string]*ExamItem{}, ByModule: map[string][]string{}}
	for _, e := range entries {
		p := "exam/" + e.Name()
		switch {
		case e.IsDir():
			continue
		case e.Name() == "exam.yaml":
			if data, ok := read(p); ok {
				*ps = append(*ps, decodeStrict(p, data, 1, &ex.Rules)...)
				checkRules(p, data, &ex.Rules, ps)
			}
		case examFileRE.MatchString(e.Name()):
			if data, ok := read(p); ok {
				loadExamFile(p, examFileRE.FindStringSubmatch(e.Name())[1], data, c, ex, ps)
			}
		case strings.HasSuffix(e.Name(), ".yaml"):
			ps.add(p, 1, 1, "exam files are exam.yaml and one NN-module.yaml per module, named as the module's folder")
		}
	}
	c.Exam = ex
}

func checkRules(p string, data []byte, r *ExamRules, ps *Problems) {
	line := func(key string) int {
		for i, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), key+":") {
				return i + 1
			}
		}
		return 1
	}
	if r.PerModule < 1 || r.PerModule > 50 {
		ps.add(p, line("per_module"), 1, "per_module must be 1–50")
	}
	if r.PassPercent < 1 || r.PassPercent > 100 {
		ps.add(p, line("pass_percent"), 1, "pass_percent must be 1–100")
	}
	if r.TimeLimit < 0 || r.TimeLimit > 600 {
		ps.add(p, line("time_limit_minutes"), 1, "time_limit_minutes must be 0 (no limit) to 600")
	}
	if r.Attempts < 1 || r.Attempts > 100 {
		ps.add(p, line("attempts"), 1, "attempts must be 1–100")
	}
	if r.WaitHours < 0 || r.WaitHours > 24*365 {
		ps.add(p, line("wait_hours"), 1, "wait_hours must be 0 or more hours")
	}
	switch r.Review {
	case ReviewAfterPass, ReviewAlways, ReviewNever:
	default:
		ps.add(p, line("review"), 1, "review must be %s, %s or %s", ReviewAfterPass, ReviewAlways, ReviewNever)
	}
	switch r.Eligibility {
	case EligibleAllModules, EligibleNone:
	default:
		ps.add(p, line("eligibility"), 1, "eligibility must be %s (every module completed) or %s (anyone signed in)", EligibleAllModules, EligibleNone)
	}
}

var itemIDRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

func loadExamFile(p, dir string, data []byte, c *Course, ex *Exam, ps *Problems) {
	var doc struct {
		Module string      `yaml:"module" req:"1"`
		Items  []*ExamItem `yaml:"items" req:"1"`
	}
	// Unknown keys and wrong types are reported; the items that did
	// decode are checked too, so one run shows every problem.
	*ps = append(*ps, decodeStrict(p, data, 1, &doc)...)
	var mod *Module
	for _, m := range c.Modules {
		if strings.HasSuffix(m.Dir, "/"+doc.Module) || m.Dir == doc.Module || m.Slug == doc.Module {
			mod = m
		}
	}
	if doc.Module != dir {
		ps.add(p, 1, 1, "module: %q does not match the file name (%s.yaml)", doc.Module, dir)
	}
	if mod == nil {
		ps.add(p, 1, 1, "module: no module folder %q in modules/", doc.Module)
		return
	}
	// Item lines, from the YAML nodes.
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	lines := itemLines(&root)
	for i, it := range doc.Items {
		line := 1
		if i < len(lines) {
			line = lines[i]
		}
		if it == nil {
			ps.add(p, line, 1, "an empty item")
			continue
		}
		it.File, it.Module, it.Line = p, mod.Slug, line
		checkItem(it, ps)
		if n := len(mod.Objectives); it.Objective < 0 || it.Objective > n {
			ps.add(p, it.Line, 1, "item %s: objective %d: module %s has %d objectives", it.ID, it.Objective, mod.Slug, n)
		}
		if prev, dup := ex.ByID[it.ID]; dup {
			ps.add(p, it.Line, 1, "item id %q is already used at %s:%d", it.ID, prev.File, prev.Line)
			continue
		}
		r, issues := Render([]byte(it.Stem), c.envWithoutLinks(p))
		for _, is := range issues {
			ps.add(p, it.Line, 1, "stem: %s", is.Msg)
		}
		it.StemHTML = r.HTML
		ex.ByID[it.ID] = it
		ex.Items = append(ex.Items, it)
		ex.ByModule[mod.Slug] = append(ex.ByModule[mod.Slug], it.ID)
	}
}

func itemLines(root *yaml.Node) []int {
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "items" && doc.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, n := range doc.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

func checkItem(it *ExamItem, ps *Problems) {
	p, line := it.File, it.Line
	bad := func(format string, a ...any) { ps.add(p, line, 1, "item %s: %s", it.ID, fmt.Sprintf(format, a...)) }
	if !itemIDRE.MatchString(it.ID) || len(it.ID) > 80 {
		bad("the id must be lowercase letters, digits and hyphens")
	}
	if strings.TrimSpace(it.Stem) == "" {
		bad("the stem is empty")
	}
	if it.Difficulty < 0 || it.Difficulty > 3 {
		bad("difficulty must be 1, 2 or 3 (or left out)")
	}
	for i := range it.Options {
		it.Options[i].ID = string(rune('a' + i))
		if strings.TrimSpace(it.Options[i].Text) == "" {
			bad("option %s has no text", it.Options[i].ID)
		}
	}
	correct := 0
	texts := map[string]bool{}
	for _, o := range it.Options {
		if o.Correct {
			correct++
		}
		if texts[o.Text] {
			bad("two options say %q", o.Text)
		}
		texts[o.Text] = true
	}
	noChoices := func() {
		if len(it.Options) > 0 {
			bad("a %s item has no options", it.Type)
		}
	}
	noPairs := func() {
		if len(it.Pairs) > 0 {
			bad("only matching items have pairs")
		}
	}
	noTrueFalse := func() {
		if it.Answer != nil || it.FeedbackTrue != "" || it.FeedbackFalse != "" {
			bad("answer, feedback_true and feedback_false belong to truefalse items")
		}
	}
	switch it.Type {
	case ItemSingle:
		noPairs()
		noTrueFalse()
		if len(it.Options) < 2 || len(it.Options) > 8 {
			bad("a single-choice item has 2–8 options, not %d", len(it.Options))
		}
		if correct != 1 {
			bad("a single-choice item has exactly one correct option, not %d", correct)
		}
	case ItemMultiple:
		noPairs()
		noTrueFalse()
		if len(it.Options) < 3 || len(it.Options) > 8 {
			bad("a multiple-choice item has 3–8 options, not %d", len(it.Options))
		}
		if correct < 1 || correct == len(it.Options) {
			bad("a multiple-choice item has at least one correct and one wrong option")
		}
	case ItemTrueFalse:
		noChoices()
		noPairs()
		if it.Answer == nil {
			bad("a truefalse item needs answer: true or answer: false")
		}
	case ItemMatching:
		noChoices()
		noTrueFalse()
		if len(it.Pairs) < 2 || len(it.Pairs) > 8 {
			bad("a matching item has 2–8 pairs, not %d", len(it.Pairs))
		}
		lefts, rights := map[string]bool{}, map[string]bool{}
		for _, pr := range it.Pairs {
			if lefts[pr.Left] || rights[pr.Right] {
				bad("the pairs' left sides and right sides must each be different (%q, %q)", pr.Left, pr.Right)
			}
			lefts[pr.Left], rights[pr.Right] = true, true
			if utf8.RuneCountInString(pr.Right) > 200 || utf8.RuneCountInString(pr.Left) > 200 {
				bad("keep the pairs' texts under 200 characters")
			}
		}
	default:
		bad("type must be single, multiple, truefalse or matching, not %q", it.Type)
	}
}

// checkExamCoverage: every module that has exam items must have enough of
// them for the draw.
func checkExamCoverage(c *Course, ps *Problems) {
	ex := c.Exam
	if ex == nil || len(ex.Items) == 0 {
		return
	}
	for _, m := range c.Modules {
		n := len(ex.ByModule[m.Slug])
		if n < ex.Rules.PerModule {
			ps.add("exam/exam.yaml", 1, 1, "module %s has %d exam items, fewer than per_module (%d)", m.Slug, n, ex.Rules.PerModule)
		}
	}
}
