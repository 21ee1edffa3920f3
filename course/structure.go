package course

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tyokyky/tyokyky/internal/fault"
)

// Structure changes of the course (the studio's): adding, renaming,
// reordering and archiving sections. Each is worked out as changes to the
// content files — the section files, the module's minutes, and
// redirects.yaml for addresses that moved — and published together after
// the whole course has been checked with them.

// Refusals of structure changes and figures (internal/fault): the studio
// shows their messages to the author in the UI language.
var (
	ErrNoModule        = fault.New(fault.NotFound, "content_no_module", "", "no module %q")
	ErrNoMinutesLine   = fault.New(fault.Conflict, "content_no_minutes_line", "", "%s has no minutes line to update")
	ErrSlug            = fault.New(fault.Invalid, "content_slug_invalid", "slug", "the address part %q must be lowercase letters, digits and hyphens")
	ErrSectionTitle    = fault.New(fault.Invalid, "content_section_title", "title", "give the section a title of one line (at most 200 characters)")
	ErrMinutes         = fault.New(fault.Invalid, "content_minutes", "minutes", "the time budget must be 1–1000 minutes")
	ErrSectionExists   = fault.New(fault.Conflict, "content_section_exists", "slug", "module %s already has a section %q")
	ErrTooManySections = fault.New(fault.Conflict, "content_too_many_sections", "", "a module can have at most 99 sections")
	ErrNoSection       = fault.New(fault.NotFound, "content_no_section", "", "module %s has no section %q")
	ErrMoveStep        = fault.New(fault.Invalid, "content_move_step", "", "a section or module moves one place at a time")
	ErrAtEnd           = fault.New(fault.Conflict, "content_at_end", "", "it is at the end already")
	ErrLastSection     = fault.New(fault.Conflict, "content_last_section", "", "a module needs at least one section")
	ErrFigurePage      = fault.New(fault.Invalid, "figure_page", "page", "figures belong to a module's pages")
	ErrFigureFormat    = fault.New(fault.Unsupported, "figure_format", "file", "a figure must be a PNG, JPEG, WebP or SVG image")
	ErrFigureTooLarge  = fault.New(fault.TooLarge, "figure_too_large", "file", "a figure must be at most %d MiB")
	ErrFigureSVG       = fault.New(fault.Invalid, "figure_svg_unsafe", "file", "the SVG figure is refused at line %d: %s")
	ErrNoOrderLine     = fault.New(fault.Conflict, "content_no_order_line", "", "%s has no order line to change")
	ErrModuleTitle     = fault.New(fault.Invalid, "content_module_title", "title", "give the module a title of one line (at most 200 characters)")
	ErrModuleSummary   = fault.New(fault.Invalid, "content_module_summary", "summary", "give the module a summary (at most 1000 characters)")
	ErrModuleExists    = fault.New(fault.Conflict, "content_module_exists", "slug", "the course already has a module %q")
	ErrTooManyModules  = fault.New(fault.Conflict, "content_too_many_modules", "", "a course can have at most 99 module folders")
	ErrModuleSlug      = fault.New(fault.Invalid, "content_module_slug_invalid", "slug", "the address part %q must be lowercase letters, digits and hyphens, and not start with two digits and a hyphen")
	ErrHiddenLine      = fault.New(fault.Conflict, "content_hidden_line", "", "%s: the hidden: line could not be changed; edit the file")
	ErrSameAddress     = fault.New(fault.Invalid, "content_same_address", "slug", "that is the module's address already")
)

// FileChange is a new text of a content file, or its removal. From is
// the file's old path when it moved there (authors' drafts follow it).
type FileChange struct {
	Path   string
	Data   []byte
	Delete bool
	From   string
}

// RedirectsFile lists old addresses and where they moved.
const RedirectsFile = "redirects.yaml"

// Redirect is one moved address.
type Redirect struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// modulesPage is the address of the module list, where the addresses of
// an archived module lead.
const modulesPage = "/osiot"

