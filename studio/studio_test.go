package studio

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/study"
)

func TestEditablePath(t *testing.T) {
	for p, want := range map[string]bool{
		"modules/01-tyokyvyn-tuki/01-alku.md": true, "course.yaml": true, "exam/exam.yaml": true,
		"../etc/passwd": false, "/course.yaml": false, "modules/x.svg": false, ".git/config": false, "a/.hidden.md": false, "": false,
	} {
		if EditablePath(p) != want {
			t.Errorf("EditablePath(%q) = %v", p, !want)
		}
	}
}

// storeOnFixture is a content store on a fresh database with the fixture
// course imported.
func storeOnFixture(t *testing.T) (context.Context, *database.DB, *Store) {
	t.Helper()
	ctx := context.Background()
	db := env.Database()
	if err := EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	store := NewStore(db)
	if _, _, err := store.Import(ctx, testenv.CourseFixture(t, nil), "test"); err != nil {
		t.Fatal(err)
	}
	return ctx, db, store
}

func TestPublishConflictRestoreAndDrafts(t *testing.T) {
	ctx, _, store := storeOnFixture(t)
	const p = "modules/01-ensimmainen/01-alku.md"
	orig, rev, err := store.File(ctx, p)
	if err != nil || rev != 1 {
		t.Fatalf("file = rev %d, %v", rev, err)
	}
	// A draft is kept apart from what learners see.
	if err := store.SaveDraft(ctx, Draft{Path: p, Data: string(orig) + "\nLuonnos.\n", BaseRev: 1, By: "a@example.fi"}); err != nil {
		t.Fatal(err)
	}
	if d, err := store.DraftOf(ctx, p); err != nil || d == nil || !strings.Contains(d.Data, "Luonnos.") || d.BaseRev != 1 {
		t.Fatalf("draft = %+v, %v", d, err)
	}
	if pub, _ := store.LoadPublished(ctx); strings.Contains(string(pub.Course.Files[p].Data), "Luonnos.") {
		t.Fatal("a draft was published")
	}
	// Two authors start from revision 1; the first publishes.
	first := string(orig) + "\nEnsimmäisen kirjoittajan lisäys.\n"
	if problems, err := store.Publish(ctx, p, []byte(first), 1, "eka@example.fi"); err != nil || len(problems) > 0 {
		t.Fatalf("first publish = %v %v", problems, err)
	}
	if d, _ := store.DraftOf(ctx, p); d != nil {
		t.Fatal("publishing left the draft")
	}
	// The second is stale: 409 with the published text; both survive.
	second := string(orig) + "\nToisen kirjoittajan lisäys.\n"
	_, err = store.Publish(ctx, p, []byte(second), 1, "toka@example.fi")
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Rev != 2 || conflict.Current != first || conflict.By != "eka@example.fi" {
		t.Fatalf("stale publish = %v", err)
	}
	// Merged and published on top of revision 2.
	merged := first + "\nToisen kirjoittajan lisäys.\n"
	if problems, err := store.Publish(ctx, p, []byte(merged), conflict.Rev, "toka@example.fi"); err != nil || len(problems) > 0 {
		t.Fatalf("merged publish = %v %v", problems, err)
	}
	// A text with problems is refused with line numbers and changes nothing.
	broken := merged + "\n:::tehtava\nkesken\n"
	problems, err := store.Publish(ctx, p, []byte(broken), 3, "toka@example.fi")
	if err != nil || len(problems) == 0 || !strings.Contains(problems[0].String(), p+":") {
		t.Fatalf("broken text = %v, %v", problems, err)
	}
	if _, rev, _ := store.File(ctx, p); rev != 3 {
		t.Fatalf("a refused publish changed the revision to %d", rev)
	}
	// Restore revision 1 as revision 4.
	if problems, err := store.Restore(ctx, p, 1, "eka@example.fi"); err != nil || len(problems) > 0 {
		t.Fatalf("restore = %v %v", problems, err)
	}
	data, rev, _ := store.File(ctx, p)
	if rev != 4 || string(data) != string(orig) {
		t.Fatalf("after restore: rev %d", rev)
	}
	hist, _ := store.History(ctx, p)
	if len(hist) != 4 || hist[0].By != "eka@example.fi" || hist[1].By != "toka@example.fi" {
		t.Fatalf("history = %+v", hist)
	}
	if _, err := store.Publish(ctx, "../../etc/passwd", []byte("x"), 0, "x"); !errors.Is(err, ErrNoFile) {
		t.Fatalf("a path outside the tree = %v", err)
	}
}

