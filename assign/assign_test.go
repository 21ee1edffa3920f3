package assign_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/study"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

var (
	courseOnce sync.Once
	bundled    *course.Course
)

func theCourse(t *testing.T) *course.Course {
	t.Helper()
	courseOnce.Do(func() {
		c, problems := course.Load(content.Bundled())
		if len(problems) > 0 {
			t.Fatal(problems.Error())
		}
		bundled = c
	})
	return bundled
}

// world is an organisation with units Sote › Perhe and Hallinto, the
// stores, and a clock at 1.3.2027 noon in Helsinki.
type world struct {
	t        *testing.T
	db       *database.DB
	dir      *org.Directory
	accounts *account.Store
	store    *assign.Store
	units    map[string]string
	now      time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	db := env.Database()
	for _, f := range []func() error{
		func() error { return org.EnsureIndexes(ctx, db) },
		func() error { return account.EnsureIndexes(ctx, db) },
		func() error { return assign.EnsureIndexes(ctx, db) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, db: db, dir: org.NewDirectory(db), accounts: account.NewStore(db), store: assign.NewStore(db), units: map[string]string{},
		now: time.Date(2027, 3, 1, 12, 0, 0, 0, i18n.Helsinki)}
	w.store.SetClock(func() time.Time { return w.now })
	if _, errs := w.dir.Add(ctx, org.Organisation{ID: "testi", NameFI: "Testin hyvinvointialue", Active: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	add := func(key, parent, name string) {
		u, err := w.dir.AddUnit(ctx, "testi", w.units[parent], name, "test")
		if err != nil {
			t.Fatal(err)
		}
		w.units[key] = u.ID
	}
	add("sote", "", "Sote")
	add("perhe", "sote", "Perhe")
	add("hallinto", "", "Hallinto")
	add("tyhja", "", "Tyhjä")
	return w
}

// person registers an account in the unit (key of w.units, "" for none).
func (w *world) person(name, unit string) string {
	w.t.Helper()
	u, errs := w.accounts.Register(w.t.Context(), account.Registration{Email: account.NewID()[:10] + "@example.fi", Name: name,
		Password: "oma pitkä salalause 2026", Organisation: "Testin hyvinvointialue", OrgID: "testi", UnitID: w.units[unit]})
	if len(errs) > 0 {
		w.t.Fatal(errs)
	}
	return u.ID
}

func (w *world) move(user, unit string) {
	w.t.Helper()
	if err := w.accounts.SetOrganisation(w.t.Context(), user, "Testin hyvinvointialue", "", "testi", w.units[unit]); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) members() ([]assign.Member, *org.Tree) {
	w.t.Helper()
	rows, err := w.accounts.Members(w.t.Context(), "testi")
	if err != nil {
		w.t.Fatal(err)
	}
	var out []assign.Member
	for _, r := range rows {
		out = append(out, assign.Member{ID: r.ID, Name: r.Name, Email: r.Email, Unit: r.UnitID, Groups: r.Groups})
	}
	tree, err := w.dir.Units(w.t.Context(), "testi")
	if err != nil {
		w.t.Fatal(err)
	}
	return out, tree
}

func names(ms []assign.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

// Who is assigned follows the directory as it is now: people who join
// the unit (or a sub-unit) later are assigned, people who move out are
// not, and an assignment without sub-units stays with its own unit.
func TestAssignmentFollowsUnitMembership(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.person("Aino Sote", "sote")
	w.person("Pekka Perhe", "perhe")
	hanna := w.person("Hanna Hallinto", "hallinto")
	w.person("Ulla Yksikötön", "")
	members, tree := w.members()
	withSub, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindUnit, Unit: w.units["sote"], Subunits: true,
		Due: w.now.AddDate(0, 1, 0), CreatedBy: "hr"}, tree, members, theCourse(t))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	own, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindUnit, Unit: w.units["sote"],
		Due: w.now.AddDate(0, 1, 0), Modules: []string{theCourse(t).Modules[0].Slug}, CreatedBy: "hr"}, tree, members, theCourse(t))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	check := func(when string, a *assign.Assignment, want ...string) {
		t.Helper()
		members, tree := w.members()
		if got := names(a.Assigned(members, tree)); !slices.Equal(got, want) {
			t.Errorf("%s: %s assigns %v, want %v", when, a.Unit, got, want)
		}
	}
	check("at first", withSub, "Aino Sote", "Pekka Perhe")
	check("at first, without sub-units", own, "Aino Sote")
	// Joining later: a new account in a sub-unit, and Hanna moving in.
	w.person("Jussi Uusi", "perhe")
	w.move(hanna, "sote")
	check("after joining", withSub, "Aino Sote", "Hanna Hallinto", "Jussi Uusi", "Pekka Perhe")
	check("after joining, without sub-units", own, "Aino Sote", "Hanna Hallinto")
	// Leaving: Hanna moves on to Hallinto again.
	w.move(hanna, "hallinto")
	check("after leaving", withSub, "Aino Sote", "Jussi Uusi", "Pekka Perhe")
	// A unit moved under Sote brings its people with it.
	if err := w.dir.MoveUnit(ctx, "testi", w.units["hallinto"], w.units["perhe"], "test"); err != nil {
		t.Fatal(err)
	}
	check("after the unit moved", withSub, "Aino Sote", "Hanna Hallinto", "Jussi Uusi", "Pekka Perhe")
	// A list of people.
	people, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindPeople, People: []string{hanna, hanna},
		Due: w.now, CreatedBy: "hr"}, tree, members, theCourse(t))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(people.People) != 1 {
		t.Fatalf("people %v", people.People)
	}
	check("a list", people, "Hanna Hallinto")
	// Erasing Hanna takes her off the list.
	if err := w.store.DeleteUser(ctx, hanna); err != nil {
		t.Fatal(err)
	}
	if got, err := w.store.Get(ctx, people.ID); err != nil || len(got.People) != 0 {
		t.Fatalf("after erasure %+v %v", got, err)
	}
}

