// Package course is the course itself: its modules and sections as authors
// write them in Markdown, the legislation table, the glossary concepts the
// text links to, loading and checking a content tree, rendering it to safe
// HTML, and keeping revisions of it in the document store.
package course

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/tyokyky/tyokyky/internal/svgcheck"
)

// Meta is content/course.yaml: the course front page.
type Meta struct {
	Title                string   `yaml:"title" req:"1" json:"title"`
	Description          string   `yaml:"description" req:"1" json:"description"`
	Credits              float64  `yaml:"credits" req:"1" json:"credits"`
	WorkloadHours        float64  `yaml:"workload_hours" req:"1" json:"workload_hours"`
	ExamMinutes          int      `yaml:"exam_minutes" json:"exam_minutes"`
	What                 string   `yaml:"what" req:"1" json:"-"`
	Audience             string   `yaml:"audience" req:"1" json:"-"`
	Goals                []string `yaml:"goals" req:"1" json:"goals"`
	GoalsExtra           string   `yaml:"goals_extra" json:"-"`
	Content              string   `yaml:"content" req:"1" json:"-"`
	Study                string   `yaml:"study" req:"1" json:"-"`
	StructureFoundations []string `yaml:"structure_foundations" json:"structure_foundations"`
	GlossaryIntro        string   `yaml:"glossary_intro" json:"-"`
	LegislationIntro     string   `yaml:"legislation_intro" json:"-"`
	Background           string   `yaml:"background" json:"-"`
	Citation             string   `yaml:"citation" json:"-"`
	Licence              string   `yaml:"licence" json:"licence"`
	AuthorsIntro         string   `yaml:"authors_intro" json:"-"`
	Authors              []Author `yaml:"authors" json:"authors"`
	Accessibility        string   `yaml:"accessibility" json:"-"`
	Feedback             string   `yaml:"feedback" json:"-"`
	Funding              string   `yaml:"funding" json:"-"`
	Keywords             []string `yaml:"keywords" json:"keywords"`
	Pages                Pages    `yaml:"pages" json:"pages"`
}

// Author is a person who made the course.
type Author struct {
	Name         string `yaml:"name" req:"1" json:"name"`
	Degrees      string `yaml:"degrees" json:"degrees,omitempty"`
	Title        string `yaml:"title" json:"title,omitempty"`
	Organisation string `yaml:"organisation" json:"organisation,omitempty"`
}

// Pages says which optional pages the course has.
type Pages struct {
	Glossary    bool `yaml:"glossary" json:"glossary"`
	Legislation bool `yaml:"legislation" json:"legislation"`
	Exam        bool `yaml:"exam" json:"exam"`
}

// Module is one of the course's modules (osio).
type Module struct {
	Slug       string   `json:"slug"`
	Dir        string   `json:"-"` // e.g. modules/01-tyokyvyn-tuki
	Title      string   `yaml:"title" req:"1" json:"title"`
	Order      int      `yaml:"order" req:"1" json:"order"`
	Summary    string   `yaml:"summary" req:"1" json:"summary"`
	Objectives []string `yaml:"objectives" req:"1" json:"objectives"`
	Minutes    int      `yaml:"minutes" req:"1" json:"minutes"`
	// Hidden keeps a module out of the course while it is being written:
	// learners do not see it and the exam draws nothing from it, but it
	// is checked, rendered and previewed in the studio like the others.
	Hidden bool `yaml:"hidden" json:"-"`

	Intro    *Rendered  `yaml:"-" json:"intro"`
	Sections []*Section `yaml:"-" json:"-"`
	File     string     `yaml:"-" json:"-"`
	body     []byte
	bodyLine int
}

