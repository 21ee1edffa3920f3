package course

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Structure changes of whole modules: adding one (hidden until it is
// ready), showing and hiding it, giving it a new address and archiving
// it. A module's folder name NN-slug is referred to from outside the
// folder — by its exam file exam/NN-slug.yaml, the modules: lists of
// legislation.yaml and the glossary, media transcripts' module: and links
// ../NN-slug/… of other modules' pages — and each change carries those
// along, so that the course checks cleanly after it.

// AddModule adds a hidden module at the end of the course: its folder
// with module.md, and when the course has an exam, an exam file with no
// items yet. The author writes sections, objectives and exam items and
// then shows the module to learners.
func AddModule(tree fstest.MapFS, slug, title, summary string) ([]FileChange, error) {
	title, summary = strings.TrimSpace(title), strings.TrimSpace(summary)
	switch {
	case !validModuleSlug(slug):
		return nil, moduleSlugError(slug)
	case title == "" || utf8.RuneCountInString(title) > 200 || strings.ContainsAny(title, "\n\r\u2028\u2029\u0085"):
		return nil, ErrModuleTitle
	case summary == "" || utf8.RuneCountInString(summary) > 1000:
		return nil, ErrModuleSummary
	}
	num, order := 0, 0
	for _, dir := range moduleDirs(tree) {
		m := moduleDirRE.FindStringSubmatch(path.Base(dir))
		if m[2] == slug {
			return nil, ErrModuleExists.With(slug)
		}
		n, _ := strconv.Atoi(m[1])
		num = max(num, n)
		if front, _, _, err := SplitFrontmatter(tree[dir+"/module.md"].Data); err == nil {
			var meta struct {
				Order int `yaml:"order"`
			}
			_ = yaml.Unmarshal(front, &meta)
			order = max(order, meta.Order)
		}
	}
	if num >= 99 {
		return nil, ErrTooManyModules
	}
	name := fmt.Sprintf("%02d-%s", num+1, slug)
	q := func(s string) string {
		b, _ := yaml.Marshal(s)
		return strings.TrimSuffix(string(b), "\n")
	}
	mod := fmt.Sprintf("---\ntitle: %s\norder: %d\n%shidden: true\nsummary: %s\nobjectives: []\nminutes: 0\n---\n## %s\n\nKirjoita moduulin johdanto tähän.\n",
		q(title), order+1, addModuleComment, q(summary), title)
	changes := []FileChange{{Path: "modules/" + name + "/module.md", Data: []byte(mod)}}
	if _, ok := tree["exam/exam.yaml"]; ok {
		exam := fmt.Sprintf("# The exam items of the module %s: docs/authoring.md shows how to write them.\nmodule: %s\nitems: []\n", name, name)
		changes = append(changes, FileChange{Path: "exam/" + name + ".yaml", Data: []byte(exam)})
	}
	// A redirect from the address (a module renamed or archived once)
	// keeps working while the new module is hidden; showing it drops it.
	return changes, nil
}

// folderLikeRE: a slug that starts like a folder name (NN-) would read as
// another module's folder in the files that name modules by folder.
var folderLikeRE = regexp.MustCompile(`^\d\d-`)

func validModuleSlug(s string) bool { return ValidSlug(s) && !folderLikeRE.MatchString(s) }

func moduleSlugError(s string) error {
	return ErrModuleSlug.With(s)
}

// moduleDirs lists the module folders of tree, sorted.
func moduleDirs(tree fstest.MapFS) []string {
	var out []string
	for p := range tree {
		if strings.HasPrefix(p, "modules/") && path.Base(p) == "module.md" && moduleDirRE.MatchString(path.Base(path.Dir(p))) && path.Dir(path.Dir(p)) == "modules" {
			out = append(out, path.Dir(p))
		}
	}
	sort.Strings(out)
	return out
}

// hiddenLineRE is any hidden: line of module.md's front matter, whatever
// its value (true, True, on, "true", …).
var hiddenLineRE = regexp.MustCompile(`(?m)^hidden:[^\n]*(\n|$)`)

// addModuleComment is the line AddModule writes above hidden: true.
const addModuleComment = "# Learners see the module once this line is gone (the studio's \"Show\").\n"

// SetModuleHidden shows a hidden module to learners (hidden false) or
// hides a shown one: its module.md gets or loses the line hidden: true.
// Showing it checks it as a module of the course: sections, objectives
// and enough exam items. Its own addresses stop redirecting elsewhere
// once learners can open them.
func SetModuleHidden(tree fstest.MapFS, module string, hidden bool) ([]FileChange, error) {
	dir, err := moduleDirOf(tree, module)
	if err != nil {
		return nil, err
	}
	p := dir + "/module.md"
	data := string(tree[p].Data)
	front, _, _, err := SplitFrontmatter(tree[p].Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	start := strings.Index(data, string(front))
	head, rest := data[:start], data[start:]
	fm, after := rest[:len(front)], rest[len(front):]
	fm = strings.Replace(fm, addModuleComment, "", 1)
	fm = hiddenLineRE.ReplaceAllString(fm, "")
	if hidden {
		if !strings.HasSuffix(fm, "\n") {
			fm += "\n"
		}
		fm += "hidden: true\n"
	}
	// Whatever the file said, it must now say what was asked.
	var meta struct {
		Hidden bool `yaml:"hidden"`
	}
	if err := yaml.Unmarshal([]byte(fm), &meta); err != nil || meta.Hidden != hidden {
		return nil, ErrHiddenLine.With(p)
	}
	changes := []FileChange{{Path: p, Data: []byte(head + fm + after)}}
	if !hidden {
		addrs := []string{modulesPage + "/" + module}
		for _, sec := range sectionsOf(tree, dir) {
			addrs = append(addrs, modulesPage+"/"+module+"/"+sec.slug)
		}
		if red, ok, err := withoutRedirectsFrom(tree, addrs...); err != nil {
			return nil, err
		} else if ok {
			changes = append(changes, red)
		}
	}
	return changes, nil
}

// RenameModule gives a module a new address part: its folder
// modules/NN-slug becomes modules/NN-newSlug with every file in it, its
// exam and self-check files follow, the references to the folder name are rewritten,
// and the old addresses of the module and its sections redirect to the
// new ones.
func RenameModule(tree fstest.MapFS, module, newSlug string) ([]FileChange, error) {
	dir, err := moduleDirOf(tree, module)
	if err != nil {
		return nil, err
	}
	if !validModuleSlug(newSlug) {
		return nil, moduleSlugError(newSlug)
	}
	if newSlug == module {
		return nil, ErrSameAddress
	}
	if _, err := moduleDirOf(tree, newSlug); err == nil {
		return nil, ErrModuleExists.With(newSlug)
	}
	oldName := path.Base(dir)
	num := moduleDirRE.FindStringSubmatch(oldName)[1]
	newName := num + "-" + newSlug
	newDir := "modules/" + newName
	var changes []FileChange
	redirects := [][2]string{{modulesPage + "/" + module, modulesPage + "/" + newSlug}}
	for _, p := range sortedPaths(tree) {
		if !strings.HasPrefix(p, dir+"/") {
			continue
		}
		np := newDir + strings.TrimPrefix(p, dir)
		changes = append(changes, FileChange{Path: p, Delete: true}, FileChange{Path: np, Data: tree[p].Data, From: p})
		if path.Dir(p) == dir {
			if m := sectionFileRE.FindStringSubmatch(path.Base(p)); m != nil {
				redirects = append(redirects, [2]string{modulesPage + "/" + module + "/" + m[2], modulesPage + "/" + newSlug + "/" + m[2]})
			}
		}
	}
	for _, folder := range []string{"exam/", "quizzes/"} {
		if old := folder + oldName + ".yaml"; tree[old] != nil {
			np := folder + newName + ".yaml"
			data := regexp.MustCompile(`(?m)^module:[ \t]*["']?`+regexp.QuoteMeta(oldName)+`["']?[ \t]*$`).ReplaceAllString(string(tree[old].Data), "module: "+newName)
			changes = append(changes, FileChange{Path: old, Delete: true}, FileChange{Path: np, Data: []byte(data), From: old})
		}
	}
	next := Apply(tree, changes)
	changes = append(changes, moduleReferences(next, oldName, module, func(n string) string {
		if n == oldName {
			return newName
		}
		return newSlug
	})...)
	// Links and figures of other modules' pages: ../NN-slug/… → ../NN-newSlug/…
	for _, p := range sortedPaths(next) {
		if !strings.HasPrefix(p, "modules/") || !strings.HasSuffix(p, ".md") {
			continue
		}
		text := string(next[p].Data)
		nt := strings.NewReplacer("](../"+oldName+"/", "](../"+newName+"/", `src="../`+oldName+"/", `src="../`+newName+"/").Replace(text)
		if nt != text {
			changes = append(changes, FileChange{Path: p, Data: []byte(nt)})
		}
	}
	red, err := withRedirects(tree, redirects)
	if err != nil {
		return nil, err
	}
	return lastChanges(append(changes, red)), nil
}

// ArchiveModule takes a module out of the course: its folder, exam and
// self-check files move under archive/ (kept, with their history and the learners'
// progress records), the modules: lists drop it, and the addresses of the
// module and its sections lead to the module list. Links to it from other
// modules' pages stay: the check refuses the change until they are gone.
func ArchiveModule(tree fstest.MapFS, module string) ([]FileChange, error) {
	dir, err := moduleDirOf(tree, module)
	if err != nil {
		return nil, err
	}
	name := path.Base(dir)
	stamp := "." + time.Now().UTC().Format("20060102T150405")
	var changes []FileChange
	redirects := [][2]string{{modulesPage + "/" + module, modulesPage}}
	for _, p := range sortedPaths(tree) {
		if !strings.HasPrefix(p, dir+"/") {
			continue
		}
		changes = append(changes, FileChange{Path: p, Delete: true},
			FileChange{Path: archiveDir + "/" + dir + stamp + strings.TrimPrefix(p, dir), Data: tree[p].Data, From: p})
		if path.Dir(p) == dir {
			if m := sectionFileRE.FindStringSubmatch(path.Base(p)); m != nil {
				redirects = append(redirects, [2]string{modulesPage + "/" + module + "/" + m[2], modulesPage})
			}
		}
	}
	for _, file := range []string{"exam/" + name + ".yaml", "quizzes/" + name + ".yaml"} {
		if tree[file] != nil {
			changes = append(changes, FileChange{Path: file, Delete: true}, FileChange{Path: archiveDir + "/" + file + stamp, Data: tree[file].Data, From: file})
		}
	}
	changes = append(changes, moduleReferences(tree, name, module, func(string) string { return "" })...)
	red, err := withRedirects(tree, redirects)
	if err != nil {
		return nil, err
	}
	return append(changes, red), nil
}

// moduleReferences rewrites the references to a module folder outside it:
// the modules: lists of legislation.yaml and the glossary (which name a
// module by its folder or its slug) and media transcripts' module:. The
// replacement of a name is to(name); "" drops it from the lists.
func moduleReferences(tree fstest.MapFS, folder, slug string, to func(string) string) []FileChange {
	var out []FileChange
	names := map[string]bool{folder: true, slug: true}
	for _, p := range []string{"legislation.yaml", "glossary/concepts.yaml"} {
		f := tree[p]
		if f == nil {
			continue
		}
		if data := rewriteModuleLists(string(f.Data), names, to); data != string(f.Data) {
			out = append(out, FileChange{Path: p, Data: []byte(data)})
		}
	}
	for _, p := range sortedPaths(tree) {
		if !strings.HasPrefix(p, "media/") || !strings.HasSuffix(p, ".md") {
			continue
		}
		data := string(tree[p].Data)
		front, _, _, err := SplitFrontmatter(tree[p].Data)
		if err != nil {
			continue
		}
		start := strings.Index(data, string(front))
		fm := moduleLineRE.ReplaceAllStringFunc(string(front), func(line string) string {
			v := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "module:")), `"'`)
			if !names[v] {
				return line
			}
			if n := to(v); n != "" {
				return "module: " + n + line[len(strings.TrimRight(line, "\n")):]
			}
			return ""
		})
		if fm != string(front) {
			out = append(out, FileChange{Path: p, Data: []byte(data[:start] + fm + data[start+len(front):])})
		}
	}
	return out
}

