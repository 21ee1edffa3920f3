package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/org"
	"github.com/tyokyky/tyokyky/study"
)

// The assignment e-mails, on a fake clock: the notice when it is made,
// the reminders 14 and 3 days before the due date, nothing after it or to
// who completed, only to learners who asked for reminders unless their
// organisation requires them, each exactly once however often and by
// however many instances the sweep runs; the reporter's weekly digest
// names who is overdue and who finished.
func TestAssignmentRemindersAtTheRightTimesOnce(t *testing.T) {
	ctx := context.Background()
	env, err := testenv.StartDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	db := env.Database()
	for _, ensure := range []func(context.Context, *database.DB) error{account.EnsureIndexes, mail.EnsureIndexes, study.EnsureIndexes, org.EnsureIndexes, assign.EnsureIndexes} {
		if err := ensure(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	accounts := account.NewStore(db)
	dir := org.NewDirectory(db)
	store := assign.NewStore(db)
	co, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	library := course.NewStaticLibrary(&course.Published{Version: 1, Course: co})
	outbox := mail.NewOutbox(db, api.MailRenderer(), "localhost", true)
	if _, errs := dir.Add(ctx, org.Organisation{ID: "testi", NameFI: "Testin hyvinvointialue", Active: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	unit, err := dir.AddUnit(ctx, "testi", "", "Kotihoito", "test")
	if err != nil {
		t.Fatal(err)
	}
	person := func(name, email, lang, unitID string, reminders bool) *account.User {
		u, errs := accounts.Register(ctx, account.Registration{Email: email, Name: name, Password: "muistutusten salalause", Organisation: "Testin hyvinvointialue",
			OrgID: "testi", UnitID: unitID, Lang: lang})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if err := accounts.SetPreferences(ctx, u.ID, account.Preferences{Reminders: reminders, Lang: lang}); err != nil {
			t.Fatal(err)
		}
		return u
	}
	person("Aino Aaltonen", "aino@example.fi", "fi", unit.ID, true)
	bertil := person("Bertil Berg", "bertil@example.fi", "sv", unit.ID, false)
	cecilia := person("Cecilia Clark", "cecilia@example.fi", "en", unit.ID, true)
	raili := person("Raili Raportoija", "raili@example.fi", "fi", "", false)
	if _, err := accounts.SetRole(ctx, raili.Email, account.RoleReporter); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, i18n.Helsinki)
	store.SetClock(func() time.Time { return now })
	tree, _ := dir.Units(ctx, "testi")
	rows, _ := accounts.Members(ctx, "testi")
	var members []assign.Member
	for _, r := range rows {
		members = append(members, assign.Member{ID: r.ID, Name: r.Name, Email: r.Email, Unit: r.UnitID})
	}
	mod := co.Modules[0]
	a, errs := store.Create(ctx, assign.Assignment{Org: "testi", Kind: assign.KindUnit, Unit: unit.ID, Modules: []string{mod.Slug},
		Due: time.Date(2027, 3, 31, 0, 0, 0, 0, i18n.Helsinki), Note: "Ennen kevään kehityskeskusteluja.", CreatedBy: raili.ID}, tree, members, co)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mk := func(holder string) *assignmentReminders {
		return &assignmentReminders{accounts: accounts, progress: study.NewProgress(db), library: library, dir: dir, assign: store, outbox: outbox,
			baseURL: "https://kurssi.example.fi", holder: holder, log: log, now: func() time.Time { return now }}
	}
	seen := map[string]bool{}
	// sweep runs the sweep at now and returns the new messages, as
	// "to kind" strings, with their texts.
	sweep := func(holder string) ([]string, map[string]string) {
		t.Helper()
		if _, err := mk(holder).sweep(ctx); err != nil {
			t.Fatal(err)
		}
		msgs, err := outbox.List(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		texts := map[string]string{}
		for _, m := range msgs {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			full, err := outbox.Message(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			k := m.To + " " + m.Kind
			got = append(got, k)
			texts[k] = strings.Join(strings.Fields(full.Text), " ")
		}
		slices.Sort(got)
		return got, texts
	}
	expect := func(when string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: sent %q, want %q", when, got, want)
		}
	}
	got, texts := sweep("a")
	expect("when made", got, "aino@example.fi reminder_assignment", "cecilia@example.fi reminder_assignment")
	if tx := texts["aino@example.fi reminder_assignment"]; !strings.Contains(tx, "Määräpäivä on 31.3.2027.") || !strings.Contains(tx, "Ennen kevään kehityskeskusteluja.") ||
		!strings.Contains(tx, mod.Title) || !strings.Contains(tx, "https://kurssi.example.fi/viestit/peru?token=") {
		t.Fatalf("the notice:\n%s", tx)
	}
	got, _ = sweep("b")
	expect("another instance at once (the lease)", got)
	got, _ = sweep("a")
	expect("again at once", got)
	// The organisation starts requiring assignment reminders: Bertil,
	// who asked for none, gets the notice.
	if err := dir.SetAssignmentRemindersRequired(ctx, "testi", true); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	got, texts = sweep("a")
	expect("required by the organisation", got, "bertil@example.fi assignment_notice")
	if tx := texts["bertil@example.fi assignment_notice"]; !strings.Contains(tx, "Förfallodagen är 31.3.2027.") || !strings.Contains(tx, "din organisation kräver påminnelser") ||
		strings.Contains(tx, "viestit/peru") {
		t.Fatalf("Bertil's notice in Swedish:\n%s", tx)
	}
	// Cecilia completes the module the day before.
	for _, s := range mod.Sections {
		done := time.Date(2027, 3, 16, 15, 0, 0, 0, i18n.Helsinki)
		if _, err := db.Collection("progress").InsertOne(ctx, bson.D{{Key: "_id", Value: cecilia.ID + "|" + mod.Slug + "/" + s.Slug}, {Key: "user_id", Value: cecilia.ID},
			{Key: "module", Value: mod.Slug}, {Key: "section", Value: s.Slug}, {Key: "seconds", Value: 60}, {Key: "completed_at", Value: done}}); err != nil {
			t.Fatal(err)
		}
	}
	// 14 days before (17.3.): the reminders and the first weekly digest.
	now = time.Date(2027, 3, 17, 9, 0, 0, 0, i18n.Helsinki)
	got, texts = sweep("a")
	expect("14 days before", got, "aino@example.fi reminder_assignment_due", "bertil@example.fi assignment_due", "raili@example.fi assignment_digest")
	if tx := texts["aino@example.fi reminder_assignment_due"]; !strings.Contains(tx, "Aikaa on 14 päivää.") {
		t.Fatalf("the 14-day reminder:\n%s", tx)
	}
	if tx := texts["raili@example.fi assignment_digest"]; !strings.Contains(tx, "Määrätty 3 henkilölle: suorittaneita 1, myöhässä 0.") ||
		!strings.Contains(tx, "Viimeisen viikon aikana suorittivat:") || !strings.Contains(tx, "Cecilia Clark (Kotihoito)") {
		t.Fatalf("the digest:\n%s", tx)
	}
	now = now.Add(6 * time.Hour)
	got, _ = sweep("a")
	expect("later the same day", got)
	// 3 days before (28.3., a new week): the last reminders and a digest.
	now = time.Date(2027, 3, 28, 9, 0, 0, 0, i18n.Helsinki)
	got, texts = sweep("a")
	expect("3 days before", got, "aino@example.fi reminder_assignment_due", "bertil@example.fi assignment_due", "raili@example.fi assignment_digest")
	if tx := texts["bertil@example.fi assignment_due"]; !strings.Contains(tx, "Det återstår 3 dagar.") {
		t.Fatalf("the 3-day reminder:\n%s", tx)
	}
	// Past the due date: no more reminders; the digest names the late.
	now = time.Date(2027, 4, 1, 9, 0, 0, 0, i18n.Helsinki)
	got, texts = sweep("a")
	expect("overdue", got, "raili@example.fi assignment_digest")
	if tx := texts["raili@example.fi assignment_digest"]; !strings.Contains(tx, "myöhässä 2.") || !strings.Contains(tx, "Aino Aaltonen (Kotihoito)") ||
		!strings.Contains(tx, "Bertil Berg (Kotihoito)") || strings.Contains(tx, "Viimeisen viikon aikana suorittivat") {
		t.Fatalf("the overdue digest:\n%s", tx)
	}
	// Another instance after the lease has lapsed sends nothing again.
	now = now.Add(time.Hour)
	if err := db.Release(ctx, "assignment-reminders", "a"); err != nil {
		t.Fatal(err)
	}
	got, _ = sweep("b")
	expect("another instance later", got)
	// A closed assignment is reminded of no more.
	if err := store.Close(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2027, 4, 9, 9, 0, 0, 0, i18n.Helsinki)
	got, _ = sweep("b")
	expect("closed", got)
	_ = bertil

	// Invitations whose import stopped before their e-mails were all
	// queued: ten minutes on, the sweep queues them (once).
	inviteRows, errs := assign.ReadInvitations(strings.NewReader("Dora Dahl,dora@example.fi,Kotihoito\n"), tree, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	issued, errs := store.Invite(ctx, "testi", raili.ID, "sv", inviteRows, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got, _ = sweep("b")
	expect("an import of now", got)
	now = now.Add(11 * time.Minute)
	got, texts = sweep("b")
	expect("an import stopped before its e-mails", got, "dora@example.fi invitation")
	if text := texts["dora@example.fi invitation"]; !strings.Contains(text, "https://kurssi.example.fi/kutsu?token="+issued[0].Token) || !strings.Contains(text, "Kotihoito") {
		t.Fatalf("the invitation's text: %s", text)
	}
	got, _ = sweep("b")
	expect("the invitation again", got)
}