// Section is one page of a module.
type Section struct {
	Slug       string   `json:"slug"`
	Title      string   `yaml:"title" req:"1" json:"title"`
	Minutes    int      `yaml:"minutes" req:"1" json:"minutes"`
	Completion string   `yaml:"completion" json:"completion"`
	Media      []string `yaml:"media" json:"media,omitempty"`
	// NoLink lists glossary concepts not to link automatically in this
	// section ("*" for none at all).
	NoLink []string `yaml:"nolink" json:"-"`

	Module *Module   `yaml:"-" json:"-"`
	File   string    `yaml:"-" json:"-"`
	Body   *Rendered `yaml:"-" json:"-"`
	// Quiz is the section's self-check (quizzes/NN-module.yaml).
	Quiz     []*ExamItem `yaml:"-" json:"-"`
	body     []byte
	bodyLine int
}

// Completion rules of a section.
const (
	CompleteOnView  = "view"
	CompleteOnTask  = "task"
	CompleteOnVideo = "video"
	// CompleteOnQuiz: the section's self-check answered right, every item.
	CompleteOnQuiz = "quiz"
)

// Law is a row of the legislation table.
type Law struct {
	ID       string       `yaml:"id" req:"1" json:"id"`
	Name     string       `yaml:"name" req:"1" json:"name"`
	Short    string       `yaml:"short" json:"short,omitempty"`
	URL      string       `yaml:"url" req:"1" json:"url"`
	Summary  string       `yaml:"summary" req:"1" json:"-"`
	Modules  []string     `yaml:"modules" req:"1" json:"modules"`
	Sections []LawSection `yaml:"sections" json:"sections"`

	SummaryHTML string `yaml:"-" json:"summary_html"`
	line        int
}

// LawSection is a section of a law relevant to the course.
type LawSection struct {
	Ref     string `yaml:"ref" req:"1" json:"ref"`
	Title   string `yaml:"title" json:"title,omitempty"`
	Summary string `yaml:"summary" req:"1" json:"summary"`
}

// Concept is a glossary concept (content/glossary/concepts.yaml).
type Concept struct {
	ID             string   `yaml:"id" req:"1" json:"id"`
	Term           string   `yaml:"term" req:"1" json:"term"`
	Synonyms       []string `yaml:"synonyms" json:"synonyms,omitempty"`
	NotRecommended []string `yaml:"not_recommended" json:"not_recommended,omitempty"`
	SV             string   `yaml:"sv" json:"sv,omitempty"`
	EN             string   `yaml:"en" json:"en,omitempty"`
	Definition     string   `yaml:"definition" req:"1" json:"definition"`
	Notes          []string `yaml:"notes" json:"notes,omitempty"`
	Broader        []string `yaml:"broader" json:"broader,omitempty"`
	Narrower       []string `yaml:"narrower" json:"narrower,omitempty"`
	Related        []string `yaml:"related" json:"related,omitempty"`
	PartOf         []string `yaml:"part_of" json:"part_of,omitempty"`
	Source         string   `yaml:"source" json:"source,omitempty"`
	Theme          string   `yaml:"theme" json:"theme,omitempty"`
	Modules        []string `yaml:"modules" json:"modules,omitempty"`
	Forms          []string `yaml:"forms" json:"forms,omitempty"`
}

// MediaItem is a video or podcast described in content/media/ID.md; its
// body is the transcript.
type MediaItem struct {
	ID      string `yaml:"-" json:"id"`
	Title   string `yaml:"title" req:"1" json:"title"`
	Kind    string `yaml:"kind" req:"1" json:"kind"`
	Module  string `yaml:"module" json:"module,omitempty"`
	Minutes int    `yaml:"minutes" req:"1" json:"minutes"`

	TranscriptHTML string `yaml:"-" json:"transcript_html"`
	File           string `yaml:"-" json:"-"`
	body           []byte
	bodyLine       int
}

// Asset is an image file of the content tree (figures).
type Asset struct {
	File        string // content-relative path
	Hash        string // sha256, hex
	ContentType string
	Body        []byte
}

// URL is where the server serves the asset; the hash makes it immutable.
func (a *Asset) URL() string {
	ext := path.Ext(a.File)
	return "/kurssi/kuvat/" + a.Hash[:16] + ext
}

