package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/api"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/study"
)

// Reminders go only to learners who asked, after the pause, at most once
// a week, naming where to continue and with a working one-click
// unsubscribe; an open exam attempt's deadline gets its own word; two
// instances send each once.
func TestRemindersOnlyToThoseWhoAskedAndOnce(t *testing.T) {
	ctx := context.Background()
	env, err := testenv.StartDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	db := env.Database()
	for _, ensure := range []func(context.Context, *database.DB) error{account.EnsureIndexes, mail.EnsureIndexes, exam.EnsureIndexes, study.EnsureIndexes} {
		if err := ensure(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	accounts := account.NewStore(db)
	progress := study.NewProgress(db)
	co, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	library := course.NewStaticLibrary(&course.Published{Version: 1, Course: co})
	outbox := mail.NewOutbox(db, api.MailRenderer(), "localhost", true)
	now := time.Now()
	learner := func(email string, reminders bool, active, reminded time.Time) *account.User {
		u, errs := accounts.Register(ctx, account.Registration{Email: email, Name: "Muistettava Oppija", Password: "muistutusten salalause", Organisation: account.Organisations[1], Lang: "fi"})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if err := accounts.SetPreferences(ctx, u.ID, account.Preferences{Reminders: reminders, Lang: "fi"}); err != nil {
			t.Fatal(err)
		}
		set := bson.D{{Key: "last_active", Value: active.UTC()}}
		if !reminded.IsZero() {
			set = append(set, bson.E{Key: "last_reminder", Value: reminded.UTC()})
		}
		if _, err := db.Collection("users").UpdateByID(ctx, u.ID, bson.D{{Key: "$set", Value: set}}); err != nil {
			t.Fatal(err)
		}
		return u
	}
	away := learner("poissa@example.fi", true, now.Add(-20*24*time.Hour), time.Time{})
	learner("ei-halua@example.fi", false, now.Add(-20*24*time.Hour), time.Time{})
	learner("aktiivinen@example.fi", true, now.Add(-2*24*time.Hour), time.Time{})
	learner("muistutettu@example.fi", true, now.Add(-20*24*time.Hour), now.Add(-3*24*time.Hour))
	examinee := learner("tentissa@example.fi", true, now.Add(-time.Hour), time.Time{})
	sec := co.Modules[1].Sections[2]
	if _, err := progress.Record(ctx, away.ID, sec, study.Event{Kind: "opened"}); err != nil {
		t.Fatal(err)
	}
	// The examinee's open attempt ends in an hour.
	if _, err := db.Collection("exam_attempts").InsertOne(ctx, bson.D{{Key: "_id", Value: "attempt-soon"}, {Key: "user_id", Value: examinee.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("exam_deadlines").InsertOne(ctx, bson.D{{Key: "_id", Value: "attempt-soon"}, {Key: "deadline", Value: now.Add(time.Hour).UTC()}}); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mk := func(holder string) *reminders {
		return &reminders{accounts: accounts, progress: progress, library: library, exam: exam.NewStore(db, log), outbox: outbox,
			baseURL: "https://kurssi.example.fi", after: 14 * 24 * time.Hour, holder: holder, log: log, now: func() time.Time { return now }}
	}
	na, err := mk("a").sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := mk("b").sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if na != 2 || nb != 0 {
		t.Fatalf("the sweeps queued %d and %d, want 2 by the lease holder only", na, nb)
	}
	msgs, err := outbox.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]mail.Message{}
	for _, m := range msgs {
		if m.Kind == "reminder_inactive" || m.Kind == "reminder_exam_deadline" {
			full, _ := outbox.Message(ctx, m.ID)
			got[m.To] = *full
		}
	}
	if len(got) != 2 {
		t.Fatalf("reminders to %v", got)
	}
	r := got["poissa@example.fi"]
	if r.Kind != "reminder_inactive" || !strings.Contains(strings.Join(strings.Fields(r.Text), " "), sec.Title) || !strings.Contains(r.Text, "https://kurssi.example.fi"+sec.URL()) {
		t.Fatalf("the pause reminder does not name where to continue:\n%s", r.Text)
	}
	if e := got["tentissa@example.fi"]; e.Kind != "reminder_exam_deadline" || !strings.Contains(e.Text, "/tentti/attempt-soon") {
		t.Fatalf("the deadline reminder: %s %s", e.Kind, e.Text)
	}
	token := strings.TrimPrefix(r.Unsubscribe, "https://kurssi.example.fi/viestit/peru?token=")
	if token == r.Unsubscribe || !strings.Contains(r.Text, r.Unsubscribe) {
		t.Fatalf("unsubscribe link %q", r.Unsubscribe)
	}
	if _, err := accounts.Unsubscribe(ctx, token); err != nil {
		t.Fatal(err)
	}
	if u, _ := accounts.User(ctx, away.ID); u.Reminders || u.LastReminder.IsZero() {
		t.Fatalf("after unsubscribing: reminders %v, last %v", u.Reminders, u.LastReminder)
	}
}

// A wrong SMTP setting stops the start with a clear message that does not
// show the password.
func TestSMTPSettingsAreChecked(t *testing.T) {
	var out strings.Builder
	env := map[string]string{"TYOKYKY_DATA_DIR": t.TempDir(), "TYOKYKY_SMTP_URL": "smtp://kurssi:salainen@mail.example.fi:99999", "TYOKYKY_SMTP_FROM": "kurssi@example.fi"}
	cfg, code := loadConfig("serve", nil, func(k string) string { return env[k] }, &out)
	if cfg != nil || code != exitUsage || !strings.Contains(out.String(), "smtp-url: port") || strings.Contains(out.String(), "salainen") {
		t.Fatalf("code %d: %s", code, out.String())
	}
	out.Reset()
	env["TYOKYKY_SMTP_URL"] = "smtp://kurssi:salainen@mail.example.fi"
	env["TYOKYKY_SMTP_FROM"] = ""
	if cfg, _ := loadConfig("serve", nil, func(k string) string { return env[k] }, &out); cfg != nil || !strings.Contains(out.String(), "TYOKYKY_SMTP_FROM") {
		t.Fatalf("without a sender: %s", out.String())
	}
	out.Reset()
	env["TYOKYKY_SMTP_FROM"] = "Kurssi <kurssi@example.fi>"
	if cfg, _ := loadConfig("serve", nil, func(k string) string { return env[k] }, &out); cfg == nil {
		t.Fatalf("a good setting was refused: %s", out.String())
	}
}