var moduleLineRE = regexp.MustCompile(`(?m)^module:[^\n]*\n?`)

// rewriteModuleLists maps the entries of every modules: list of a YAML
// text, flow ([a, b]) or block (- a), that names is true of.
func rewriteModuleLists(data string, names map[string]bool, to func(string) string) string {
	lines := strings.SplitAfter(data, "\n")
	var b strings.Builder
	block := -1 // the indentation of a block list's "modules:" key, or -1
	for _, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		eol := line[len(body):]
		trimmed := strings.TrimSpace(body)
		indent := len(body) - len(strings.TrimLeft(body, " "))
		if block >= 0 {
			if v, ok := strings.CutPrefix(trimmed, "- "); ok && indent >= block {
				name := strings.Trim(strings.TrimSpace(v), `"'`)
				if names[name] {
					if n := to(name); n != "" {
						b.WriteString(body[:indent] + "- " + n + eol)
					}
					continue
				}
				b.WriteString(line)
				continue
			}
			block = -1
		}
		key, val, ok := strings.Cut(trimmed, "modules:")
		if !ok || strings.TrimLeft(key, "- ") != "" {
			b.WriteString(line)
			continue
		}
		val = strings.TrimSpace(val)
		if val == "" {
			block = indent
			b.WriteString(line)
			continue
		}
		if !strings.HasPrefix(val, "[") || !strings.HasSuffix(val, "]") {
			b.WriteString(line)
			continue
		}
		var kept []string
		changed := false
		for _, item := range strings.Split(strings.Trim(val, "[]"), ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			quote := ""
			if strings.HasPrefix(item, `"`) {
				quote = `"`
			}
			name := strings.Trim(item, `"'`)
			if names[name] {
				changed = true
				if n := to(name); n != "" {
					kept = append(kept, quote+n+quote)
				}
				continue
			}
			kept = append(kept, item)
		}
		if !changed {
			b.WriteString(line)
			continue
		}
		at := strings.Index(body, "modules:")
		b.WriteString(body[:at] + "modules: [" + strings.Join(kept, ", ") + "]" + eol)
	}
	return b.String()
}

// sortedPaths lists the paths of tree in order.
func sortedPaths(tree fstest.MapFS) []string {
	out := make([]string, 0, len(tree))
	for p := range tree {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// lastChanges keeps one change per path, the last, which keeps where
// the file moved from.
func lastChanges(changes []FileChange) []FileChange {
	last := map[string]int{}
	from := map[string]string{}
	for i, ch := range changes {
		last[ch.Path] = i
		if ch.From != "" {
			from[ch.Path] = ch.From
		}
	}
	var out []FileChange
	for i, ch := range changes {
		if last[ch.Path] == i {
			if !ch.Delete {
				ch.From = from[ch.Path]
			}
			out = append(out, ch)
		}
	}
	return out
}
