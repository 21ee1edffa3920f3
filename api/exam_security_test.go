package api_test

import (
	"context"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/study"
)

// runningAt finds a test server by its URL (startOpts records each), so
// that a helper given only a client can reach the server's stores.
var runningAt sync.Map

// completeCourse completes every section of the course for a learner
// through the progress store, each by its completion rule: a reading
// page by the completed event, a task page by an answer, a video page by
// playing its media to the end.
func completeCourse(t testing.TB, p *study.Progress, c *course.Course, userID string, modules ...string) {
	t.Helper()
	ctx := context.Background()
	before, err := p.ForUser(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Modules {
		if len(modules) > 0 && !strings.Contains(" "+strings.Join(modules, " ")+" ", " "+m.Slug+" ") {
			continue
		}
		for _, sec := range m.Sections {
			if before[m.Slug+"/"+sec.Slug].Done() {
				continue // the learner's own completion (and answer) stays
			}
			var err error
			switch sec.Completion {
			case course.CompleteOnTask:
				for _, task := range sec.Body.Tasks {
					if task.Answer {
						_, err = p.SaveAnswer(ctx, userID, sec, task.ID, "Oma vastaukseni.")
						break
					}
				}
			case course.CompleteOnVideo:
				for _, id := range sec.Body.Media {
					if _, err = p.Record(ctx, userID, sec, study.Event{Kind: "played", Media: id, Position: 60, Ranges: [][2]float64{{0, 60}},
						Duration: 60, Required: sec.Body.Media}); err != nil {
						break
					}
				}
			default:
				_, err = p.Record(ctx, userID, sec, study.Event{Kind: "completed"})
			}
			if err != nil {
				t.Fatalf("completing %s/%s: %v", m.Slug, sec.Slug, err)
			}
		}
	}
	records, err := p.ForUser(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if mods, _ := c.Summarise(records); len(modules) == 0 {
		for _, mp := range mods {
			if !mp.Completed {
				t.Fatalf("module %s is not completed after completing it", mp.Module.Slug)
			}
		}
	}
}

// studied completes the whole course for the client's signed-in learner,
// as the exam's eligibility rule asks, through the server's own progress
// store (whose cache it keeps right).
func studied(t *testing.T, b *browserClient, modules ...string) {
	t.Helper()
	v, ok := runningAt.Load(b.base)
	if !ok {
		t.Fatalf("no test server at %s", b.base)
	}
	r := v.(*running)
	u, _ := url.Parse(b.base)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == "session" || c.Name == "lti_session" {
			_, user, err := r.Accounts().Session(context.Background(), c.Value)
			if err != nil {
				t.Fatal(err)
			}
			completeCourse(t, r.Progress(), r.Course(), user.ID, modules...)
			return
		}
	}
	t.Fatal("the client is not signed in")
}

// fixtureRules is the test course with exam.yaml replaced.
func fixtureRules(t *testing.T, rules string) *course.Library {
	t.Helper()
	return fixtureChanged(t, map[string]string{"exam/exam.yaml": rules})
}

// fixtureChanged is the fixture course with some files replaced or added.
func fixtureChanged(t *testing.T, files map[string]string) *course.Library {
	t.Helper()
	tree := fstest.MapFS{}
	root := "../course/testdata/course"
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(root + "/" + p)
		tree[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, text := range files {
		tree[p] = &fstest.MapFile{Data: []byte(text)}
	}
	c, problems := course.Load(tree)
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	return course.NewStaticLibrary(&course.Published{Version: 1, Course: c})
}

// A learner who has not completed the course gets no attempt: the API
// answers 403 with a problem of a stable type naming the modules still to
// complete, the page says the same in the learner's language, and the
// exam's page lists what remains.
func TestExamNeedsTheCourseCompleted(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register(account.NewID()[:10]+"@example.fi", "Nolla Prosenttia")
	token := b.csrf("/tili")
	resp, body := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token)
	p := decode[struct {
		Type, Title, Detail, Code string
		Status                    int
		Modules                   []struct{ Slug, Title, URL string }
	}](t, body)
	if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/problem+json" || p.Type != "tag:tyokyky,2026:problem:exam-not-eligible" ||
		p.Code != "exam_not_eligible" || p.Status != 403 || len(p.Modules) != 2 || p.Modules[0].Slug != "ensimmainen" || p.Modules[1].URL != "/osiot/toinen" {
		t.Fatalf("start with nothing studied = %d %s", resp.StatusCode, body)
	}
	// The page: the modules to complete and no start button; posting
	// anyway is refused in the learner's language.
	_, page := b.get("/tentti")
	if strings.Contains(page, `action="/tentti/aloita"`) || !strings.Contains(page, "Suorita ensin nämä osiot") ||
		!strings.Contains(page, `href="/osiot/ensimmainen"`) || !strings.Contains(page, "Voit aloittaa kokeen, kun olet suorittanut kaikki osiot.") {
		t.Fatal("the exam's page does not say which modules remain")
	}
	for lang, want := range map[string]string{"fi": "Koetta ei voi vielä aloittaa", "sv": "Provet kan inte börja ännu", "en": "The exam cannot start yet"} {
		resp, page := b.do("POST", "/tentti/aloita", strings.NewReader(url.Values{"csrf": {token}}.Encode()),
			"Content-Type", "application/x-www-form-urlencoded", "Accept-Language", lang)
		if resp.StatusCode != 403 || !strings.Contains(page, want) || !strings.Contains(page, `href="/osiot/toinen"`) {
			t.Errorf("starting the page in %s = %d", lang, resp.StatusCode)
		}
	}
	if _, export := b.get("/api/v1/me/export"); !strings.Contains(export, `"exam_attempts": []`) {
		t.Fatal("a refused start left an attempt")
	}
	// One module of two: the other remains.
	studied(t, b, "ensimmainen")
	resp, body = b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token)
	if resp.StatusCode != 403 || strings.Contains(body, `"slug":"ensimmainen"`) || !strings.Contains(body, `"slug":"toinen"`) {
		t.Fatalf("start with one module of two = %d %s", resp.StatusCode, body)
	}
	if _, page := b.get("/tentti"); strings.Contains(page, `href="/osiot/ensimmainen"`) || !strings.Contains(page, `href="/osiot/toinen"`) {
		t.Fatal("the exam's page lists a completed module")
	}
	// Everything completed: the exam starts.
	studied(t, b)
	if _, page := b.get("/tentti"); !strings.Contains(page, `action="/tentti/aloita"`) {
		t.Fatal("no start button after completing the course")
	}
	if resp, body := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token); resp.StatusCode != 201 {
		t.Fatalf("start after completing = %d %s", resp.StatusCode, body)
	}

	// With eligibility: none anyone signed in may start.
	open := startWith(t, fixtureRules(t, "per_module: 2\neligibility: none\n"))
	o := newClient(t, open.URL)
	o.register(account.NewID()[:10]+"@example.fi", "Avoin Koe")
	if _, page := o.get("/tentti"); !strings.Contains(page, `action="/tentti/aloita"`) || strings.Contains(page, "kaikki osiot") {
		t.Fatal("eligibility none: no start button")
	}
	if resp, body := o.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", o.csrf("/tili")); resp.StatusCode != 201 {
		t.Fatalf("eligibility none: start = %d %s", resp.StatusCode, body)
	}
}

