package exam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

func published(t testing.TB) *course.Published {
	t.Helper()
	c, problems := course.Load(os.DirFS("../course/testdata/course"))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	return &course.Published{Version: 3, Course: c}
}

func newStore(t testing.TB) *Store {
	t.Helper()
	db := env.Database()
	if err := EnsureIndexes(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	st := NewStore(db, nil)
	return st
}

func boolp(b bool) *bool { return &b }

// completed is a learner's progress with every section of the course
// done, which the exam's default eligibility rule asks for.
func completed(pub *course.Published) map[string]*course.SectionProgress {
	now := time.Now()
	out := map[string]*course.SectionProgress{}
	for _, m := range pub.Course.Modules {
		for _, sec := range m.Sections {
			out[m.Slug+"/"+sec.Slug] = &course.SectionProgress{Module: m.Slug, Section: sec.Slug, CompletedAt: &now}
		}
	}
	return out
}

// ids are a drawn item's own ids of the bank's options (letters).
func ids(d *Drawn, letters ...string) []string {
	var out []string
	for _, l := range letters {
		for id, bank := range d.BankIDs {
			if bank == l {
				out = append(out, id)
			}
		}
	}
	return out
}

func TestScoringRules(t *testing.T) {
	pub := published(t)
	ex := pub.Course.Exam
	draw := func(id string) *Drawn { d := drawItem(ex.ByID[id]); return &d }
	single, multi, tf, match := draw("e-yksi"), draw("e-monta"), draw("e-tosi"), draw("t-pari")
	// Multiple choice: a and c are correct of four (k = 2, wrong = 2);
	// the attempt knows them by ids of its own.
	for _, c := range []struct {
		choices []string
		want    float64
	}{
		{[]string{"a", "c"}, 1}, {[]string{"a"}, 0.5}, {[]string{"a", "b"}, 0}, {[]string{"a", "c", "b"}, 0.5},
		{[]string{"a", "b", "c", "d"}, 0}, {nil, 0}, {[]string{"b", "d"}, 0}, {[]string{"a", "a"}, 0.5},
	} {
		if got := Score(multi, &Answer{Choices: ids(multi, c.choices...)}); got != c.want {
			t.Errorf("multiple %v = %v, want %v", c.choices, got, c.want)
		}
	}
	if Score(single, &Answer{Choices: ids(single, "b")}) != 1 || Score(single, &Answer{Choices: ids(single, "a")}) != 0 || Score(single, nil) != 0 {
		t.Error("single choice scoring")
	}
	if Score(tf, &Answer{Value: boolp(true)}) != 1 || Score(tf, &Answer{Value: boolp(false)}) != 0 || Score(tf, &Answer{}) != 0 {
		t.Error("true/false scoring")
	}
	// Matching: two of three pairs right is two thirds.
	m := map[string]string{}
	rightOf := map[int]string{}
	for r, i := range match.RightIDs {
		rightOf[i] = r
	}
	n := 0
	for l, i := range match.LeftIDs {
		if n < 2 {
			m[l] = rightOf[i]
		} else {
			m[l] = rightOf[(i+1)%3]
		}
		n++
	}
	if got := Score(match, &Answer{Matches: m}); got < 0.666 || got > 0.667 {
		t.Errorf("matching 2/3 = %v", got)
	}
	// Answers that do not fit are refused before scoring.
	for name, c := range map[string]struct {
		d *Drawn
		a Answer
	}{
		"two choices for single": {single, Answer{Choices: ids(single, "a", "b")}},
		"unknown option":         {multi, Answer{Choices: []string{"z"}}},
		"the bank's letter":      {single, Answer{Choices: []string{"b"}}},
		"repeated option":        {multi, Answer{Choices: ids(multi, "a", "a")}},
		"value for choice":       {single, Answer{Value: boolp(true)}},
		"choices for truefalse":  {tf, Answer{Choices: []string{"a"}}},
		"unknown matching side":  {match, Answer{Matches: map[string]string{"lx": "ry"}}},
	} {
		if validAnswer(c.d, &c.a) {
			t.Errorf("%s accepted", name)
		}
	}
	// Grade: 70 % passes.
	items := []Drawn{*single, *multi, *tf}
	r := Grade(items, map[string]*Answer{"e-yksi": {Choices: ids(single, "b")}, "e-monta": {Choices: ids(multi, "a")}, "e-tosi": {Value: boolp(true)}}, 70)
	if r.Score != 2.5 || r.Max != 3 || r.Percent != 83.3 || !r.Passed || r.Items[1].Correct || !r.Items[2].Correct {
		t.Fatalf("grade = %+v", r)
	}
}

func TestDrawIsStratifiedAndViewsHaveNoKeys(t *testing.T) {
	pub := published(t)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		items := Draw(pub.Course.Exam, []string{"ensimmainen", "toinen"})
		if len(items) != 4 || items[0].Module != "ensimmainen" || items[1].Module != "ensimmainen" || items[2].Module != "toinen" {
			t.Fatalf("draw = %v", items)
		}
		for _, d := range items {
			seen[d.ID] = true
			if key := d.Key(); Score(&d, &key) != 1 {
				t.Fatalf("the key of %s (%s) scores %v", d.ID, d.Type, Score(&d, &key))
			}
			if d.Type == course.ItemSingle && len(d.Options) != len(pub.Course.Exam.ByID[d.ID].Options) {
				t.Fatal("options lost in the shuffle")
			}
		}
		a := &Attempt{Items: items, Answers: map[string]*Answer{}}
		data, _ := json.Marshal(a.Views(pub.Course.Exam))
		for _, marker := range []string{`"correct"`, "feedback", `"answer":true`, `"answer":false`, "Juuri näin", "One\",\"id\":\"l", "left_ids"} {
			if strings.Contains(string(data), marker) {
				t.Fatalf("views contain %q: %s", marker, data)
			}
		}
	}
	if len(seen) != 6 {
		t.Fatalf("50 draws saw %d of 6 items", len(seen))
	}
}

func TestAttemptLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	pub := published(t)
	a, created, err := s.Start(ctx, "u1", pub, completed(pub))
	if err != nil || !created || a.Number != 1 || len(a.Items) != 4 || a.Deadline != nil {
		t.Fatalf("start = %+v %v %v", a, created, err)
	}
	// Starting again, from anywhere, resumes the same attempt.
	again, created, err := s.Start(ctx, "u1", pub, completed(pub))
	if err != nil || created || again.ID != a.ID {
		t.Fatalf("second start = %v %v %v", again.ID, created, err)
	}
	// Another learner cannot read or answer it.
	if _, err := s.Get(ctx, "u2", a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("u2 reads u1's attempt: %v", err)
	}
	if _, err := s.SaveAnswer(ctx, "u2", a.ID, a.Items[0].ID, Answer{Seq: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("u2 answers u1's attempt: %v", err)
	}
	// Saves: a stale one never overwrites a newer one.
	first := a.Items[0]
	key := correctAnswer(&first)
	wrong := Answer{}
	if first.Type == course.ItemTrueFalse {
		wrong.Value = boolp(!*first.Answer)
	}
	key.Seq = 5
	if r, err := s.SaveAnswer(ctx, "u1", a.ID, first.ID, key); err != nil || !r.Saved {
		t.Fatalf("save = %+v %v", r, err)
	}
	wrong.Seq = 4
	if r, err := s.SaveAnswer(ctx, "u1", a.ID, first.ID, wrong); err != nil || r.Saved || r.Seq != 5 {
		t.Fatalf("stale save = %+v %v", r, err)
	}
	if _, err := s.SaveAnswer(ctx, "u1", a.ID, "no-such-item", Answer{Seq: 9}); !errors.Is(err, ErrUnknownItem) {
		t.Fatalf("unknown item: %v", err)
	}
	// Submit: graded on the server; again returns the same result.
	done, err := s.Submit(ctx, "u1", a.ID)
	if err != nil || done.Status != StatusSubmitted || done.Result == nil || done.Result.Items[0].Score != 1 {
		t.Fatalf("submit = %+v %v", done, err)
	}
	again, err = s.Submit(ctx, "u1", a.ID)
	if err != nil || again.Submitted == nil || !again.Submitted.Equal(*done.Submitted) || again.Result.Score != done.Result.Score {
		t.Fatalf("second submit = %+v %v", again, err)
	}
	if _, err := s.SaveAnswer(ctx, "u1", a.ID, first.ID, Answer{Seq: 99}); !errors.Is(err, ErrClosed) {
		t.Fatalf("a save after submitting: %v", err)
	}
	// The wait between attempts, then the last attempt.
	if _, _, err := s.Start(ctx, "u1", pub, completed(pub)); !errors.As(err, new(*WaitError)) {
		t.Fatalf("start during the wait: %v", err)
	}
	now = now.Add(25 * time.Hour)
	b, created, err := s.Start(ctx, "u1", pub, completed(pub))
	if err != nil || !created || b.Number != 2 {
		t.Fatalf("second attempt = %+v %v", b, err)
	}
	if ShowKeys(done, []*Attempt{done, b}, pub.Course.Exam.Rules) && !done.Result.Passed {
		t.Fatal("keys shown before the last attempt")
	}
	if _, err := s.Submit(ctx, "u1", b.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(25 * time.Hour)
	if _, _, err := s.Start(ctx, "u1", pub, completed(pub)); !errors.Is(err, ErrNoAttempts) {
		t.Fatalf("a third attempt of two: %v", err)
	}
	all, _ := s.ForUser(ctx, "u1")
	b, _ = s.Get(ctx, "u1", b.ID)
	if !ShowKeys(b, all, pub.Course.Exam.Rules) {
		t.Fatal("keys hidden after the last attempt")
	}
	rev := b.Review(pub.Course.Exam, true)
	if len(rev) != 4 || (rev[0].Type != course.ItemTrueFalse && rev[0].Type != course.ItemMatching && len(rev[0].Choices) == 0) {
		t.Fatalf("review = %+v", rev)
	}
}

// correctAnswer is the key of a drawn item as an answer.
func correctAnswer(d *Drawn) Answer {
	var a Answer
	switch d.Type {
	case course.ItemSingle, course.ItemMultiple:
		a.Choices = append(a.Choices, d.Correct...)
	case course.ItemTrueFalse:
		a.Value = boolp(*d.Answer)
	case course.ItemMatching:
		a.Matches = map[string]string{}
		for l, i := range d.LeftIDs {
			for r, j := range d.RightIDs {
				if i == j {
					a.Matches[l] = r
				}
			}
		}
	}
	return a
}

// Both ways of writing: conditions checked in Go under the lock with
// _id-only filters (the embedded store), and conditions in the filters
// (MongoDB).
func TestConcurrentSavesAndSubmits(t *testing.T) {
	for _, embedded := range []bool{true, false} {
		t.Run(map[bool]string{true: "embedded", false: "conditional filters"}[embedded], func(t *testing.T) {
			concurrentSavesAndSubmits(t, embedded)
		})
	}
}

func concurrentSavesAndSubmits(t *testing.T, embedded bool) {
	ctx := context.Background()
	s := newStore(t)
	s.filterConditions = !embedded
	pub := published(t)
	a, _, err := s.Start(ctx, "u", pub, completed(pub))
	if err != nil {
		t.Fatal(err)
	}
	// 100 parallel saves over all items: each item keeps its highest seq.
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func(seq int) {
			defer wg.Done()
			d := a.Items[seq%len(a.Items)]
			ans := correctAnswer(&d)
			ans.Seq = int64(seq)
			if _, err := s.SaveAnswer(ctx, "u", a.ID, d.ID, ans); err != nil {
				t.Errorf("save %d: %v", seq, err)
			}
		}(i)
	}
	wg.Wait()
	got, _ := s.Get(ctx, "u", a.ID)
	for i, d := range got.Items {
		want := int64(100 - (100-i)%len(got.Items))
		if want > 100 {
			want -= int64(len(got.Items))
		}
		if ans := got.Answers[d.ID]; ans == nil || ans.Seq != want {
			t.Fatalf("item %d kept %+v, want seq %d", i, ans, want)
		}
	}
	// Two submits at once: one grading, one result.
	results := make(chan *Attempt, 2)
	for i := 0; i < 2; i++ {
		go func() {
			r, err := s.Submit(ctx, "u", a.ID)
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	r1, r2 := <-results, <-results
	if r1.Submitted == nil || !r1.Submitted.Equal(*r2.Submitted) || r1.Result.Score != r2.Result.Score || r1.Result.Score != 4 {
		t.Fatalf("two submits: %+v / %+v", r1.Result, r2.Result)
	}
	// Two starts at once give one attempt.
	s2 := newStore(t)
	s2.filterConditions = !embedded
	starts := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func() {
			a, _, err := s2.Start(ctx, "v", pub, completed(pub))
			if err != nil {
				t.Error(err)
				starts <- ""
				return
			}
			starts <- a.ID
		}()
	}
	if x, y := <-starts, <-starts; x == "" || x != y {
		t.Fatalf("two starts gave %q and %q", x, y)
	}
}

func TestDeadlinesSweeperAndExtensions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	pub := published(t)
	pub.Course.Exam.Rules.TimeLimit = 30
	defer func() { pub.Course.Exam.Rules.TimeLimit = 0 }()

	// An extension of 15 minutes for one learner; no limit for another.
	if err := s.SetExtension(ctx, "slow", "admin", 15, false, pub.Course.Exam.Rules); err != nil {
		t.Fatal(err)
	}
	if err := s.SetExtension(ctx, "free", "admin", 0, true, pub.Course.Exam.Rules); err != nil {
		t.Fatal(err)
	}
	a, _, _ := s.Start(ctx, "u", pub, completed(pub))
	slow, _, _ := s.Start(ctx, "slow", pub, completed(pub))
	free, _, _ := s.Start(ctx, "free", pub, completed(pub))
	if a.Deadline == nil || !a.Deadline.Equal(now.Add(30*time.Minute)) || !slow.Deadline.Equal(now.Add(45*time.Minute)) || free.Deadline != nil {
		t.Fatalf("deadlines %v %v %v", a.Deadline, slow.Deadline, free.Deadline)
	}
	d := a.Items[0]
	ans := correctAnswer(&d)
	ans.Seq = 1
	if _, err := s.SaveAnswer(ctx, "u", a.ID, d.ID, ans); err != nil {
		t.Fatal(err)
	}
	// At the deadline saves are refused; the sweeper closes the attempt
	// after the grace time, grading what was saved.
	now = now.Add(30 * time.Minute)
	ans.Seq = 2
	if _, err := s.SaveAnswer(ctx, "u", a.ID, d.ID, ans); !errors.Is(err, ErrLate) {
		t.Fatalf("a late save: %v", err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep within the grace time closed %d: %v", n, err)
	}
	now = now.Add(Grace + time.Second)
	// Two sweepers at once (two instances) close it once.
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Add(1)
		go func() { defer wg.Done(); counts[i], _ = s.Sweep(ctx) }()
	}
	wg.Wait()
	got, _ := s.Get(ctx, "u", a.ID)
	if got.Status != StatusSubmitted || got.ClosedBy != "deadline" || got.Result.Items[0].Score != 1 {
		t.Fatalf("swept = %+v", got)
	}
	// A learner's own page closes an attempt at its deadline at once,
	// without waiting for the sweeper.
	late, _, _ := s.Start(ctx, "late", pub, completed(pub))
	now = now.Add(31 * time.Minute)
	if got, err := s.CloseIfLate(ctx, late); err != nil || got.Status != StatusSubmitted || got.ClosedBy != "deadline" {
		t.Fatalf("CloseIfLate = %+v %v", got, err)
	}
	// The slow learner still has time; more time moves the open deadline.
	if got, _ := s.Get(ctx, "slow", slow.ID); got.Status != StatusOpen {
		t.Fatal("the extended attempt was closed")
	}
	if err := s.SetExtension(ctx, "slow", "admin", 60, false, pub.Course.Exam.Rules); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "slow", slow.ID); !got.Deadline.Equal(slow.Started.Add(90 * time.Minute)) {
		t.Fatalf("moved deadline %v", got.Deadline)
	}
	if err := s.SetExtension(ctx, "slow", "admin", -5, false, pub.Course.Exam.Rules); err == nil {
		t.Fatal("negative extra time accepted")
	}
}