// Course is a loaded, checked and rendered content tree.
type Course struct {
	Meta Meta
	// Modules are the modules learners study, in order.
	Modules []*Module
	// Hidden are the modules still being written (hidden: true), in order:
	// part of the content, not of the course.
	Hidden   []*Module
	Laws     []*Law
	Concepts []*Concept
	Media    map[string]*MediaItem
	// Exam is the exam bank (nil when the content has no exam/ folder).
	// quizOrphans are self-checks of sections that are not there (Advice).
	quizOrphans Problems
	Exam        *Exam
	Assets      map[string]*Asset // by content-relative path

	// Front page Markdown fields, rendered.
	FrontHTML map[string]string

	// Glossary is the search index of the concepts.
	Glossary *GlossaryIndex

	// Redirects are addresses that moved (redirects.yaml): old → new.
	Redirects map[string]string

	// Files are the source files by content-relative path, with their hashes.
	Files map[string]File

	lookup *Env
}

// File is one source file of the content tree.
type File struct {
	Path string
	Hash string
	Data []byte
}

// Module finds a module of the course (not a hidden one) by slug.
func (c *Course) Module(slug string) (*Module, bool) {
	for _, m := range c.Modules {
		if m.Slug == slug {
			return m, true
		}
	}
	return nil, false
}

// AllModules lists the course's modules and the hidden ones, in order:
// what authors work on.
func (c *Course) AllModules() []*Module {
	all := append(append([]*Module(nil), c.Modules...), c.Hidden...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Order < all[j].Order })
	return all
}

// AnyModule finds a module by slug, hidden or not.
func (c *Course) AnyModule(slug string) (*Module, bool) {
	for _, list := range [][]*Module{c.Modules, c.Hidden} {
		for _, m := range list {
			if m.Slug == slug {
				return m, true
			}
		}
	}
	return nil, false
}

// Reveal makes the hidden modules part of the course: the studio shows a
// hidden module's pages as learners will get them once it is shown.
func (c *Course) Reveal() {
	c.Modules, c.Hidden = c.AllModules(), nil
}

// Section finds a section of the module by slug.
func (m *Module) Section(slug string) (*Section, bool) {
	for _, s := range m.Sections {
		if s.Slug == slug {
			return s, true
		}
	}
	return nil, false
}

// URL is the module page's address.
func (m *Module) URL() string { return "/osiot/" + m.Slug }

// URL is the section page's address.
func (s *Section) URL() string { return "/osiot/" + s.Module.Slug + "/" + s.Slug }

// MediaUses lists the sections that show media id, by address.
func (c *Course) MediaUses(id string) []*Section {
	return c.sectionsWhere(func(s *Section) []string { return s.Body.Media }, id)
}

// sectionsWhere lists the sections whose list (media, terms) has id.
func (c *Course) sectionsWhere(list func(*Section) []string, id string) []*Section {
	var out []*Section
	for _, m := range c.Modules {
		for _, s := range m.Sections {
			if slices.Contains(list(s), id) {
				out = append(out, s)
			}
		}
	}
	return out
}

// Script is the media item's transcript as written, for generating it.
func (m *MediaItem) Script() string { return string(m.body) }

// TotalMinutes adds up the sections' minutes and the exam.
func (c *Course) TotalMinutes() int {
	total := c.Meta.ExamMinutes
	for _, m := range c.Modules {
		for _, s := range m.Sections {
			total += s.Minutes
		}
	}
	return total
}