func TestStructureChanges(t *testing.T) {
	tree := testenv.CourseFixture(t, nil)
	load := func(changes []course.FileChange) *course.Course {
		t.Helper()
		c, problems := course.Load(course.Apply(tree, changes))
		if len(problems) > 0 {
			t.Fatalf("the course after the change has problems: %s", problems.Error())
		}
		return c
	}
	before, _ := course.Load(tree)
	m0, _ := before.Module("ensimmainen")

	// Add: at the end, with the module's minutes grown.
	ch, err := course.AddSection(tree, "ensimmainen", "uusi-osio", "Uusi osio: \"lainausmerkein\"", 15)
	if err != nil {
		t.Fatal(err)
	}
	c := load(ch)
	m, _ := c.Module("ensimmainen")
	last := m.Sections[len(m.Sections)-1]
	if last.Slug != "uusi-osio" || last.Title != `Uusi osio: "lainausmerkein"` || m.Minutes != m0.Minutes+15 {
		t.Fatalf("added: %s %q, module minutes %d (was %d)", last.Slug, last.Title, m.Minutes, m0.Minutes)
	}
	for _, bad := range []struct {
		slug, title string
		min         int
	}{{"Iso", "x", 5}, {"alku", "x", 5}, {"ok", "", 5}, {"ok", "x", 0}} {
		if _, err := course.AddSection(tree, "ensimmainen", bad.slug, bad.title, bad.min); err == nil {
			t.Errorf("AddSection(%q, %q, %d) accepted", bad.slug, bad.title, bad.min)
		}
	}
	// Rename: the old address redirects to the new one.
	ch, err = course.RenameSection(tree, "ensimmainen", "alku", "aloitus")
	if err != nil {
		t.Fatal(err)
	}
	c = load(ch)
	if _, ok := c.Modules[0].Section("aloitus"); !ok || c.Redirects["/osiot/ensimmainen/alku"] != "/osiot/ensimmainen/aloitus" {
		t.Fatalf("renamed: redirects %v", c.Redirects)
	}
	// Renaming again points the first redirect at the newest address.
	tree2 := course.Apply(tree, ch)
	ch2, err := course.RenameSection(tree2, "ensimmainen", "aloitus", "johdanto")
	if err != nil {
		t.Fatal(err)
	}
	c, _ = course.Load(course.Apply(tree2, ch2))
	if c.Redirects["/osiot/ensimmainen/alku"] != "/osiot/ensimmainen/johdanto" || c.Redirects["/osiot/ensimmainen/aloitus"] != "/osiot/ensimmainen/johdanto" {
		t.Fatalf("chained redirects = %v", c.Redirects)
	}
	// Move: the order changes, the addresses do not.
	ch, err = course.MoveSection(tree, "ensimmainen", "tehtava", -1)
	if err != nil {
		t.Fatal(err)
	}
	c = load(ch)
	if c.Modules[0].Sections[0].Slug != "tehtava" || c.Modules[0].Sections[1].Slug != "alku" {
		t.Fatalf("moved: %s, %s", c.Modules[0].Sections[0].Slug, c.Modules[0].Sections[1].Slug)
	}
	if _, err := course.MoveSection(tree, "ensimmainen", "tehtava", 1); err == nil {
		t.Fatal("moved past the end")
	}
	// Archive: out of the course, kept under archive/, the address
	// redirects to the module.
	added, _ := course.AddSection(tree, "ensimmainen", "uusi-osio", "Uusi osio", 15)
	tree3 := course.Apply(tree, added)
	ch, err = course.ArchiveSection(tree3, "ensimmainen", "uusi-osio")
	if err != nil {
		t.Fatal(err)
	}
	c, problems := course.Load(course.Apply(tree3, ch))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	m, _ = c.Module("ensimmainen")
	if _, ok := m.Section("uusi-osio"); ok || len(m.Sections) != len(m0.Sections) || m.Minutes != m0.Minutes || c.Redirects["/osiot/ensimmainen/uusi-osio"] != "/osiot/ensimmainen" {
		t.Fatalf("archived: %d sections, %d min, redirects %v", len(m.Sections), m.Minutes, c.Redirects)
	}
	archived := false
	for _, f := range ch {
		archived = archived || strings.HasPrefix(f.Path, "archive/modules/01-ensimmainen/03-uusi-osio.md.")
	}
	if !archived {
		t.Fatalf("no archived copy in %v", ch)
	}
	// A section other pages link to: the links are reported to fix first.
	ch, _ = course.ArchiveSection(tree, "ensimmainen", "tehtava")
	if _, problems := course.Load(course.Apply(tree, ch)); !strings.Contains(problems.Error(), "broken link") {
		t.Fatalf("archiving a linked section: %v", problems)
	}
	if _, err := course.ArchiveSection(tree, "toinen", "jatko"); err == nil {
		t.Fatal("archived a module's only section")
	}
	// A redirect that would hide a page, or lead nowhere, is a problem.
	bad := course.Apply(tree, []course.FileChange{{Path: course.RedirectsFile, Data: []byte("redirects:\n  - from: /osiot/ensimmainen/alku\n    to: /osiot/toinen\n  - from: /osiot/x/y\n    to: /osiot/ei-ole\n")}})
	if _, problems := course.Load(bad); len(problems) != 2 || !strings.Contains(problems.Error(), "would hide it") || !strings.Contains(problems.Error(), "no such module") {
		t.Fatalf("bad redirects: %v", problems)
	}
}