// The blueprint: every attempt tests each objective the bank's items
// test, whichever items the shuffle meets first; items of no objective
// fill the rest, and over many draws every item is drawn.
func TestDrawFollowsTheBlueprint(t *testing.T) {
	ex := &course.Exam{Rules: course.ExamRules{PerModule: 4}, ByID: map[string]*course.ExamItem{}, ByModule: map[string][]string{}}
	add := func(id string, objective int) {
		ex.ByID[id] = &course.ExamItem{ID: id, Type: course.ItemTrueFalse, Answer: boolp(true), Module: "m", Objective: objective}
		ex.ByModule["m"] = append(ex.ByModule["m"], id)
	}
	// Objective 1 has eight items, 2, 3 and 4 one each: a plain random
	// draw of four would miss one of them most of the time.
	for i := 0; i < 8; i++ {
		add(fmt.Sprintf("yksi-%d", i), 1)
	}
	add("kaksi", 2)
	add("kolme", 3)
	add("nelja", 4)
	add("vapaa", 0)
	seen := map[string]int{}
	for n := 0; n < 1000; n++ {
		items := Draw(ex, []string{"m"})
		if len(items) != 4 {
			t.Fatalf("draw %d: %d items", n, len(items))
		}
		objectives := map[int]bool{}
		for _, d := range items {
			objectives[ex.ByID[d.ID].Objective] = true
			seen[d.ID]++
		}
		if !objectives[1] || !objectives[2] || !objectives[3] || !objectives[4] {
			t.Fatalf("draw %d tests objectives %v, want 1–4", n, objectives)
		}
	}
	for id := range ex.ByID {
		if id != "vapaa" && seen[id] == 0 {
			t.Errorf("1000 draws never took %s", id)
		}
	}
	// With room to spare, the item of no objective is drawn too.
	ex.Rules.PerModule = 5
	found := false
	for n := 0; n < 200 && !found; n++ {
		for _, d := range Draw(ex, []string{"m"}) {
			found = found || d.ID == "vapaa"
		}
	}
	if !found {
		t.Error("200 draws of five never took the item of no objective")
	}
}