var (
	moduleDirRE   = regexp.MustCompile(`^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)$`)
	sectionFileRE = regexp.MustCompile(`^(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md$`)
	mediaFileRE   = regexp.MustCompile(`^([a-z0-9]+(?:-[a-z0-9]+)*)\.md$`)
	imageExts     = map[string]string{".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
)

// ErrInvalid is returned (wrapped in Problems) when content has problems.
var ErrInvalid = errors.New("course content has problems")

// Load reads, checks and renders a content tree. It returns the course
// and every problem found; a course with problems must not be published.
func Load(fsys fs.FS) (*Course, Problems) {
	c := &Course{Media: map[string]*MediaItem{}, Assets: map[string]*Asset{}, Files: map[string]File{}, FrontHTML: map[string]string{}}
	var ps Problems
	read := func(p string) ([]byte, bool) {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			ps.add(p, 1, 1, "cannot read: %v", err)
			return nil, false
		}
		sum := sha256.Sum256(data)
		c.Files[p] = File{Path: p, Hash: hex.EncodeToString(sum[:]), Data: data}
		return data, true
	}

	if data, ok := read("course.yaml"); ok {
		ps = append(ps, decodeStrict("course.yaml", data, 1, &c.Meta)...)
	}
	if data, ok := read("legislation.yaml"); ok {
		var doc struct {
			Laws []*Law `yaml:"laws" req:"1"`
		}
		if more := decodeStrict("legislation.yaml", data, 1, &doc); len(more) > 0 {
			ps = append(ps, more...)
		}
		c.Laws = doc.Laws
		lawLines(data, c.Laws)
	}
	if _, err := fs.Stat(fsys, "glossary/concepts.yaml"); err == nil {
		if data, ok := read("glossary/concepts.yaml"); ok {
			var doc struct {
				Concepts []*Concept `yaml:"concepts" req:"1"`
			}
			ps = append(ps, decodeStrict("glossary/concepts.yaml", data, 1, &doc)...)
			c.Concepts = doc.Concepts
		}
	}
	loadMedia(fsys, c, read, &ps)
	loadModules(fsys, c, read, &ps)
	checkCourse(c, &ps)
	loadRedirects(fsys, c, read, &ps)
	loadArchive(fsys, read)
	renderAll(c, &ps)
	loadExam(fsys, c, read, &ps)
	loadQuizzes(fsys, c, read, &ps)
	checkQuizRules(c, &ps)
	c.Modules, c.Hidden = splitHidden(c.Modules)
	checkExamCoverage(c, &ps)
	c.Glossary = NewGlossaryIndex(c.Concepts)
	ps.sort()
	return c, ps
}

// loadArchive reads the files kept under archive/ (archived sections and
// modules): not part of the course, but of the content tree, so that
// exports carry them and imports keep them.
func loadArchive(fsys fs.FS, read func(string) ([]byte, bool)) {
	_ = fs.WalkDir(fsys, archiveDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			read(p)
		}
		return nil
	})
}

// splitHidden separates the hidden modules from the course's.
func splitHidden(all []*Module) (shown, hidden []*Module) {
	for _, m := range all {
		if m.Hidden {
			hidden = append(hidden, m)
		} else {
			shown = append(shown, m)
		}
	}
	return shown, hidden
}

// lawLines remembers where each law starts in legislation.yaml.
func lawLines(data []byte, laws []*Law) {
	lines := strings.Split(string(data), "\n")
	for _, l := range laws {
		for i, line := range lines {
			if strings.Contains(line, "id:") && strings.Contains(line, l.ID) {
				l.line = i + 1
				break
			}
		}
	}
}

func loadMedia(fsys fs.FS, c *Course, read func(string) ([]byte, bool), ps *Problems) {
	entries, err := fs.ReadDir(fsys, "media")
	if err != nil {
		return // no media yet
	}
	for _, e := range entries {
		p := "media/" + e.Name()
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		m := mediaFileRE.FindStringSubmatch(e.Name())
		if m == nil {
			ps.add(p, 1, 1, "media file names are the media id in lowercase letters, digits and hyphens, e.g. m1-johdanto.md")
			continue
		}
		data, ok := read(p)
		if !ok {
			continue
		}
		item := &MediaItem{ID: m[1], File: p}
		front, body, bodyLine, err := SplitFrontmatter(data)
		if err != nil {
			ps.add(p, 1, 1, "%v", err)
			continue
		}
		ps2 := decodeStrict(p, front, 2, item)
		*ps = append(*ps, ps2...)
		if item.Kind != "video" && item.Kind != "audio" && len(ps2) == 0 {
			ps.add(p, 2, 1, "kind must be video or audio, not %q", item.Kind)
		}
		if len(bytesTrim(body)) == 0 {
			ps.add(p, bodyLine, 1, "the transcript (the text after the frontmatter) is empty: every video and podcast needs one")
		}
		item.body, item.bodyLine = body, bodyLine
		c.Media[item.ID] = item
	}
}