// progressOnFixture is the fixture course and a progress store on a
// fresh database.
func progressOnFixture(t *testing.T) (context.Context, *course.Course, *study.Progress) {
	t.Helper()
	ctx := context.Background()
	db := env.Database()
	if err := study.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	c, problems := course.Load(testenv.CourseFixture(t, nil))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	return ctx, c, study.NewProgress(db)
}

func TestRenameSectionMovesProgressAndAnswers(t *testing.T) {
	ctx, c, p := progressOnFixture(t)
	m, _ := c.Module("ensimmainen")
	sec, _ := m.Section("tehtava")
	task := sec.Body.Tasks[0].ID
	if _, err := p.Record(ctx, "u1", sec, study.Event{Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SaveAnswer(ctx, "u1", sec, task, "Vastaukseni"); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.LearnersIn(ctx, "ensimmainen", "tehtava"); n != 1 {
		t.Fatalf("learners in = %d", n)
	}
	renamed := map[string]string{"/osiot/ensimmainen/tehtava": "/osiot/ensimmainen/harjoitus", "/osiot/toinen": "/osiot/muu", "/osiot/x/y": "/osiot/x"}
	n, err := p.FollowRedirects(ctx, renamed)
	if err != nil || n != 2 {
		t.Fatalf("moved %d, %v; want the progress record and the answer", n, err)
	}
	if n, err := p.FollowRedirects(ctx, renamed); err != nil || n != 0 {
		t.Fatalf("following again moved %d, %v", n, err)
	}
	recs, _ := p.ForUser(ctx, "u1")
	if recs["ensimmainen/harjoitus"] == nil || recs["ensimmainen/tehtava"] != nil {
		t.Fatalf("progress after the rename: %v", recs)
	}
	answers, _ := p.Answers(ctx, "u1")
	if a := answers["ensimmainen.harjoitus."+task]; a == nil || a.Text != "Vastaukseni" {
		t.Fatalf("answers after the rename: %v", answers)
	}
	if n, _ := p.LearnersIn(ctx, "ensimmainen", "tehtava"); n != 0 {
		t.Fatalf("the old address still has %d learners", n)
	}
}

func TestMoveModule(t *testing.T) {
	tree := testenv.CourseFixture(t, nil)
	ch, err := course.MoveModule(tree, "toinen", -1)
	if err != nil {
		t.Fatal(err)
	}
	c, problems := course.Load(course.Apply(tree, ch))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	if c.Modules[0].Slug != "toinen" || c.Modules[1].Slug != "ensimmainen" || c.Modules[0].Dir != "modules/02-toinen" {
		t.Fatalf("order after the move: %s, %s", c.Modules[0].Slug, c.Modules[1].Slug)
	}
	if _, err := course.MoveModule(tree, "toinen", 1); err == nil {
		t.Fatal("moved past the end")
	}
	if _, err := course.MoveModule(tree, "ei-ole", 1); err == nil {
		t.Fatal("moved a module that does not exist")
	}
}

func TestDraftsFollowMovedFiles(t *testing.T) {
	ctx, _, store := storeOnFixture(t)
	const (
		alku    = "modules/01-ensimmainen/01-alku.md"
		tehtava = "modules/01-ensimmainen/02-tehtava.md"
	)
	orig, _, _ := store.File(ctx, alku)
	// One draft on the last text, one on a text published over since.
	if err := store.SaveDraft(ctx, Draft{Path: alku, Data: string(orig) + "\nLuonnos.\n", BaseRev: 1, By: "a@example.fi"}); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveDraft(ctx, Draft{Path: tehtava, Data: "vanha luonnos", BaseRev: 0, By: "b@example.fi"}); err != nil {
		t.Fatal(err)
	}
	rename := func(tree fstest.MapFS) ([]course.FileChange, error) {
		return course.RenameModule(tree, "ensimmainen", "eka")
	}
	if problems, err := store.PublishChanges(ctx, "a@example.fi", rename); err != nil || len(problems) > 0 {
		t.Fatalf("publish = %v %v", problems, err)
	}
	newAlku := "modules/01-eka/01-alku.md"
	d, err := store.DraftOf(ctx, newAlku)
	_, rev, _ := store.File(ctx, newAlku)
	if err != nil || d == nil || !strings.Contains(d.Data, "Luonnos.") || d.BaseRev != rev || rev == 0 {
		t.Fatalf("the moved draft = %+v (file rev %d), %v", d, rev, err)
	}
	if old, _ := store.DraftOf(ctx, alku); old != nil {
		t.Fatal("the draft stayed at the old path too")
	}
	// The draft publishes on its new path.
	if problems, err := store.Publish(ctx, newAlku, []byte(d.Data), d.BaseRev, "a@example.fi"); err != nil || len(problems) > 0 {
		t.Fatalf("publishing the moved draft = %v %v", problems, err)
	}
	// A draft on an older text keeps no base: publishing it shows the merge view.
	d, _ = store.DraftOf(ctx, "modules/01-eka/02-tehtava.md")
	if d == nil || d.BaseRev != 0 {
		t.Fatalf("the stale draft = %+v", d)
	}
	var conflict *ConflictError
	if _, err := store.Publish(ctx, d.Path, []byte(d.Data), d.BaseRev, "b@example.fi"); !errors.As(err, &conflict) {
		t.Fatalf("publishing the stale draft = %v", err)
	}
}

func TestRenameModuleMovesProgressAndAnswers(t *testing.T) {
	ctx, c, p := progressOnFixture(t)
	m, _ := c.Module("ensimmainen")
	for _, sec := range m.Sections {
		if _, err := p.Record(ctx, "u1", sec, study.Event{Kind: "opened"}); err != nil {
			t.Fatal(err)
		}
	}
	sec, _ := m.Section("tehtava")
	task := sec.Body.Tasks[0].ID
	if _, err := p.SaveAnswer(ctx, "u1", sec, task, "Vastaukseni"); err != nil {
		t.Fatal(err)
	}
	other, _ := c.Module("toinen")
	if _, err := p.Record(ctx, "u2", other.Sections[0], study.Event{Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.LearnersIn(ctx, "ensimmainen", ""); n != 1 {
		t.Fatalf("learners in the module = %d", n)
	}
	// The redirects the studio's module rename writes lead the records.
	ch, err := course.RenameModule(testenv.CourseFixture(t, nil), "ensimmainen", "eka")
	if err != nil {
		t.Fatal(err)
	}
	renamed, problems := course.Load(course.Apply(testenv.CourseFixture(t, nil), ch))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	n, err := p.FollowRedirects(ctx, renamed.Redirects)
	if err != nil || n != len(m.Sections)+1 {
		t.Fatalf("moved %d, %v; want %d records and the answer", n, err, len(m.Sections)+1)
	}
	recs, _ := p.ForUser(ctx, "u1")
	for _, s := range m.Sections {
		if r := recs["eka/"+s.Slug]; r == nil || r.Module != "eka" || recs["ensimmainen/"+s.Slug] != nil {
			t.Fatalf("progress after the rename: %v", recs)
		}
	}
	answers, _ := p.Answers(ctx, "u1")
	if a := answers["eka.tehtava."+task]; a == nil || a.Text != "Vastaukseni" {
		t.Fatalf("answers after the rename: %v", answers)
	}
	if recs, _ := p.ForUser(ctx, "u2"); recs["toinen/"+other.Sections[0].Slug] == nil {
		t.Fatal("another module's record moved")
	}
	// Archived: set aside, kept, and not at the address any more.
	if n, err := p.SetAside(ctx, "eka", "", "20261124T120000"); err != nil || n != len(m.Sections)+1 {
		t.Fatalf("set aside %d, %v", n, err)
	}
	recs, _ = p.ForUser(ctx, "u1")
	if recs["eka@20261124T120000/tehtava"] == nil || recs["eka/tehtava"] != nil {
		t.Fatalf("progress after archiving: %v", recs)
	}
	if n, _ := p.LearnersIn(ctx, "eka", ""); n != 0 {
		t.Fatalf("the archived module's address still has %d learners", n)
	}
	answers, _ = p.Answers(ctx, "u1")
	if a := answers["eka@20261124T120000.tehtava."+task]; a == nil {
		t.Fatalf("answers after archiving: %v", answers)
	}
}

func TestStructureChangesSeeTheLatestEditAndUndoWhenRaced(t *testing.T) {
	ctx, db, store := storeOnFixture(t)
	const alku = "modules/01-ensimmainen/01-alku.md"
	// Another instance publishes an edit; the rename planned next sees it.
	other := NewStore(db)
	orig, rev, _ := other.File(ctx, alku)
	edited := string(orig) + "\nToisen palvelimen lisäys.\n"
	if problems, err := other.Publish(ctx, alku, []byte(edited), rev, "b@example.fi"); err != nil || len(problems) > 0 {
		t.Fatalf("publish = %v %v", problems, err)
	}
	rename := func(tree fstest.MapFS) ([]course.FileChange, error) {
		return course.RenameSection(tree, "ensimmainen", "alku", "aloitus")
	}
	if problems, err := store.PublishChanges(ctx, "a@example.fi", rename); err != nil || len(problems) > 0 {
		t.Fatalf("rename = %v %v", problems, err)
	}
	renamed := "modules/01-ensimmainen/01-aloitus.md"
	if data, _, err := store.File(ctx, renamed); err != nil || string(data) != edited {
		t.Fatalf("the renamed section lost the edit published before: %v", err)
	}
	// Another instance writes a file of the change while it is being
	// made: what was written is put back, and the change answers ErrChanged.
	before, _ := store.PublishedVersion(ctx)
	var redirects []byte
	raced := func(tree fstest.MapFS) ([]course.FileChange, error) {
		ch, err := course.RenameSection(tree, "ensimmainen", "aloitus", "johdanto")
		for _, c := range ch {
			if c.Path == course.RedirectsFile {
				redirects = append([]byte(nil), tree[course.RedirectsFile].Data...)
				redirects = append(redirects, "# toisen palvelimen muutos\n"...)
				if problems, err := other.PublishFile(ctx, course.RedirectsFile, redirects, "b@example.fi"); err != nil || len(problems) > 0 {
					t.Errorf("the other write = %v %v", problems, err)
				}
			}
		}
		return ch, err
	}
	problems, err := store.PublishChanges(ctx, "a@example.fi", raced)
	if !errors.Is(err, ErrChanged) || len(problems) > 0 {
		t.Fatalf("the raced change = %v, %v", problems, err)
	}
	tree, _, _, _ := store.currentFiles(ctx)
	if tree[renamed] == nil || string(tree[renamed].Data) != edited || tree["modules/01-ensimmainen/01-johdanto.md"] != nil {
		t.Fatal("the files the raced change wrote were not put back")
	}
	if string(tree[course.RedirectsFile].Data) != string(redirects) {
		t.Fatal("the other instance's write was lost")
	}
	if after, _ := store.PublishedVersion(ctx); after != before+1 {
		t.Fatalf("published version %d → %d: only the other write publishes", before, after)
	}
	// The history says what happened: written, removed by the raced
	// change, put back.
	hist, _ := store.History(ctx, renamed)
	if len(hist) != 3 || hist[0].Deleted || !hist[1].Deleted || hist[2].Deleted {
		t.Fatalf("history of %s: %+v", renamed, hist)
	}
}

// Records written at an old address after a rename (by an instance that
// had not yet seen it) follow the redirect by themselves.
func TestKeepUpWithRedirects(t *testing.T) {
	ctx, db, store := storeOnFixture(t)
	lib, err := course.NewLibrary(ctx, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := study.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	p := study.NewProgress(db)
	before := lib.Current().Course
	m, _ := before.Module("ensimmainen")
	sec, _ := m.Section("alku")
	run, stop := context.WithCancel(ctx)
	defer stop()
	go p.KeepUpWithRedirects(run, lib, 20*time.Millisecond, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rename := func(tree fstest.MapFS) ([]course.FileChange, error) {
		return course.RenameSection(tree, "ensimmainen", "alku", "aloitus")
	}
	if problems, err := store.PublishChanges(ctx, "a@example.fi", rename); err != nil || len(problems) > 0 {
		t.Fatalf("rename = %v %v", problems, err)
	}
	if err := lib.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A lagging instance records a visit at the old address.
	if _, err := p.Record(ctx, "u1", sec, study.Event{Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := p.ForUser(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if recs["ensimmainen/aloitus"] != nil && recs["ensimmainen/alku"] == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the record did not follow the redirect: %v", recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExportWithDraftsAndStaleFiles(t *testing.T) {
	ctx, _, store := storeOnFixture(t)
	const alku = "modules/01-ensimmainen/01-alku.md"
	orig, rev, _ := store.File(ctx, alku)
	if err := store.SaveDraft(ctx, Draft{Path: alku, Data: string(orig) + "\nLuonnos.\n", BaseRev: rev}); err != nil {
		t.Fatal(err)
	}
	// A draft of a file that is no longer in the course stays out.
	if err := store.SaveDraft(ctx, Draft{Path: "modules/01-ensimmainen/09-poistettu.md", Data: "x"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Left from an earlier export: a section since removed, and a file
	// that is not content.
	stale := filepath.Join(dir, "modules", "01-ensimmainen", "08-vanha.md")
	other := filepath.Join(dir, "README.md")
	for _, f := range []string{stale, other} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	written, removed, err := store.Export(ctx, dir, true)
	if err != nil || written == 0 || removed != 1 {
		t.Fatalf("export = %d written, %d removed, %v", written, removed, err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(alku))); !strings.Contains(string(data), "Luonnos.") {
		t.Fatal("the draft is not in the export")
	}
	for f, want := range map[string]bool{stale: false, other: true, filepath.Join(dir, "modules", "01-ensimmainen", "09-poistettu.md"): false} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", f, err == nil, want)
		}
	}
	// Without drafts: the published text, and importing it changes nothing.
	if _, _, err := store.Export(ctx, dir, false); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(alku))); string(data) != string(orig) {
		t.Fatal("the export without drafts is not the published text")
	}
	res, _, err := store.Import(ctx, os.DirFS(dir), "test")
	if err != nil || len(res.Changed)+len(res.Deleted) != 0 {
		t.Fatalf("importing the export = %+v, %v", res, err)
	}
}