// Bad assignments are refused with the field's reason: a due date in the
// past, an empty or unknown unit, unknown modules or people, a duplicate
// of an open assignment (which may be made again once it is closed).
func TestAssignmentValidation(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	aino := w.person("Aino Sote", "sote")
	members, tree := w.members()
	c := theCourse(t)
	base := assign.Assignment{Org: "testi", Kind: assign.KindUnit, Unit: w.units["sote"], Due: w.now.AddDate(0, 0, 30), CreatedBy: "hr"}
	for _, tc := range []struct {
		name   string
		change func(a *assign.Assignment)
		want   error
	}{
		{"due yesterday", func(a *assign.Assignment) { a.Due = w.now.AddDate(0, 0, -1) }, assign.ErrDuePast},
		{"no due date", func(a *assign.Assignment) { a.Due = time.Time{} }, assign.ErrDue},
		{"an empty unit", func(a *assign.Assignment) { a.Unit = w.units["tyhja"] }, assign.ErrEmptyUnit},
		{"an unknown unit", func(a *assign.Assignment) { a.Unit = "eiole" }, assign.ErrUnit},
		{"an unknown module", func(a *assign.Assignment) { a.Modules = []string{"eiole"} }, assign.ErrModules},
		{"nobody", func(a *assign.Assignment) { a.Kind, a.Unit = assign.KindPeople, "" }, assign.ErrPeople},
		{"a stranger", func(a *assign.Assignment) { a.Kind, a.People = assign.KindPeople, []string{aino, "vieras"} }, assign.ErrPeople},
		{"a long note", func(a *assign.Assignment) { a.Note = string(make([]rune, 1001)) }, assign.ErrNote},
		{"no kind", func(a *assign.Assignment) { a.Kind = "" }, assign.ErrKind},
	} {
		a := base
		tc.change(&a)
		if _, errs := w.store.Create(ctx, a, tree, members, c); len(errs) != 1 || !errors.Is(errs[0], tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, errs, tc.want)
		}
	}
	// Today is not past.
	today := base
	today.Due = w.now
	first, errs := w.store.Create(ctx, today, tree, members, c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// Every module named is the whole course: a duplicate of it.
	dup := base
	for _, m := range c.Modules {
		if !m.Hidden {
			dup.Modules = append(dup.Modules, m.Slug)
		}
	}
	if _, errs := w.store.Create(ctx, dup, tree, members, c); len(errs) != 1 || !errors.Is(errs[0], assign.ErrDuplicate) {
		t.Fatalf("duplicate: %v", errs)
	}
	// Two at once: one wins.
	other := base
	other.Modules = []string{c.Modules[1].Slug}
	var wg sync.WaitGroup
	results := make([][]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = w.store.Create(ctx, other, tree, members, c)
		}()
	}
	wg.Wait()
	made := 0
	for _, errs := range results {
		switch {
		case len(errs) == 0:
			made++
		case !errors.Is(errs[0], assign.ErrDuplicate):
			t.Fatal(errs)
		}
	}
	if made != 1 {
		t.Fatalf("%d of 4 concurrent creates made it", made)
	}
	if err := w.store.Close(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.store.Edit(ctx, first.ID, w.now.AddDate(0, 0, 5), ""); !errors.Is(err, assign.ErrClosed) {
		t.Fatalf("editing a closed one: %v", err)
	}
	again, errs := w.store.Create(ctx, base, tree, members, c)
	if len(errs) > 0 {
		t.Fatalf("the same again after closing: %v", errs)
	}
	if err := w.store.Edit(ctx, again.ID, w.now.AddDate(0, 0, -2), ""); !errors.Is(err, assign.ErrDuePast) {
		t.Fatalf("editing to the past: %v", err)
	}
	if err := w.store.Edit(ctx, again.ID, w.now.AddDate(0, 2, 0), " Muistathan! "); err != nil {
		t.Fatal(err)
	}
	got, err := w.store.Get(ctx, again.ID)
	if err != nil || got.Note != "Muistathan!" || !got.Due.Equal(assign.Day(w.now.AddDate(0, 2, 0))) {
		t.Fatalf("edited %+v %v", got, err)
	}
	list, err := w.store.List(ctx, "testi")
	if err != nil || len(list) != 3 || list[len(list)-1].Status != assign.Closed {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := w.store.Get(ctx, "eiole"); !errors.Is(err, assign.ErrNotFound) {
		t.Fatal(err)
	}
}

// Completion: by every section of the assigned modules (its date the last
// one's), or by the certificate for the whole course; the date is kept
// once reached, so it stands after the content changes. Overdue is from
// the day after the due date, in Helsinki.
func TestCompletionAndOverdue(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	c := theCourse(t)
	mod := c.Modules[0]
	aino := w.person("Aino Sote", "sote")
	pekka := w.person("Pekka Perhe", "perhe")
	olli := w.person("Olli Aloittanut", "sote")
	nea := w.person("Nea Todistus", "sote")
	members, tree := w.members()
	due := time.Date(2027, 3, 31, 0, 0, 0, 0, i18n.Helsinki)
	modules, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindUnit, Unit: w.units["sote"], Subunits: true,
		Modules: []string{mod.Slug}, Due: due, CreatedBy: "hr"}, tree, members, c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	whole, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindUnit, Unit: w.units["sote"], Subunits: true,
		Due: due, CreatedBy: "hr"}, tree, members, c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	at := func(d int) *time.Time { v := time.Date(2027, 2, d, 10, 0, 0, 0, time.UTC); return &v }
	var records []study.RecordRow
	for i, s := range mod.Sections {
		records = append(records, study.RecordRow{UserID: aino, Module: mod.Slug, Section: s.Slug, Completed: at(1 + i)})
	}
	records = append(records, study.RecordRow{UserID: olli, Module: mod.Slug, Section: mod.Sections[0].Slug})
	issued := []cert.IssuedRow{{UserID: nea, Issued: time.Date(2027, 2, 20, 9, 0, 0, 0, time.UTC)}, {UserID: pekka, Issued: time.Date(2027, 2, 21, 0, 0, 0, 0, time.UTC), Revoked: true}}
	ev := assign.NewEvidence(c, records, issued)
	status := func(rows []assign.Row) map[string]assign.Row {
		out := map[string]assign.Row{}
		for _, r := range rows {
			out[r.ID] = r
		}
		return out
	}
	kept, err := w.store.Kept(ctx, modules.ID)
	if err != nil {
		t.Fatal(err)
	}
	rows := assign.Evaluate(modules, tree, members, ev, kept, w.now)
	got := status(rows)
	lastDone := *at(len(mod.Sections))
	if r := got[aino]; r.Status != assign.Completed || !r.Completed.Equal(lastDone) || !r.New || r.Done != len(mod.Sections) || r.Total != len(mod.Sections) {
		t.Errorf("Aino by modules: %+v", r)
	}
	if got[olli].Status != assign.InProgress || got[pekka].Status != assign.NotStarted || got[nea].Status != assign.NotStarted {
		t.Errorf("Olli %s, Pekka %s, Nea %s", got[olli].Status, got[pekka].Status, got[nea].Status)
	}
	if got[pekka].UnitPath != "Sote › Perhe" {
		t.Errorf("unit path %q", got[pekka].UnitPath)
	}
	wholeRows := status(assign.Evaluate(whole, tree, members, ev, nil, w.now))
	if r := wholeRows[nea]; r.Status != assign.Completed || !r.Completed.Equal(issued[0].Issued) {
		t.Errorf("Nea by certificate: %+v", r)
	}
	if wholeRows[aino].Status != assign.InProgress || wholeRows[pekka].Status != assign.NotStarted {
		t.Errorf("whole course: Aino %s, Pekka (revoked) %s", wholeRows[aino].Status, wholeRows[pekka].Status)
	}
	// Keep, then change the content: the module gets a new section.
	if err := w.store.Keep(ctx, modules.ID, rows); err != nil {
		t.Fatal(err)
	}
	if err := w.store.Keep(ctx, modules.ID, rows); err != nil { // again: the first date stands
		t.Fatal(err)
	}
	changed := *c
	changed.Modules = slices.Clone(c.Modules)
	m2 := *mod
	m2.Sections = append(slices.Clone(mod.Sections), &course.Section{Slug: "uusi-osio", Module: &m2})
	changed.Modules[0] = &m2
	ev2 := assign.NewEvidence(&changed, records, issued)
	if _, _, _, done := ev2.Progress(modules, aino); !done.IsZero() {
		t.Fatal("the changed course still counts Aino complete: the test proves nothing")
	}
	fresh := assign.NewStore(w.db) // another instance: reads the store
	kept, err = fresh.Kept(ctx, modules.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := fresh.KeptFor(ctx, modules.ID, aino); err != nil || !d.Equal(lastDone) {
		t.Fatalf("kept for Aino %v %v", d, err)
	}
	after := status(assign.Evaluate(modules, tree, members, ev2, kept, w.now))
	if r := after[aino]; r.Status != assign.Completed || !r.Completed.Equal(lastDone) || r.New {
		t.Errorf("after the content changed: %+v", r)
	}
	// Overdue: the due day itself is not, its next midnight in Helsinki is.
	lastMinute := time.Date(2027, 3, 31, 23, 59, 0, 0, i18n.Helsinki)
	if modules.Overdue(lastMinute) || modules.DaysLeft(lastMinute) != 0 {
		t.Fatalf("overdue on the due day (days left %d)", modules.DaysLeft(lastMinute))
	}
	next := time.Date(2027, 3, 31, 22, 0, 0, 0, time.UTC) // 1.4. 01.00 in Helsinki (EEST)
	if !modules.Overdue(next) || modules.DaysLeft(next) != -1 || modules.DaysLeft(w.now) != 30 {
		t.Fatalf("overdue %v, days left %d / %d", modules.Overdue(next), modules.DaysLeft(next), modules.DaysLeft(w.now))
	}
	late := status(assign.Evaluate(modules, tree, members, ev2, kept, next))
	if late[aino].Status != assign.Completed || late[olli].Status != assign.Overdue || late[pekka].Status != assign.Overdue {
		t.Errorf("late: Aino %s, Olli %s, Pekka %s", late[aino].Status, late[olli].Status, late[pekka].Status)
	}
	// Erasure forgets the kept completion.
	if err := fresh.DeleteUser(ctx, aino); err != nil {
		t.Fatal(err)
	}
	if d, err := fresh.KeptFor(ctx, modules.ID, aino); err != nil || !d.IsZero() {
		t.Fatalf("kept after erasure %v %v", d, err)
	}
	all, units := assign.Summarise(assign.Evaluate(modules, tree, members, ev2, kept, next))
	if all.Total != 4 || all.Counts[assign.Completed] != 1 || all.Counts[assign.Overdue] != 3 || all.Percent(assign.Completed) != 25 || len(units) != 2 || units[0].Label != "Sote" {
		t.Errorf("summary %+v %+v", all, units)
	}
}