var optionValue = regexp.MustCompile(`<input type="(?:radio|checkbox)" id="[^"]+" name="q-([a-z0-9-]+)" value="(o[a-z2-7]+)"> <label for="[^"]+">([^<]+)</label>`)

// Options carry ids of the attempt's own: never the bank's letters, never
// the same for two learners; answers in the bank's letters or in another
// learner's ids are refused and score nothing.
func TestExamOptionIDsAreTheAttempts(t *testing.T) {
	r := start(t)
	bank := r.Course().Exam
	type seenID struct{ learner, item, text string }
	seen := map[string]seenID{}
	var attempts []attemptJSON
	var clients []*browserClient
	var tokens []string
	for n := 0; n < 2; n++ {
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Oppija "+itoa(n))
		studied(t, b)
		token := b.csrf("/tili")
		_, body := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token)
		a := decode[attemptJSON](t, body)
		// The exam page shows the same ids.
		_, page := b.get("/tentti/" + a.ID)
		onPage := map[string]bool{}
		for _, m := range optionValue.FindAllStringSubmatch(page, -1) {
			onPage[m[1]+"/"+m[2]] = true
		}
		choices := 0
		for _, it := range a.Items {
			for _, o := range it.Options {
				choices++
				if bank.ByID[it.ID].Option(o.ID) != nil || len(o.ID) < 8 {
					t.Fatalf("item %s: option id %q is (like) the bank's", it.ID, o.ID)
				}
				if prev, ok := seen[o.ID]; ok {
					t.Fatalf("option id %s for %+v and learner %d's %s", o.ID, prev, n, it.ID)
				}
				seen[o.ID] = seenID{itoa(n), it.ID, o.Text}
				if !onPage[it.ID+"/"+o.ID] {
					t.Fatalf("the exam page does not have option %s of %s", o.ID, it.ID)
				}
			}
		}
		if choices == 0 || len(onPage) != choices {
			t.Fatalf("%d options in the API, %d on the page", choices, len(onPage))
		}
		attempts, clients, tokens = append(attempts, a), append(clients, b), append(tokens, token)
	}
	// Learner 0 answers with the bank's letters of the key, and with
	// learner 1's ids: refused; then submits.
	a, b, token := attempts[0], clients[0], tokens[0]
	otherIDs := map[string][]string{}
	for _, it := range attempts[1].Items {
		for _, o := range it.Options {
			if strings.HasPrefix(o.Text, "Oikea") {
				otherIDs[it.ID] = append(otherIDs[it.ID], o.ID)
			}
		}
	}
	choiceItems := 0
	for i, it := range a.Items {
		if it.Type != "single" && it.Type != "multiple" {
			continue
		}
		choiceItems++
		var letters []string
		for _, o := range bank.ByID[it.ID].Options {
			if o.Correct {
				letters = append(letters, o.ID)
			}
		}
		for _, wrong := range [][]string{letters, otherIDs[it.ID]} {
			if wrong == nil {
				continue
			}
			if resp, body := b.putJSON("/api/v1/exam/attempts/"+a.ID+"/answers/"+it.ID, token, map[string]any{"seq": i + 1, "choices": wrong}); resp.StatusCode != 400 {
				t.Fatalf("answering %s with %v = %d %s", it.ID, wrong, resp.StatusCode, body)
			}
		}
	}
	_, body := b.do("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", nil, "X-CSRF-Token", token)
	done := decode[attemptJSON](t, body)
	if done.Result == nil || done.Result.Score != 0 {
		t.Fatalf("answers in the bank's letters scored: %s", body)
	}
	if choiceItems == 0 {
		t.Fatal("no choice item drawn")
	}
}