// archiveDir keeps archived sections: part of the content tree (and of
// its history), not of the course.
const archiveDir = "archive"

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidSlug says whether s can name a module or section in an address.
func ValidSlug(s string) bool { return len(s) <= 80 && slugRE.MatchString(s) }

// loadRedirects reads redirects.yaml (optional) and checks each entry:
// both addresses are course pages, the old one no longer exists and the
// new one does.
func loadRedirects(fsys fs.FS, c *Course, read func(string) ([]byte, bool), ps *Problems) {
	if _, err := fs.Stat(fsys, RedirectsFile); err != nil {
		return
	}
	data, ok := read(RedirectsFile)
	if !ok {
		return
	}
	var doc struct {
		Redirects []Redirect `yaml:"redirects"`
	}
	if more := decodeStrict(RedirectsFile, data, 1, &doc); len(more) > 0 {
		*ps = append(*ps, more...)
		return
	}
	c.Redirects = map[string]string{}
	for i, r := range doc.Redirects {
		line := i*2 + 2
		switch {
		case !c.isPage(r.To, true):
			ps.add(RedirectsFile, line, 1, "redirect to %s: no such module or section", r.To)
		case r.From == modulesPage:
			ps.add(RedirectsFile, line, 1, "redirect from %s: the module list does not move", r.From)
		case c.isPage(r.From, false):
			ps.add(RedirectsFile, line, 1, "redirect from %s: the page exists, so the redirect would hide it", r.From)
		case !strings.HasPrefix(r.From, "/osiot/"):
			ps.add(RedirectsFile, line, 1, "redirect from %s: only module and section addresses (/osiot/…) move", r.From)
		default:
			c.Redirects[r.From] = r.To
		}
	}
}

// isPage says whether p is a module or section address of the content,
// or the module list /osiot. With hidden, the pages of hidden modules
// count (a redirect may lead there: it answers once the module is shown);
// without, only the pages learners can open (a redirect from a hidden
// module's address keeps working until the module is shown).
func (c *Course) isPage(p string, hidden bool) bool {
	if p == modulesPage {
		return true
	}
	parts := strings.Split(strings.TrimPrefix(p, modulesPage+"/"), "/")
	if !strings.HasPrefix(p, modulesPage+"/") || len(parts) > 2 {
		return false
	}
	m, ok := c.AnyModule(parts[0])
	if !ok || (m.Hidden && !hidden) {
		return false
	}
	if len(parts) == 1 {
		return true
	}
	_, ok = m.Section(parts[1])
	return ok
}

// sectionEntry is a section file of a module folder.
type sectionEntry struct {
	file  string // the file name, NN-slug.md
	num   int
	slug  string
	title string
	min   int
}

func moduleDirOf(tree fstest.MapFS, module string) (string, error) {
	for p := range tree {
		if !strings.HasPrefix(p, "modules/") || path.Base(p) != "module.md" {
			continue
		}
		dir := path.Dir(p)
		if m := moduleDirRE.FindStringSubmatch(path.Base(dir)); m != nil && m[2] == module {
			return dir, nil
		}
	}
	return "", ErrNoModule.With(module)
}

// moduleHidden says whether the module in dir is hidden (hidden: true).
func moduleHidden(tree fstest.MapFS, dir string) bool {
	f := tree[dir+"/module.md"]
	if f == nil {
		return false
	}
	front, _, _, err := SplitFrontmatter(f.Data)
	if err != nil {
		return false
	}
	var meta struct {
		Hidden bool `yaml:"hidden"`
	}
	_ = yaml.Unmarshal(front, &meta)
	return meta.Hidden
}

func sectionsOf(tree fstest.MapFS, dir string) []sectionEntry {
	var out []sectionEntry
	for p, f := range tree {
		if path.Dir(p) != dir {
			continue
		}
		m := sectionFileRE.FindStringSubmatch(path.Base(p))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		e := sectionEntry{file: path.Base(p), num: n, slug: m[2]}
		if front, _, _, err := SplitFrontmatter(f.Data); err == nil {
			var meta struct {
				Title   string `yaml:"title"`
				Minutes int    `yaml:"minutes"`
			}
			_ = yaml.Unmarshal(front, &meta)
			e.title, e.min = meta.Title, meta.Minutes
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].num < out[j].num })
	return out
}