// A reminder's claim is won by one of several instances at once; a claim
// whose message never reached the outbox is handed out again after ten
// minutes, a queued one never.
func TestReminderClaimsOnce(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	key := assign.ReminderKey("a1", "u1", assign.StageDue3)
	var wg sync.WaitGroup
	won := make([]bool, 6)
	for i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := assign.NewStore(w.db) // another instance
			other.SetClock(func() time.Time { return w.now })
			ok, err := other.ClaimReminder(ctx, key, "u1")
			if err != nil {
				t.Error(err)
			}
			won[i] = ok
		}()
	}
	wg.Wait()
	if n := len(slices.DeleteFunc(won, func(b bool) bool { return !b })); n != 1 {
		t.Fatalf("%d claims won", n)
	}
	w.now = w.now.Add(11 * time.Minute)
	if ok, err := w.store.ClaimReminder(ctx, key, "u1"); err != nil || !ok {
		t.Fatalf("an unqueued claim after 11 minutes: %v %v", ok, err)
	}
	if err := w.store.ReminderQueued(ctx, key); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Hour)
	if ok, err := w.store.ClaimReminder(ctx, key, "u1"); err != nil || ok {
		t.Fatalf("a queued claim: %v %v", ok, err)
	}
}

// The stages: the notice at once, the 14-day reminder from 14 days before
// (only if made earlier), the 3-day one from 3 days before; none to the
// completed or overdue, none of a closed assignment.
func TestReminderStages(t *testing.T) {
	h := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, i18n.Helsinki) }
	a := assign.Assignment{Status: assign.Open, CreatedAt: h(2027, 3, 1), Due: assign.Day(h(2027, 3, 31))}
	open := assign.Row{Status: assign.InProgress}
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{h(2027, 3, 1), []string{assign.StageAssigned}},
		{h(2027, 3, 16), []string{assign.StageAssigned}},
		{h(2027, 3, 17), []string{assign.StageAssigned, assign.StageDue14}},
		{h(2027, 3, 27), []string{assign.StageAssigned, assign.StageDue14}},
		{h(2027, 3, 28), []string{assign.StageAssigned, assign.StageDue3}},
		{h(2027, 3, 31), []string{assign.StageAssigned, assign.StageDue3}},
	} {
		if got := a.Stages(open, tc.at); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.at.Format("2.1."), got, tc.want)
		}
	}
	late := a
	late.CreatedAt = h(2027, 3, 25) // 6 days before: no 14-day reminder
	if got := late.Stages(open, h(2027, 3, 26)); !slices.Equal(got, []string{assign.StageAssigned}) {
		t.Errorf("made late: %v", got)
	}
	if a.Stages(assign.Row{Status: assign.Completed}, h(2027, 3, 28)) != nil || a.Stages(assign.Row{Status: assign.Overdue}, h(2027, 4, 1)) != nil {
		t.Error("reminders to the completed or overdue")
	}
	closed := a
	closed.Status = assign.Closed
	if closed.Stages(open, h(2027, 3, 28)) != nil {
		t.Error("reminders of a closed assignment")
	}
}

