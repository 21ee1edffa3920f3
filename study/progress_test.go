package study

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

func fixtureCourse(t *testing.T) *course.Course {
	t.Helper()
	c, problems := course.Load(os.DirFS(testenv.CourseFixtureDir(t)))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	return c
}

// 100 goroutines updating one learner's progress lose nothing.
func TestProgressUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	p := NewProgress(db)
	c := fixtureCourse(t)
	sec := c.Modules[1].Sections[0] // completion: view
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ev := Event{Kind: "heartbeat", Seconds: 5, Scroll: float64(i%10) / 10}
			if i%25 == 0 {
				ev = Event{Kind: "completed"}
				if _, err := p.Record(ctx, "u1", sec, ev); err != nil {
					errs <- err
				}
				ev = Event{Kind: "heartbeat", Seconds: 5}
			}
			if _, err := p.Record(ctx, "u1", sec, ev); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := p.ForUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	got := all[sec.Module.Slug+"/"+sec.Slug]
	if got == nil || got.Seconds != 500 || !got.Done() || got.FirstOpened.IsZero() || got.LastOpened.Before(got.FirstOpened) {
		t.Fatalf("progress after 100 concurrent updates = %+v, want 500 s and completed", got)
	}
	first := *got.CompletedAt
	if _, err := p.Record(ctx, "u1", sec, Event{Kind: "completed"}); err != nil {
		t.Fatal(err)
	}
	all, _ = p.ForUser(ctx, "u1")
	if !all[sec.Module.Slug+"/"+sec.Slug].CompletedAt.Equal(first) {
		t.Fatal("completing again moved the completion time")
	}
	// Another learner's records are separate.
	if other, _ := p.ForUser(ctx, "u2"); len(other) != 0 {
		t.Fatalf("u2 sees %d records", len(other))
	}
}