var minutesLineRE = regexp.MustCompile(`(?m)^minutes:[ \t]*\d+[ \t]*$`)

// withModuleMinutes sets module.md's minutes to the sum of its sections.
func withModuleMinutes(tree fstest.MapFS, dir string, sections []sectionEntry) (FileChange, error) {
	p := dir + "/module.md"
	f, ok := tree[p]
	if !ok {
		return FileChange{}, fmt.Errorf("%s is missing", p)
	}
	front, _, _, err := SplitFrontmatter(f.Data)
	if err != nil {
		return FileChange{}, fmt.Errorf("%s: %w", p, err)
	}
	sum := 0
	for _, s := range sections {
		sum += s.min
	}
	loc := minutesLineRE.FindIndex(front)
	if loc == nil {
		return FileChange{}, ErrNoMinutesLine.With(p)
	}
	// The front matter starts after the opening "---\n".
	start := strings.Index(string(f.Data), string(front))
	data := string(f.Data[:start+loc[0]]) + "minutes: " + strconv.Itoa(sum) + string(f.Data[start+loc[1]:])
	return FileChange{Path: p, Data: []byte(data)}, nil
}

// withRedirects adds each move from → to to redirects.yaml, and points
// older redirects to a from at its to as well (no chains).
func withRedirects(tree fstest.MapFS, moves [][2]string) (FileChange, error) {
	return editRedirects(tree, func(kept []Redirect) []Redirect {
		for _, mv := range moves {
			from, to := mv[0], mv[1]
			var next []Redirect
			for _, r := range kept {
				if r.From == to { // the address is a page again
					continue
				}
				if r.To == from {
					r.To = to
				}
				next = append(next, r)
			}
			kept = append(next, Redirect{From: from, To: to})
		}
		return kept
	})
}

// withoutRedirectsFrom drops the redirects from addrs: a new module or
// section takes an address that once moved away. It answers false when
// there is none to drop.
func withoutRedirectsFrom(tree fstest.MapFS, addrs ...string) (FileChange, bool, error) {
	dropped := false
	ch, err := editRedirects(tree, func(list []Redirect) []Redirect {
		var kept []Redirect
		for _, r := range list {
			if slices.Contains(addrs, r.From) {
				dropped = true
				continue
			}
			kept = append(kept, r)
		}
		return kept
	})
	return ch, dropped, err
}

// editRedirects rewrites redirects.yaml with edit applied to its entries.
func editRedirects(tree fstest.MapFS, edit func([]Redirect) []Redirect) (FileChange, error) {
	var doc struct {
		Redirects []Redirect `yaml:"redirects"`
	}
	if f, ok := tree[RedirectsFile]; ok {
		if err := yaml.Unmarshal(f.Data, &doc); err != nil {
			return FileChange{}, fmt.Errorf("%s: %w", RedirectsFile, err)
		}
	}
	kept := edit(doc.Redirects)
	var b strings.Builder
	b.WriteString("# Addresses that moved: the old address answers with a permanent redirect.\n# The studio adds entries when a module or section is renamed or archived.\nredirects:\n")
	for _, r := range kept {
		fmt.Fprintf(&b, "  - from: %s\n    to: %s\n", r.From, r.To)
	}
	return FileChange{Path: RedirectsFile, Data: []byte(b.String())}, nil
}

// relLink is how a page in dir links to the file p (sibling module
// folders under modules/).
func relLinks(dir, p string) []string {
	if path.Dir(p) == dir {
		return []string{path.Base(p), "./" + path.Base(p)}
	}
	return []string{"../" + path.Base(path.Dir(p)) + "/" + path.Base(p)}
}