func loadModules(fsys fs.FS, c *Course, read func(string) ([]byte, bool), ps *Problems) {
	entries, err := fs.ReadDir(fsys, "modules")
	if err != nil {
		ps.add("modules", 1, 1, "no modules folder")
		return
	}
	slugs := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := "modules/" + e.Name()
		m := moduleDirRE.FindStringSubmatch(e.Name())
		if m == nil {
			ps.add(dir, 1, 1, "module folders are named NN-slug (two digits, a hyphen, lowercase letters, digits and hyphens)")
			continue
		}
		mod := &Module{Slug: m[2], Dir: dir, File: dir + "/module.md"}
		if other, dup := slugs[mod.Slug]; dup {
			ps.add(dir, 1, 1, "duplicate module slug %q (also %s)", mod.Slug, other)
			continue
		}
		slugs[mod.Slug] = dir
		if data, ok := read(mod.File); ok {
			front, body, bodyLine, err := SplitFrontmatter(data)
			if err != nil {
				ps.add(mod.File, 1, 1, "%v", err)
			} else {
				*ps = append(*ps, decodeStrict(mod.File, front, 2, mod)...)
				mod.body, mod.bodyLine = body, bodyLine
			}
		}
		loadSections(fsys, c, mod, read, ps)
		c.Modules = append(c.Modules, mod)
	}
	sort.SliceStable(c.Modules, func(i, j int) bool { return c.Modules[i].Order < c.Modules[j].Order })
}

func loadSections(fsys fs.FS, c *Course, mod *Module, read func(string) ([]byte, bool), ps *Problems) {
	entries, err := fs.ReadDir(fsys, mod.Dir)
	if err != nil {
		return
	}
	slugs := map[string]string{}
	for _, e := range entries {
		p := mod.Dir + "/" + e.Name()
		if e.IsDir() {
			if e.Name() == "kuvat" {
				loadAssets(fsys, c, p, ps)
			}
			continue
		}
		if e.Name() == "module.md" {
			continue
		}
		m := sectionFileRE.FindStringSubmatch(e.Name())
		if m == nil {
			if strings.HasSuffix(e.Name(), ".md") {
				ps.add(p, 1, 1, "section files are named NN-slug.md (two digits, a hyphen, lowercase letters, digits and hyphens)")
			}
			continue
		}
		s := &Section{Slug: m[2], Module: mod, File: p}
		if other, dup := slugs[s.Slug]; dup {
			ps.add(p, 1, 1, "duplicate section slug %q in module %s (also %s)", s.Slug, mod.Slug, other)
			continue
		}
		slugs[s.Slug] = p
		data, ok := read(p)
		if !ok {
			continue
		}
		front, body, bodyLine, err := SplitFrontmatter(data)
		if err != nil {
			ps.add(p, 1, 1, "%v", err)
			continue
		}
		*ps = append(*ps, decodeStrict(p, front, 2, s)...)
		s.body, s.bodyLine = body, bodyLine
		mod.Sections = append(mod.Sections, s)
	}
}