// A retake started by several instances at once (two stores on one
// database, each with its own locks, as two processes have) is one
// attempt: the claim of its number is an insert, which only one wins.
// A claim whose instance stopped before bringing the learner's record to
// it is completed by the next start.
func TestRetakeClaimedOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	s1 := newStore(t)
	s2 := NewStore(s1.db, nil)
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s1.SetClock(clock)
	s2.SetClock(clock)
	pub := published(t)
	pub.Course.Exam.Rules.WaitHours = 1
	fail := func(user string) {
		a, _, err := s1.Start(ctx, user, pub, completed(pub))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s1.Submit(ctx, user, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"r1", "r2", "r3"} {
		fail(u)
	}
	now = now.Add(2 * time.Hour)
	for _, user := range []string{"r1", "r2"} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[string]int{}
		for k := range 10 {
			st := []*Store{s1, s2}[k%2]
			wg.Go(func() {
				a, _, err := st.Start(ctx, user, pub, completed(pub))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[a.ID]++
				mu.Unlock()
			})
		}
		wg.Wait()
		list, err := s1.ForUser(ctx, user)
		open := 0
		for _, a := range list {
			if a.Status == StatusOpen {
				open++
				if a.Number != 2 {
					t.Errorf("%s: the open attempt is number %d", user, a.Number)
				}
			}
		}
		if err != nil || len(got) != 1 || len(list) != 2 || open != 1 {
			t.Fatalf("%s: starts answered %d attempts %v; %d stored, %d open (%v)", user, len(got), got, len(list), open, err)
		}
	}
	// r3's retake was claimed by an instance that stopped right after the
	// claim: the attempt and the claim are stored, the record not.
	first, _ := s1.ForUser(ctx, "r3")
	orphan := *first[0]
	orphan.ID, orphan.Number, orphan.Started, orphan.Answers = "t-kesken", 2, now, map[string]*Answer{}
	orphan.Draw.V = orphan.Items
	if _, err := s1.db.Collection(attemptsCollection).InsertOne(ctx, &orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.db.Collection(claimsCollection).InsertOne(ctx, claimDoc{ID: "r3/2", UserID: "r3", Attempt: orphan.ID, At: now}); err != nil {
		t.Fatal(err)
	}
	a, _, err := s2.Start(ctx, "r3", pub, completed(pub))
	if err != nil || a.ID != orphan.ID || a.Status != StatusOpen {
		t.Fatalf("the start after a claim cut short = %+v %v", a, err)
	}
	if list, _ := s1.ForUser(ctx, "r3"); len(list) != 2 {
		t.Fatalf("r3 has %d attempts", len(list))
	}
	// Erasure removes the claims with the learner's record.
	if err := s1.DeleteUser(ctx, "r3"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s1.db.Collection(claimsCollection).CountDocuments(ctx, bson.D{{Key: "user_id", Value: "r3"}}); n != 0 {
		t.Fatalf("%d claims left after erasure", n)
	}
}