// rewriteLinks points the links of every page of tree that lead to
// oldPath at newPath instead; it returns the pages it changed.
func rewriteLinks(tree fstest.MapFS, oldPath, newPath string) []FileChange {
	var out []FileChange
	names := make([]string, 0, len(tree))
	for p := range tree {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if !strings.HasPrefix(p, "modules/") || !strings.HasSuffix(p, ".md") {
			continue
		}
		text := string(tree[p].Data)
		dir := path.Dir(p)
		news := relLinks(dir, newPath)
		for _, old := range relLinks(dir, oldPath) {
			for _, end := range []string{")", "#"} {
				text = strings.ReplaceAll(text, "]("+old+end, "]("+news[0]+end)
			}
		}
		if text != string(tree[p].Data) {
			out = append(out, FileChange{Path: p, Data: []byte(text)})
		}
	}
	return out
}

// renamed is changes plus the link rewrites that moving files needs:
// each move is applied in turn to the tree the changes make.
func renamed(tree fstest.MapFS, changes []FileChange, moves [][2]string) []FileChange {
	next := Apply(tree, changes)
	for _, mv := range moves {
		rw := rewriteLinks(next, mv[0], mv[1])
		next = Apply(next, rw)
		changes = append(changes, rw...)
	}
	return lastChanges(changes) // one change per path: the last text wins
}

// AddSection adds an empty section at the end of a module.
func AddSection(tree fstest.MapFS, module, slug, title string, minutes int) ([]FileChange, error) {
	dir, err := moduleDirOf(tree, module)
	if err != nil {
		return nil, err
	}
	title = strings.TrimSpace(title)
	switch {
	case !ValidSlug(slug):
		return nil, ErrSlug.With(slug)
	case title == "" || utf8.RuneCountInString(title) > 200 || strings.ContainsAny(title, "\n\r\u2028\u2029\u0085"):
		return nil, ErrSectionTitle
	case minutes < 1 || minutes > 1000:
		return nil, ErrMinutes
	}
	secs := sectionsOf(tree, dir)
	next := 1
	for _, s := range secs {
		if s.slug == slug {
			return nil, ErrSectionExists.With(module, slug)
		}
		next = s.num + 1
	}
	if next > 99 {
		return nil, ErrTooManySections
	}
	file := fmt.Sprintf("%02d-%s.md", next, slug)
	quoted, _ := yaml.Marshal(title)
	data := fmt.Sprintf("---\ntitle: %sminutes: %d\n---\n## %s\n\nKirjoita osion teksti tähän.\n", quoted, minutes, title)
	secs = append(secs, sectionEntry{file: file, num: next, slug: slug, title: title, min: minutes})
	mod, err := withModuleMinutes(tree, dir, secs)
	if err != nil {
		return nil, err
	}
	changes := []FileChange{{Path: dir + "/" + file, Data: []byte(data)}, mod}
	if moduleHidden(tree, dir) {
		return changes, nil // a redirect from the address works until the module is shown
	}
	if red, ok, err := withoutRedirectsFrom(tree, modulesPage+"/"+module+"/"+slug); err != nil {
		return nil, err
	} else if ok {
		changes = append(changes, red)
	}
	return changes, nil
}

// RenameSection gives a section a new address part; the old address
// redirects to the new one.
func RenameSection(tree fstest.MapFS, module, slug, newSlug string) ([]FileChange, error) {
	dir, err := moduleDirOf(tree, module)
	if err != nil {
		return nil, err
	}
	if !ValidSlug(newSlug) {
		return nil, ErrSlug.With(newSlug)
	}
	var from *sectionEntry
	secs := sectionsOf(tree, dir)
	for i, s := range secs {
		if s.slug == newSlug {
			return nil, ErrSectionExists.With(module, newSlug)
		}
		if s.slug == slug {
			from = &secs[i]
		}
	}
	if from == nil {
		return nil, ErrNoSection.With(module, slug)
	}
	oldPath := dir + "/" + from.file
	newPath := fmt.Sprintf("%s/%02d-%s.md", dir, from.num, newSlug)
	red, err := withRedirects(tree, [][2]string{{"/osiot/" + module + "/" + slug, "/osiot/" + module + "/" + newSlug}})
	if err != nil {
		return nil, err
	}
	changes := []FileChange{{Path: oldPath, Delete: true}, {Path: newPath, Data: tree[oldPath].Data, From: oldPath}, red}
	// The module's self-checks name the section by its file or slug.
	if q := "quizzes/" + path.Base(dir) + ".yaml"; tree[q] != nil {
		re := regexp.MustCompile(`(?m)^(\s*-?\s*section:[ \t]*["']?)(?:\d+-)?` + regexp.QuoteMeta(slug) + `(["']?[ \t]*)$`)
		if data := re.ReplaceAllString(string(tree[q].Data), "${1}"+fmt.Sprintf("%02d-%s", from.num, newSlug)+"${2}"); data != string(tree[q].Data) {
			changes = append(changes, FileChange{Path: q, Data: []byte(data)})
		}
	}
	return renamed(tree, changes, [][2]string{{oldPath, newPath}}), nil
}