func loadAssets(fsys fs.FS, c *Course, dir string, ps *Problems) {
	entries, _ := fs.ReadDir(fsys, dir)
	for _, e := range entries {
		p := dir + "/" + e.Name()
		ct, ok := imageExts[strings.ToLower(path.Ext(e.Name()))]
		if e.IsDir() || !ok {
			continue
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			ps.add(p, 1, 1, "cannot read: %v", err)
			continue
		}
		if ct == "image/svg+xml" {
			for _, prob := range checkSVG(data) {
				ps.add(p, prob.line, 1, "%s", prob.msg)
			}
		}
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		c.Assets[p] = &Asset{File: p, Hash: h, ContentType: ct, Body: data}
		c.Files[p] = File{Path: p, Hash: h, Data: data}
	}
}

type svgProblem struct {
	line int
	msg  string
}

// checkSVG rejects SVG that could run script or load anything (see
// internal/svgcheck: the same check as uploaded media images) and SVG
// without a <title>; figures are also served with a CSP that forbids both.
func checkSVG(data []byte) []svgProblem {
	var out []svgProblem
	var e *svgcheck.Error
	if err := svgcheck.Check(data); errors.As(err, &e) {
		out = append(out, svgProblem{e.Line, e.Msg})
	} else if err != nil {
		out = append(out, svgProblem{1, err.Error()})
	}
	if !strings.Contains(string(data), "<title") {
		out = append(out, svgProblem{1, "SVG needs a <title> (and a <desc>) for assistive technology"})
	}
	return out
}

func bytesTrim(b []byte) []byte { return []byte(strings.TrimSpace(string(b))) }

// checkCourse checks what spans files: orders, minutes, laws' modules,
// concept relations.
func checkCourse(c *Course, ps *Problems) {
	orders := map[int]string{}
	for _, m := range c.Modules {
		if other, dup := orders[m.Order]; dup && m.Order != 0 {
			ps.add(m.File, 2, 1, "order %d is used by %s too", m.Order, other)
		}
		orders[m.Order] = m.File
		// A hidden module is being written: it may have no sections or
		// objectives yet.
		if len(m.Sections) == 0 && !m.Hidden {
			ps.add(m.File, 1, 1, "module %s has no sections: add one before showing it to learners", m.Slug)
		}
		if len(m.Objectives) == 0 && !m.Hidden && m.Title != "" {
			ps.add(m.File, 2, 1, "objectives: module %s has no learning objectives: write them before showing it to learners", m.Slug)
		}
		sum := 0
		for _, s := range m.Sections {
			sum += s.Minutes
			if s.Minutes <= 0 && s.Title != "" {
				ps.add(s.File, 2, 1, "minutes must be a positive number of minutes")
			}
			switch s.Completion {
			case "":
				s.Completion = CompleteOnView
			case CompleteOnView, CompleteOnTask, CompleteOnVideo, CompleteOnQuiz:
			default:
				ps.add(s.File, 2, 1, "completion must be view, task, video or quiz, not %q", s.Completion)
			}
			for _, id := range s.Media {
				if _, ok := c.Media[id]; !ok {
					ps.add(s.File, 2, 1, "unknown media id %q in media:", id)
				}
			}
		}
		if m.Minutes > 0 && sum != m.Minutes && len(m.Sections) > 0 {
			ps.add(m.File, 2, 1, "minutes: the module says %d, its sections add up to %d", m.Minutes, sum)
		}
	}
	modules := map[string]bool{}
	for _, m := range c.Modules {
		modules[m.Dir[len("modules/"):]] = true
		modules[m.Slug] = true
	}
	lawIDs := map[string]bool{}
	lawRE := regexp.MustCompile(`^\d{1,5}/\d{4}$`)
	for _, l := range c.Laws {
		if !lawRE.MatchString(l.ID) {
			ps.add("legislation.yaml", l.line, 1, "law id %q is not NUMBER/YEAR", l.ID)
		}
		if lawIDs[l.ID] {
			ps.add("legislation.yaml", l.line, 1, "law %s is listed twice", l.ID)
		}
		lawIDs[l.ID] = true
		if !strings.HasPrefix(l.URL, "https://") {
			ps.add("legislation.yaml", l.line, 1, "law %s: url must be an https address (Finlex)", l.ID)
		}
		for _, m := range l.Modules {
			if !modules[m] {
				ps.add("legislation.yaml", l.line, 1, "law %s: unknown module %q", l.ID, m)
			}
		}
	}
	// The other files that name modules (a module renamed or archived in
	// the studio takes these along; one it missed shows here).
	for _, k := range c.Concepts {
		for _, m := range k.Modules {
			if !modules[m] {
				ps.add("glossary/concepts.yaml", 1, 1, "concept %s: unknown module %q in modules:", k.ID, m)
			}
		}
	}
	mediaIDs := make([]string, 0, len(c.Media))
	for id := range c.Media {
		mediaIDs = append(mediaIDs, id)
	}
	sort.Strings(mediaIDs)
	for _, id := range mediaIDs {
		if m := c.Media[id]; m.Module != "" && !modules[m.Module] {
			ps.add(m.File, 2, 1, "module: no module %q", m.Module)
		}
	}
	ids := map[string]*Concept{}
	for _, k := range c.Concepts {
		if ids[k.ID] != nil {
			ps.add("glossary/concepts.yaml", 1, 1, "concept id %q is used twice", k.ID)
		}
		ids[k.ID] = k
	}
	for _, k := range c.Concepts {
		for _, rel := range [][]string{k.Broader, k.Narrower, k.Related, k.PartOf} {
			for _, id := range rel {
				if ids[id] == nil {
					ps.add("glossary/concepts.yaml", 1, 1, "concept %s refers to unknown concept %q", k.ID, id)
				}
			}
		}
	}
	for _, msg := range ConceptRelationProblems(c.Concepts) {
		ps.add("glossary/concepts.yaml", 1, 1, "%s", msg)
	}
	shown := 0
	for _, m := range c.Modules {
		if !m.Hidden {
			shown++
		}
	}
	if c.Meta.Title != "" && shown == 0 {
		ps.add("course.yaml", 1, 1, "the course has no modules that learners see")
	}
}