// A group: everyone whom the identity provider put in it at their last
// sign-in, within the assigning reporter's unit subtree; nobody in it is
// refused.
func TestAssignmentToAGroup(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	aino := w.person("Aino Sote", "sote")
	pekka := w.person("Pekka Perhe", "perhe")
	hanna := w.person("Hanna Hallinto", "hallinto")
	for _, id := range []string{aino, pekka, hanna} {
		if err := w.accounts.SetGroups(ctx, id, []string{"esihenkilot", " ", "kaikki"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.accounts.SetGroups(ctx, aino, []string{"kaikki"}); err != nil {
		t.Fatal(err)
	}
	members, tree := w.members()
	c := theCourse(t)
	if _, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindGroup, Group: "eiole", Due: w.now, CreatedBy: "hr"}, tree, members, c); len(errs) != 1 || !errors.Is(errs[0], assign.ErrEmptyGroup) {
		t.Fatalf("an empty group: %v", errs)
	}
	if _, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindGroup, Group: " ", Due: w.now, CreatedBy: "hr"}, tree, members, c); len(errs) != 1 || !errors.Is(errs[0], assign.ErrGroup) {
		t.Fatalf("no group: %v", errs)
	}
	whole, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindGroup, Group: "esihenkilot", Due: w.now, CreatedBy: "hr"}, tree, members, c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := names(whole.Assigned(members, tree)); !slices.Equal(got, []string{"Hanna Hallinto", "Pekka Perhe"}) {
		t.Fatalf("the group: %v", got)
	}
	// A unit-scoped reporter's group assignment stays in their subtree.
	scoped, errs := w.store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindGroup, Group: "esihenkilot", Unit: w.units["sote"], Due: w.now, CreatedBy: "hr"}, tree, members, c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := names(scoped.Assigned(members, tree)); !slices.Equal(got, []string{"Pekka Perhe"}) || !scoped.Applies(members[slices.IndexFunc(members, func(m assign.Member) bool { return m.ID == pekka })], tree) {
		t.Fatalf("the group in Sote: %v", got)
	}
	// Joining the group at a later sign-in.
	if err := w.accounts.SetGroups(ctx, aino, []string{"esihenkilot"}); err != nil {
		t.Fatal(err)
	}
	members, tree = w.members()
	if got := names(scoped.Assigned(members, tree)); !slices.Equal(got, []string{"Aino Sote", "Pekka Perhe"}) {
		t.Fatalf("after Aino joined: %v", got)
	}
}