// MoveSection moves a section one place earlier (delta −1) or later (+1)
// by swapping the number prefixes; addresses do not change.
func MoveSection(tree fstest.MapFS, module, slug string, delta int) ([]FileChange, error) {
	dir, err := moduleDirOf(tree, module)
	if err != nil {
		return nil, err
	}
	if delta != -1 && delta != 1 {
		return nil, ErrMoveStep
	}
	secs := sectionsOf(tree, dir)
	i := -1
	for k, s := range secs {
		if s.slug == slug {
			i = k
		}
	}
	if i < 0 {
		return nil, ErrNoSection.With(module, slug)
	}
	j := i + delta
	if j < 0 || j >= len(secs) {
		return nil, ErrAtEnd
	}
	a, b := secs[i], secs[j]
	pa, pb := dir+"/"+a.file, dir+"/"+b.file
	na := fmt.Sprintf("%s/%02d-%s.md", dir, b.num, a.slug)
	nb := fmt.Sprintf("%s/%02d-%s.md", dir, a.num, b.slug)
	return renamed(tree, []FileChange{{Path: pa, Delete: true}, {Path: pb, Delete: true}, {Path: na, Data: tree[pa].Data, From: pa}, {Path: nb, Data: tree[pb].Data, From: pb}},
		[][2]string{{pa, na}, {pb, nb}}), nil
}

// ArchiveSection takes a section out of the course: its file moves under
// archive/ (kept, with its history and the learners' progress records),
// the module's minutes shrink, and its address redirects to the module.
func ArchiveSection(tree fstest.MapFS, module, slug string) ([]FileChange, error) {
	dir, err := moduleDirOf(tree, module)
	if err != nil {
		return nil, err
	}
	secs := sectionsOf(tree, dir)
	var kept []sectionEntry
	var gone *sectionEntry
	for i, s := range secs {
		if s.slug == slug {
			gone = &secs[i]
			continue
		}
		kept = append(kept, s)
	}
	if gone == nil {
		return nil, ErrNoSection.With(module, slug)
	}
	if len(kept) == 0 {
		return nil, ErrLastSection
	}
	p := dir + "/" + gone.file
	mod, err := withModuleMinutes(tree, dir, kept)
	if err != nil {
		return nil, err
	}
	red, err := withRedirects(tree, [][2]string{{"/osiot/" + module + "/" + slug, "/osiot/" + module}})
	if err != nil {
		return nil, err
	}
	archived := archiveDir + "/" + p + "." + time.Now().UTC().Format("20060102T150405")
	return []FileChange{{Path: p, Delete: true}, {Path: archived, Data: tree[p].Data, From: p}, mod, red}, nil
}

// Apply is a copy of tree with changes made.
func Apply(tree fstest.MapFS, changes []FileChange) fstest.MapFS {
	out := make(fstest.MapFS, len(tree)+len(changes))
	for k, v := range tree {
		out[k] = v
	}
	for _, ch := range changes {
		if ch.Delete {
			delete(out, ch.Path)
		} else {
			out[ch.Path] = &fstest.MapFile{Data: ch.Data, Mode: 0o444}
		}
	}
	return out
}

// Figure images an author may upload, by the type their content shows.
var figureTypes = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/svg+xml": ".svg"}

// MaxFigureSize bounds an uploaded figure.
const MaxFigureSize = 4 << 20

