package course_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
)

// bundledTree is the real course as a tree the structure changes work on.
func bundledTree(t testing.TB) fstest.MapFS {
	t.Helper()
	tree := fstest.MapFS{}
	err := fs.WalkDir(content.Bundled(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		data, err := fs.ReadFile(content.Bundled(), p)
		tree[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// loadClean loads tree with changes made and fails on any problem.
func loadClean(t *testing.T, tree fstest.MapFS, changes []course.FileChange) (*course.Course, fstest.MapFS) {
	t.Helper()
	next := course.Apply(tree, changes)
	c, problems := course.Load(next)
	if len(problems) > 0 {
		t.Fatalf("the course after the change has problems:\n%s", problems.Error())
	}
	return c, next
}

func TestAddShowAndHideModule(t *testing.T) {
	tree := bundledTree(t)
	before, _ := course.Load(tree)
	ch, err := course.AddModule(tree, "uusi-moduuli", "Uusi moduuli: \"kokeilu\"", "Moduulissa kokeillaan.")
	if err != nil {
		t.Fatal(err)
	}
	c, tree1 := loadClean(t, tree, ch)
	// Hidden: not in the course, the exam or the minutes; the studio sees it.
	if len(c.Modules) != len(before.Modules) || len(c.Hidden) != 1 || c.TotalMinutes() != before.TotalMinutes() {
		t.Fatalf("after adding: %d modules, %d hidden, %d min", len(c.Modules), len(c.Hidden), c.TotalMinutes())
	}
	if _, ok := c.Module("uusi-moduuli"); ok {
		t.Fatal("a hidden module is part of the course")
	}
	m, ok := c.AnyModule("uusi-moduuli")
	if !ok || m.Dir != "modules/05-uusi-moduuli" || m.Title != `Uusi moduuli: "kokeilu"` || m.Order != 5 || !m.Hidden {
		t.Fatalf("the new module: %+v", m)
	}
	if tree1["exam/05-uusi-moduuli.yaml"] == nil {
		t.Fatal("no exam file for the new module")
	}
	for _, bad := range [][3]string{{"Iso", "x", "y"}, {"tyokyvyn-tuki", "x", "y"}, {"ok", "", "y"}, {"ok", "x", ""}} {
		if _, err := course.AddModule(tree, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("AddModule(%q, %q, %q) accepted", bad[0], bad[1], bad[2])
		}
	}
	// Sections are added to it as to any module.
	ch, err = course.AddSection(tree1, "uusi-moduuli", "aloitus", "Aloitus", 30)
	if err != nil {
		t.Fatal(err)
	}
	_, tree2 := loadClean(t, tree1, ch)
	// A shown page may not link to it while it is hidden.
	linker := "modules/01-tyokyvyn-tuki/11-yhteenveto.md"
	linked := course.WithFile(tree2, linker, append(append([]byte(nil), tree2[linker].Data...), "\n[Uusi](../05-uusi-moduuli/01-aloitus.md)\n"...))
	if _, problems := course.Load(linked); !strings.Contains(problems.Error(), "hidden module") {
		t.Fatalf("a link to a hidden page: %v", problems)
	}
	// Showing it checks it as a module of the course: objectives and
	// exam items are missing.
	show, err := course.SetModuleHidden(tree2, "uusi-moduuli", false)
	if err != nil {
		t.Fatal(err)
	}
	_, problems := course.Load(course.Apply(tree2, show))
	if msg := problems.Error(); !strings.Contains(msg, "no learning objectives") || !strings.Contains(msg, "module uusi-moduuli has 0 exam items") {
		t.Fatalf("showing an unfinished module: %v", problems)
	}
	// Written: objectives and five items.
	mod := strings.Replace(string(tree2["modules/05-uusi-moduuli/module.md"].Data), "objectives: []", "objectives:\n  - Osaat kokeilla.", 1)
	items := strings.ReplaceAll(string(tree2["exam/01-tyokyvyn-tuki.yaml"].Data), "id: m1-", "id: m5-")
	items = strings.Replace(items, "module: 01-tyokyvyn-tuki", "module: 05-uusi-moduuli", 1)
	items = regexp.MustCompile(`(?m)^\s*objective: \d+\n`).ReplaceAllString(items, "") // the new module has one objective
	tree3 := course.Apply(tree2, []course.FileChange{{Path: "modules/05-uusi-moduuli/module.md", Data: []byte(mod)}, {Path: "exam/05-uusi-moduuli.yaml", Data: []byte(items)}})
	show, err = course.SetModuleHidden(tree3, "uusi-moduuli", false)
	if err != nil {
		t.Fatal(err)
	}
	c, tree4 := loadClean(t, tree3, show)
	if len(c.Modules) != len(before.Modules)+1 || c.Modules[len(c.Modules)-1].Slug != "uusi-moduuli" || len(c.Hidden) != 0 {
		t.Fatalf("after showing: %d modules, %d hidden", len(c.Modules), len(c.Hidden))
	}
	if strings.Contains(string(tree4["modules/05-uusi-moduuli/module.md"].Data), "hidden") {
		t.Fatalf("the flag stayed:\n%s", tree4["modules/05-uusi-moduuli/module.md"].Data)
	}
	// And hidden again.
	hide, err := course.SetModuleHidden(tree4, "uusi-moduuli", true)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ = loadClean(t, tree4, hide); len(c.Hidden) != 1 {
		t.Fatal("hiding did not hide the module")
	}
}

func TestRenameModule(t *testing.T) {
	tree := bundledTree(t)
	before, _ := course.Load(tree)
	old, _ := before.Module("monialainen-tyo")
	// A page of another module links into it and shows its figure, to see both follow.
	linker := "modules/01-tyokyvyn-tuki/11-yhteenveto.md"
	tree = course.WithFile(tree, linker, append(append([]byte(nil), tree[linker].Data...), "\nKatso [yhdyspinnat](../02-monialainen-tyo/02-yhdyspinnat.md).\n\n::kuva[Yhdyspinnat]{src=\"../02-monialainen-tyo/kuvat/yhdyspinnat.svg\" alt=\"Kaavio yhdyspinnoista\"}\n"...))
	ch, err := course.RenameModule(tree, "monialainen-tyo", "monialaisuus")
	if err != nil {
		t.Fatal(err)
	}
	c, next := loadClean(t, tree, ch)
	m, ok := c.Module("monialaisuus")
	if !ok || m.Dir != "modules/02-monialaisuus" || len(m.Sections) != len(old.Sections) || m.Order != old.Order {
		t.Fatalf("the renamed module: %+v", m)
	}
	if _, ok := c.Module("monialainen-tyo"); ok {
		t.Fatal("the old module is still there")
	}
	if len(c.Exam.ByModule["monialaisuus"]) != len(before.Exam.ByModule["monialainen-tyo"]) {
		t.Fatal("the exam items did not follow the module")
	}
	if c.Redirects["/osiot/monialainen-tyo"] != "/osiot/monialaisuus" || c.Redirects["/osiot/monialainen-tyo/yhdyspinnat"] != "/osiot/monialaisuus/yhdyspinnat" {
		t.Fatalf("redirects = %v", c.Redirects)
	}
	// Nothing refers to the old folder any more, but the redirects.
	for p, f := range next {
		if p != course.RedirectsFile && strings.Contains(string(f.Data), "02-monialainen-tyo") {
			t.Errorf("%s still names 02-monialainen-tyo", p)
		}
	}
	for _, k := range c.Concepts {
		if k.ID == "yhdyspinta" && !strings.Contains(strings.Join(k.Modules, ","), "02-monialaisuus") {
			t.Errorf("the glossary's modules: %v", k.Modules)
		}
	}
	if item := c.Media["m2-tiedonkulku-yhdyspinnalla"]; item == nil || item.Module != "02-monialaisuus" {
		t.Fatalf("the transcript's module: %+v", item)
	}
	// Every kuvat/ file moved too.
	for p := range tree {
		if strings.HasPrefix(p, "modules/02-monialainen-tyo/") && next["modules/02-monialaisuus/"+strings.TrimPrefix(p, "modules/02-monialainen-tyo/")] == nil {
			t.Errorf("%s did not move", p)
		}
	}
	// Each moved file says where it came from (drafts follow).
	from := map[string]string{}
	for _, f := range ch {
		from[f.Path] = f.From
	}
	if from["modules/02-monialaisuus/02-yhdyspinnat.md"] != "modules/02-monialainen-tyo/02-yhdyspinnat.md" || from["exam/02-monialaisuus.yaml"] != "exam/02-monialainen-tyo.yaml" {
		t.Fatalf("moves: %v", from)
	}
	// Back again: the address is a page again and its redirect goes.
	back, err := course.RenameModule(next, "monialaisuus", "monialainen-tyo")
	if err != nil {
		t.Fatal(err)
	}
	c, _ = loadClean(t, next, back)
	if _, ok := c.Redirects["/osiot/monialainen-tyo"]; ok || c.Redirects["/osiot/monialaisuus"] != "/osiot/monialainen-tyo" {
		t.Fatalf("redirects after renaming back = %v", c.Redirects)
	}
	for _, bad := range []string{"Iso", "tyokyvyn-tuki", "monialainen-tyo"} {
		if _, err := course.RenameModule(tree, "monialainen-tyo", bad); err == nil {
			t.Errorf("RenameModule to %q accepted", bad)
		}
	}
}

func TestArchiveModule(t *testing.T) {
	tree := bundledTree(t)
	before, _ := course.Load(tree)
	ch, err := course.ArchiveModule(tree, "asiakasosallisuus")
	if err != nil {
		t.Fatal(err)
	}
	c, next := loadClean(t, tree, ch)
	if len(c.Modules) != len(before.Modules)-1 || len(c.Exam.ByModule["asiakasosallisuus"]) != 0 {
		t.Fatalf("after archiving: %d modules", len(c.Modules))
	}
	if c.Redirects["/osiot/asiakasosallisuus"] != "/osiot" || c.Redirects["/osiot/asiakasosallisuus/oikeudet-ja-lait"] != "/osiot" {
		t.Fatalf("redirects = %v", c.Redirects)
	}
	kept := 0
	for p := range next {
		if strings.HasPrefix(p, "archive/modules/03-asiakasosallisuus.") || strings.HasPrefix(p, "archive/exam/03-asiakasosallisuus.yaml.") {
			kept++
		}
		if strings.HasPrefix(p, "modules/03-") || p == "exam/03-asiakasosallisuus.yaml" {
			t.Errorf("%s is still in the course", p)
		}
	}
	if want := 1; kept < len(before.Modules[2].Sections)+1+want {
		t.Fatalf("%d files kept in the archive", kept)
	}
	for _, p := range []string{"legislation.yaml", "glossary/concepts.yaml"} {
		if strings.Contains(string(next[p].Data), "03-asiakasosallisuus") {
			t.Errorf("%s still lists the module", p)
		}
	}
	// A module other pages link to: the links are reported to fix first.
	linker := "modules/01-tyokyvyn-tuki/11-yhteenveto.md"
	linked := course.WithFile(tree, linker, append(append([]byte(nil), tree[linker].Data...), "\n[Osallisuus](../03-asiakasosallisuus/01-mita-asiakasosallisuus-on.md)\n"...))
	ch, _ = course.ArchiveModule(linked, "asiakasosallisuus")
	if _, problems := course.Load(course.Apply(linked, ch)); !strings.Contains(problems.Error(), "broken link") {
		t.Fatalf("archiving a linked module: %v", problems)
	}
	// The last module learners see cannot go.
	one := tree
	for _, slug := range []string{"tyokyvyn-tuki", "monialainen-tyo", "asiakasosallisuus"} {
		ch, err := course.ArchiveModule(one, slug)
		if err != nil {
			t.Fatal(err)
		}
		_, one = loadClean(t, one, ch)
	}
	ch, _ = course.ArchiveModule(one, "tyokykyjohtaminen")
	if _, problems := course.Load(course.Apply(one, ch)); !strings.Contains(problems.Error(), "no modules that learners see") {
		t.Fatalf("archiving the last module: %v", problems)
	}
}

// An address that moved away can be taken again: by a new module after
// an archive, by a new section after a rename.
func TestAddressesTakenAgain(t *testing.T) {
	tree := bundledTree(t)
	ch, err := course.ArchiveModule(tree, "asiakasosallisuus")
	if err != nil {
		t.Fatal(err)
	}
	_, tree = loadClean(t, tree, ch)
	ch, err = course.AddModule(tree, "asiakasosallisuus", "Asiakasosallisuus uudelleen", "Uusi moduuli vanhalla osoitteella.")
	if err != nil {
		t.Fatal(err)
	}
	c, tree := loadClean(t, tree, ch)
	// Hidden, it leaves the old address leading to the module list …
	if c.Redirects["/osiot/asiakasosallisuus"] != "/osiot" {
		t.Fatalf("redirects after adding a hidden module at the old address: %v", c.Redirects)
	}
	// … until it is shown: then the address is the module's again.
	show, err := course.SetModuleHidden(tree, "asiakasosallisuus", false)
	if err != nil {
		t.Fatal(err)
	}
	var redirects string
	for _, f := range show {
		if f.Path == course.RedirectsFile {
			redirects = string(f.Data)
		}
	}
	if !strings.Contains(redirects, "from: /osiot/asiakasosallisuus/oikeudet-ja-lait") || strings.Contains(redirects, "from: /osiot/asiakasosallisuus\n") {
		t.Fatalf("redirects when showing the module:\n%s", redirects)
	}
	// A section renamed away, and a new one with its old address.
	ch, err = course.RenameSection(tree, "tyokyvyn-tuki", "palvelupolku", "polku")
	if err != nil {
		t.Fatal(err)
	}
	_, tree = loadClean(t, tree, ch)
	ch, err = course.AddSection(tree, "tyokyvyn-tuki", "palvelupolku", "Palvelupolku uudelleen", 10)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ = loadClean(t, tree, ch); c.Redirects["/osiot/tyokyvyn-tuki/palvelupolku"] != "" {
		t.Fatalf("the new section's address still redirects: %v", c.Redirects)
	}
}

func TestSetModuleHiddenReadsAnyHiddenLine(t *testing.T) {
	tree := bundledTree(t)
	const p = "modules/02-monialainen-tyo/module.md"
	tried := 0
	for _, line := range []string{"hidden: True", "hidden: yes", "hidden: \"true\"", "hidden: true  # kesken"} {
		orig := string(tree[p].Data)
		withLine := strings.Replace(orig, "order: 2\n", "order: 2\n"+line+"\n", 1)
		hiddenTree := course.WithFile(tree, p, []byte(withLine))
		c, _ := course.Load(hiddenTree)
		if _, ok := c.Module("monialainen-tyo"); ok {
			continue // YAML did not read it as hidden: nothing to show
		}
		tried++
		ch, err := course.SetModuleHidden(hiddenTree, "monialainen-tyo", false)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if c, _ := loadClean(t, hiddenTree, ch); len(c.Hidden) != 0 {
			t.Errorf("%s: still hidden after showing", line)
		}
		ch, err = course.SetModuleHidden(hiddenTree, "monialainen-tyo", true)
		if err != nil {
			t.Fatalf("%s: hiding again: %v", line, err)
		}
		if strings.Count(string(ch[0].Data), "hidden:") != 1 {
			t.Errorf("%s: hiding again wrote\n%s", line, ch[0].Data)
		}
	}
	if tried < 2 {
		t.Fatalf("only %d of the hidden: lines hid the module", tried)
	}
	if _, err := course.AddModule(tree, "01-kopio", "Kopio", "x"); err == nil || !strings.Contains(err.Error(), "two digits") {
		t.Fatalf("a folder-like address = %v", err)
	}
	if _, err := course.RenameModule(tree, "monialainen-tyo", "01-tyokyvyn-tuki"); err == nil {
		t.Fatal("renamed a module to another module's folder name")
	}
}
