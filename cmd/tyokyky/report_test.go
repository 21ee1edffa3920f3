package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/studio"
	"github.com/tyokyky/tyokyky/study"
)

// tyokyky report rebuild on a data folder: it refuses before a course is
// published; accounts the user commands made have their summaries
// already; a rebuild writes a summary that is missing and one whose
// records changed past the summaries, and deletes the summary of an
// account deleted past them.
func TestReportRebuildCommand(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	runOK := func(want int, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code := run(append(args, "--data-dir", data), mapEnv(nil), &out, &out); code != want {
			t.Fatalf("%v = %d, want %d:\n%s", args, code, want, out.String())
		}
		return out.String()
	}
	runOK(0, "migrate", "up")
	if out := runOK(1, "report", "rebuild"); !strings.Contains(out, "no content has been published") {
		t.Fatalf("rebuild without a course said:\n%s", out)
	}
	runOK(2, "report")
	runOK(0, "content", "import", "../../content")
	for _, e := range []string{"oppija1@example.fi", "oppija2@example.fi"} {
		runOK(0, "user", "create", "--email", e, "--name", "Oppija Testinen", "--role", "learner")
	}
	runOK(0, "user", "role", "oppija2@example.fi", "author")
	if out := runOK(0, "report", "rebuild"); !strings.Contains(out, "report summaries: 2 accounts, 0 written, 2 unchanged, 0 deleted") {
		t.Fatalf("the commands' accounts:\n%s", out)
	}
	// One learner completes a section; the other's account goes.
	db, err := database.Open(ctx, database.Options{Database: "tyokyky", Dir: filepath.Join(data, "db")})
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.NewStore(db)
	one, err := accounts.UserByEmail(ctx, "oppija1@example.fi")
	if err != nil {
		t.Fatal(err)
	}
	two, err := accounts.UserByEmail(ctx, "oppija2@example.fi")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := studio.NewStore(db).LoadPublished(ctx)
	if err != nil || pub == nil {
		t.Fatalf("published: %v", err)
	}
	sec := pub.Course.Modules[0].Sections[0]
	if _, err := study.NewProgress(db).Record(ctx, one.ID, sec, study.Event{Kind: "heartbeat", Seconds: 20}); err != nil {
		t.Fatal(err)
	}
	if err := accounts.Delete(ctx, two.ID); err != nil {
		t.Fatal(err)
	}
	db.Close(ctx)
	if out := runOK(0, "report", "rebuild"); !strings.Contains(out, "1 accounts, 1 written, 0 unchanged, 1 deleted") {
		t.Fatalf("rebuild after a change and a deletion:\n%s", out)
	}
	if out := runOK(0, "report", "rebuild"); !strings.Contains(out, "1 accounts, 0 written, 1 unchanged, 0 deleted") {
		t.Fatalf("a second rebuild:\n%s", out)
	}
	db, err = database.Open(ctx, database.Options{Database: "tyokyky", Dir: filepath.Join(data, "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	sum, err := newSummaries(db, pub.Course, nil).Get(ctx, one.ID)
	if err != nil || sum == nil || len(sum.Modules) != 1 || sum.Modules[0].Slug != sec.Module.Slug || sum.Modules[0].Seconds != 20 {
		t.Fatalf("the learner's summary = %+v, %v", sum, err)
	}
}