// AddFigure stores an image in the kuvat/ folder of the module that the
// content file page belongs to, under a free name made from name, and
// returns the change and the src that the page's ::kuva block uses.
// contentType is what the bytes are (sniffed by the caller).
func AddFigure(tree fstest.MapFS, page, name, contentType string, data []byte) (FileChange, string, error) {
	dir := path.Dir(page)
	if !strings.HasPrefix(page, "modules/") || moduleDirRE.FindStringSubmatch(path.Base(dir)) == nil {
		return FileChange{}, "", ErrFigurePage
	}
	ext, ok := figureTypes[contentType]
	if !ok {
		return FileChange{}, "", ErrFigureFormat
	}
	if len(data) == 0 || len(data) > MaxFigureSize {
		return FileChange{}, "", ErrFigureTooLarge.With(MaxFigureSize >> 20)
	}
	if contentType == "image/svg+xml" {
		if probs := checkSVG(data); len(probs) > 0 {
			return FileChange{}, "", ErrFigureSVG.With(probs[0].line, probs[0].msg)
		}
	}
	base := strings.TrimSuffix(strings.ToLower(path.Base(name)), path.Ext(name))
	var b strings.Builder
	for _, r := range strings.NewReplacer("ä", "a", "ö", "o", "å", "a").Replace(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		slug = "kuva"
	}
	if len(slug) > 60 {
		slug = strings.Trim(slug[:60], "-")
	}
	src := "kuvat/" + slug + ext
	for n := 2; tree[dir+"/"+src] != nil; n++ {
		src = fmt.Sprintf("kuvat/%s-%d%s", slug, n, ext)
	}
	return FileChange{Path: dir + "/" + src, Data: data}, src, nil
}

// FigureBlock is the ::kuva block that shows src with its caption and
// alternative text.
func FigureBlock(src, caption, alt string) string {
	clean := func(s string) string {
		return strings.NewReplacer("\n", " ", "\r", " ", `"`, "”", "[", "(", "]", ")").Replace(strings.TrimSpace(s))
	}
	return fmt.Sprintf("::kuva[%s]{src=\"%s\" alt=\"%s\"}\n", clean(caption), src, clean(alt))
}

var orderLineRE = regexp.MustCompile(`(?m)^order:[ \t]*\d+[ \t]*$`)

// MoveModule moves a module one place earlier (−1) or later (+1) by
// swapping the order numbers of two module.md files; folders and
// addresses stay as they are.
func MoveModule(tree fstest.MapFS, module string, delta int) ([]FileChange, error) {
	if delta != -1 && delta != 1 {
		return nil, ErrMoveStep
	}
	c, _ := Load(tree)
	all := c.AllModules() // hidden ones keep their place among the others
	i := -1
	for k, m := range all {
		if m.Slug == module {
			i = k
		}
	}
	if i < 0 {
		return nil, ErrNoModule.With(module)
	}
	j := i + delta
	if j < 0 || j >= len(all) {
		return nil, ErrAtEnd
	}
	a, b := all[i], all[j]
	setOrder := func(m *Module, order int) (FileChange, error) {
		f, ok := tree[m.File]
		if !ok {
			return FileChange{}, fmt.Errorf("%s is missing", m.File)
		}
		front, _, _, err := SplitFrontmatter(f.Data)
		if err != nil {
			return FileChange{}, fmt.Errorf("%s: %w", m.File, err)
		}
		loc := orderLineRE.FindIndex(front)
		if loc == nil {
			return FileChange{}, ErrNoOrderLine.With(m.File)
		}
		start := strings.Index(string(f.Data), string(front))
		return FileChange{Path: m.File, Data: []byte(string(f.Data[:start+loc[0]]) + "order: " + strconv.Itoa(order) + string(f.Data[start+loc[1]:]))}, nil
	}
	ca, err := setOrder(a, b.Order)
	if err != nil {
		return nil, err
	}
	cb, err := setOrder(b, a.Order)
	if err != nil {
		return nil, err
	}
	return []FileChange{ca, cb}, nil
}