// env builds the rendering environment of one file.
func (c *Course) env(file string) Env {
	if c.lookup == nil {
		c.lookup = c.buildEnv()
	}
	e := *c.lookup
	e.File = file
	return e
}

// envWithoutLinks is env without automatic glossary links (front page,
// legislation summaries).
func (c *Course) envWithoutLinks(file string) Env {
	e := c.env(file)
	e.Linker = nil
	return e
}

func concepts(c *Course) map[string]*Concept {
	m := make(map[string]*Concept, len(c.Concepts))
	for _, k := range c.Concepts {
		m[k.ID] = k
	}
	return m
}

func (c *Course) buildEnv() *Env {
	laws := map[string]*Law{}
	for _, l := range c.Laws {
		laws[l.ID] = l
	}
	concepts := map[string]*Concept{}
	for _, k := range c.Concepts {
		concepts[k.ID] = k
	}
	pages := map[string]string{}
	hidden := map[string]bool{}
	for _, m := range c.AllModules() {
		pages[m.File] = m.URL()
		hidden[m.File] = m.Hidden
		for _, s := range m.Sections {
			pages[s.File] = s.URL()
			hidden[s.File] = m.Hidden
		}
	}
	return &Env{
		Linker: NewTermLinker(c.Concepts),
		Law:    func(id string) (*Law, bool) { l, ok := laws[id]; return l, ok },
		Term:   func(id string) (*Concept, bool) { k, ok := concepts[id]; return k, ok },
		Media:  func(id string) (*MediaItem, bool) { m, ok := c.Media[id]; return m, ok },
		Page:   func(f string) (string, bool) { u, ok := pages[f]; return u, ok },
		Hidden: func(f string) bool { return hidden[f] },
		Asset: func(f string) (string, bool) {
			if a, ok := c.Assets[f]; ok {
				return a.URL(), true
			}
			return "", false
		},
	}
}