// The review rule after_pass_or_last: a failed attempt that is not the
// last shows the total and the modules' totals, nothing of which items
// were right, in the API and on the page; a passed one shows everything.
func TestExamReviewRuleHidesItemsUntilPassed(t *testing.T) {
	r := startWith(t, fixtureRules(t, "per_module: 2\nattempts: 2\nwait_hours: 0\nreview: after_pass_or_last\n"))
	b := newClient(t, r.URL)
	b.register(account.NewID()[:10]+"@example.fi", "Kaksi Yritystä")
	studied(t, b)
	token := b.csrf("/tili")
	take := func(right int) (attemptJSON, string) {
		t.Helper()
		_, body := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token)
		a := decode[attemptJSON](t, body)
		for i, it := range a.Items[:right] {
			ans := rightAnswer(it)
			ans["seq"] = i + 1
			if resp, body := b.putJSON("/api/v1/exam/attempts/"+a.ID+"/answers/"+it.ID, token, ans); resp.StatusCode != 200 {
				t.Fatalf("save = %d %s", resp.StatusCode, body)
			}
		}
		_, body = b.do("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", nil, "X-CSRF-Token", token)
		return a, body
	}
	// One right of four: failed, the first of two attempts.
	a, body := take(1)
	done := decode[attemptJSON](t, body)
	if done.Result == nil || done.Result.Passed || done.Result.Score != 1 || done.Keys || len(done.Review) != 4 {
		t.Fatalf("the failed attempt: %s", body)
	}
	for name, b := range map[string]string{"the submit": body, "the attempt": get2(b, "/api/v1/exam/attempts/"+a.ID), "the export": get2(b, "/api/v1/me/export")} {
		for _, marker := range []string{`"correct"`, `"items":[`, `"items": [`, `"key"`, `"feedback":"`} {
			if strings.Contains(b, marker) {
				t.Errorf("%s of a failed attempt carries %q", name, marker)
			}
		}
	}
	if !strings.Contains(body, `"modules":[{"module":"ensimmainen","title":`) || !strings.Contains(body, `"max":2}`) {
		t.Fatalf("the modules' totals are missing: %s", body)
	}
	_, page := b.get("/tentti/" + a.ID + "/tulos")
	for _, marker := range []string{"oikein</h3>", "väärin</h3>", "osittain oikein", `class="key"`, `class="feedback"`} {
		if strings.Contains(page, marker) {
			t.Errorf("the result page of a failed attempt shows %q", marker)
		}
	}
	if !strings.Contains(page, "Hylätty: 25 %") || !strings.Contains(page, "Pisteet osioittain") || !strings.Contains(page, "Vastauksesi") ||
		!strings.Contains(page, "Mitkä kysymykset menivät oikein") {
		t.Fatal("the result page lacks the total, the modules' totals or the note")
	}
	// Every item right: passed, and the review shows it all.
	_, body = take(4)
	passed := decode[attemptJSON](t, body)
	if passed.Result == nil || !passed.Result.Passed || !passed.Keys || !strings.Contains(body, `"correct":true`) || !strings.Contains(body, `"items":[`) {
		t.Fatalf("the passed attempt: %s", body)
	}
	_, page = b.get("/tentti/" + passed.ID + "/tulos")
	if !strings.Contains(page, "oikein</h3>") || !strings.Contains(page, `class="key"`) {
		t.Fatal("the result page of a passed attempt hides the review")
	}
}

// get2 is the body of a client's GET.
func get2(b *browserClient, path string) string {
	_, body := b.get(path)
	return body
}