func TestCompletionRules(t *testing.T) {
	ctx := context.Background()
	p := NewProgress(env.Database())
	c := fixtureCourse(t)
	video, task := c.Modules[0].Sections[0], c.Modules[0].Sections[1]
	if _, err := p.Record(ctx, "u", video, Event{Kind: "completed"}); err != ErrNotCompleted {
		t.Fatalf("a video section completed without watching: %v", err)
	}
	played := func(pos float64, ranges ...[2]float64) Event {
		return Event{Kind: "played", Media: "m-testivideo", Position: pos, Ranges: ranges, Duration: 100, Required: []string{"m-testivideo"}}
	}
	// Playing the first half twice, with seeks, is still half.
	if r, err := p.Record(ctx, "u", video, played(50, [2]float64{0, 30}, [2]float64{20, 50})); err != nil || r.Done() || r.Media["m-testivideo"].Watched != 0.5 {
		t.Fatalf("half played: %+v %v", r, err)
	}
	if r, err := p.Record(ctx, "u", video, played(40, [2]float64{10, 40})); err != nil || r.Done() || r.Media["m-testivideo"].Watched != 0.5 || r.Media["m-testivideo"].Position != 40 {
		t.Fatalf("replayed part: %+v %v", r, err)
	}
	// The rest, skipping 5 seconds: 95 % completes the section.
	r, err := p.Record(ctx, "u", video, played(100, [2]float64{55, 100}))
	if err != nil || !r.Done() || r.Media["m-testivideo"].Watched != 0.95 {
		t.Fatalf("95 %% played: %+v %v", r, err)
	}
	if got := r.Media["m-testivideo"].Ranges; len(got) != 2 || got[0] != (course.Span{Start: 0, End: 50}) || got[1] != (course.Span{Start: 55, End: 100}) {
		t.Fatalf("ranges = %v", got)
	}
	for name, ev := range map[string]Event{
		"unknown media":      {Kind: "played", Media: "muu", Position: 1, Duration: 100},
		"range past the end": played(1, [2]float64{0, 150}),
		"backwards range":    played(1, [2]float64{20, 10}),
		"negative position":  played(-1),
		"no duration":        {Kind: "played", Media: "m-testivideo", Position: 1},
		"too many ranges":    played(1, make([][2]float64, MaxRanges+1)...),
	} {
		if _, err := p.Record(ctx, "u", video, ev); err != ErrBadPlayed {
			t.Errorf("%s: %v, want ErrBadPlayed", name, err)
		}
	}
	if _, err := p.Record(ctx, "u", task, Event{Kind: "completed"}); err != ErrNotCompleted {
		t.Fatalf("a task section completed without an answer: %v", err)
	}
	tk := task.Body.Tasks[0]
	if _, err := p.SaveAnswer(ctx, "u", task, tk.ID, "Kolme asiaa: a, b, c."); err != nil {
		t.Fatal(err)
	}
	all, _ := p.ForUser(ctx, "u")
	if !all[task.Module.Slug+"/"+task.Slug].Done() {
		t.Fatal("saving an answer did not complete the task section")
	}
	answers, _ := p.Answers(ctx, "u")
	if a := answers[course.TaskKey(task, tk.ID)]; a == nil || a.Text != "Kolme asiaa: a, b, c." {
		t.Fatalf("answers = %+v", answers)
	}
	if _, err := p.Record(ctx, "u", task, Event{Kind: "dance"}); err != ErrBadEvent {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := p.SaveAnswer(ctx, "u", task, tk.ID, string(make([]rune, MaxAnswerLen+1))); err != ErrAnswerTooLong {
		t.Fatalf("long answer: %v", err)
	}
	mods, pct := c.Summarise(all)
	if mods[0].Done != 2 || !mods[0].Completed || pct != 66 {
		t.Fatalf("summary %+v %d%%", mods, pct)
	}
	if err := p.DeleteUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if all, _ := p.ForUser(ctx, "u"); len(all) != 0 {
		t.Fatal("progress left after deleting the user")
	}
}

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

// On FerretDB a learner's records and answers are read by _id (Keys):
// the same records and answers as the filter on user_id finds, and none
// of another learner's.
func TestRecordsReadByIDMatchTheFilter(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	if !db.FiltersScan() {
		t.Fatal("the test store should be FerretDB")
	}
	c := fixtureCourse(t)
	byID := NewProgress(db, Keys(c.RecordKeys))
	scan := NewProgress(db)
	var withTask *course.Section
	var task string
	for _, m := range c.Modules {
		for _, s := range m.Sections {
			if withTask == nil && len(s.Body.Tasks) > 0 && s.Body.Tasks[0].Answer {
				withTask, task = s, s.Body.Tasks[0].ID
			}
			for _, u := range []string{"k1", "k2"} {
				if _, err := byID.Record(ctx, u, s, Event{Kind: "heartbeat", Seconds: 7}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if withTask == nil {
		t.Fatal("the fixture course has no task with an answer")
	}
	if _, err := byID.SaveAnswer(ctx, "k1", withTask, task, "oma vastaus"); err != nil {
		t.Fatal(err)
	}
	sections, _ := c.RecordKeys()
	got, err := byID.ForUser(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := scan.ForUser(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sections) || len(got) != len(want) {
		t.Fatalf("read by id %d records, by filter %d, sections %d", len(got), len(want), len(sections))
	}
	for k, w := range want {
		if g := got[k]; g == nil || g.Seconds != w.Seconds || g.UserID != "k1" {
			t.Errorf("%s: by id %+v, by filter %+v", k, g, w)
		}
	}
	answers, err := byID.Answers(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if a := answers[course.TaskKey(withTask, task)]; len(answers) != 1 || a == nil || a.Text != "oma vastaus" {
		t.Fatalf("answers by id: %+v", answers)
	}
	if other, _ := byID.Answers(ctx, "k2"); len(other) != 0 {
		t.Fatalf("k2 sees %d answers", len(other))
	}
}

// The digest of completions: each completion reaches it (seen by another
// instance with one lookup), a later event of the section keeps the first
// time, the records' own completions are saved to it, and it goes when
// records move (an archived section) or the learner is deleted, while the
// records say the same.
func TestCompletionsDigest(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	c := fixtureCourse(t)
	a, b := NewProgress(db), NewProgress(db) // two instances
	var page *course.Section
	for _, m := range c.Modules {
		for _, s := range m.Sections {
			if page == nil && s.Completion == course.CompleteOnView {
				page = s
			}
		}
	}
	if page == nil {
		t.Fatal("the fixture has no section completed by viewing")
	}
	key := page.Module.Slug + "/" + page.Slug
	first, err := a.Record(ctx, "d1", page, Event{Kind: "completed"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := b.Completions(ctx, "d1")
	if err != nil || len(done) != 1 || done[key] == nil || !done[key].CompletedAt.Equal(*first.CompletedAt) || done[key].Module != page.Module.Slug {
		t.Fatalf("the other instance's completions %+v %v", done, err)
	}
	a.now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, err := a.Record(ctx, "d1", page, Event{Kind: "completed"}); err != nil {
		t.Fatal(err)
	}
	if done, _ := b.Completions(ctx, "d1"); !done[key].CompletedAt.Equal(*first.CompletedAt) {
		t.Fatalf("a later event moved the completion to %v", done[key].CompletedAt)
	}
	// Records written before digests were kept: saved from the records.
	if _, err := db.Collection(digestsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: "d1"}}); err != nil {
		t.Fatal(err)
	}
	if done, _ := b.Completions(ctx, "d1"); len(done) != 0 {
		t.Fatalf("no digest: %+v", done)
	}
	records, _ := b.ForUser(ctx, "d1")
	if err := b.SaveCompletions(ctx, "d1", records); err != nil {
		t.Fatal(err)
	}
	if done, _ := a.Completions(ctx, "d1"); done[key] == nil {
		t.Fatal("the records' completion was not saved")
	}
	// The section archived: its records move away, and so does the
	// digest; the records agree.
	if _, err := a.SetAside(ctx, page.Module.Slug, page.Slug, "20270101T000000"); err != nil {
		t.Fatal(err)
	}
	if done, _ := b.Completions(ctx, "d1"); len(done) != 0 {
		t.Fatalf("the digest after the section was archived: %+v", done)
	}
	if records, _ := NewProgress(db).ForUser(ctx, "d1"); records[key] != nil {
		t.Fatal("the record stayed")
	}
	// Deleted with the learner.
	if _, err := a.Record(ctx, "d2", page, Event{Kind: "completed"}); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteUser(ctx, "d2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Collection(digestsCollection).CountDocuments(ctx, bson.D{{Key: "_id", Value: "d2"}}); n != 0 {
		t.Fatal("the digest outlived the learner")
	}
}