// renderAll renders every Markdown text of the course and turns rendering
// issues into problems with file positions.
func renderAll(c *Course, ps *Problems) {
	report := func(file string, body []byte, bodyLine int, issues []Issue) {
		for _, is := range issues {
			line, col := position(body, is.Offset)
			ps.add(file, bodyLine+line-1, col, "%s", is.Msg)
		}
	}
	// Transcripts first: sections embed them.
	for _, m := range c.Media {
		r, issues := Render(m.body, c.env(m.File))
		report(m.File, m.body, m.bodyLine, issues)
		m.TranscriptHTML = r.HTML
	}
	for _, m := range c.Modules {
		r, issues := Render(m.body, c.env(m.File))
		report(m.File, m.body, m.bodyLine, issues)
		m.Intro = r
		for _, s := range m.Sections {
			env := c.env(s.File)
			env.NoLink = s.NoLink
			for _, id := range s.NoLink {
				if _, ok := concepts(c)[id]; !ok && id != "*" {
					ps.add(s.File, 2, 1, "nolink: unknown glossary concept %q", id)
				}
			}
			r, issues := Render(s.body, env)
			report(s.File, s.body, s.bodyLine, issues)
			s.Body = r
		}
	}
	// Links to a fragment of another page must find the fragment there.
	byFile := map[string]*Rendered{}
	for _, m := range c.Modules {
		byFile[m.File] = m.Intro
		for _, s := range m.Sections {
			byFile[s.File] = s.Body
		}
	}
	for _, m := range c.Modules {
		for _, s := range m.Sections {
			for _, l := range s.Body.links {
				if target := byFile[l.file]; target != nil && !target.ids[l.fragment] {
					line, col := position(s.body, l.offset)
					ps.add(s.File, s.bodyLine+line-1, col, "broken link: %s has no heading or task #%s", l.file, l.fragment)
				}
			}
		}
	}
	for _, l := range c.Laws {
		r, issues := Render([]byte(l.Summary), c.envWithoutLinks("legislation.yaml"))
		report("legislation.yaml", nil, l.line, issues)
		l.SummaryHTML = r.HTML
	}
	fields := map[string]string{
		"what": c.Meta.What, "audience": c.Meta.Audience, "goals_extra": c.Meta.GoalsExtra,
		"content": c.Meta.Content, "study": c.Meta.Study, "glossary_intro": c.Meta.GlossaryIntro,
		"legislation_intro": c.Meta.LegislationIntro, "background": c.Meta.Background,
		"citation": c.Meta.Citation, "authors_intro": c.Meta.AuthorsIntro,
		"accessibility": c.Meta.Accessibility, "feedback": c.Meta.Feedback, "funding": c.Meta.Funding,
	}
	for name, text := range fields {
		r, issues := Render([]byte(text), c.envWithoutLinks("course.yaml"))
		for _, is := range issues {
			ps.add("course.yaml", 1, 1, "%s: %s", name, is.Msg)
		}
		c.FrontHTML[name] = r.HTML
	}
}

// position turns a byte offset of body into a 1-based line and column.
func position(body []byte, off int) (line, col int) {
	if off > len(body) {
		off = len(body)
	}
	if off < 0 {
		off = 0
	}
	line = 1 + strings.Count(string(body[:off]), "\n")
	last := strings.LastIndexByte(string(body[:off]), '\n')
	return line, off - last
}

// Summary describes the course in one line (for logs).
func (c *Course) Summary() string {
	sections := 0
	for _, m := range c.Modules {
		sections += len(m.Sections)
	}
	items := 0
	if c.Exam != nil {
		items = len(c.Exam.Items)
	}
	return fmt.Sprintf("%d modules, %d sections, %d laws, %d concepts, %d media, %d exam items, %d min", len(c.Modules), sections, len(c.Laws), len(c.Concepts), len(c.Media), items, c.TotalMinutes())
}
