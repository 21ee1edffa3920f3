package api_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
)

// keyMarkers are what would give an answer away: key fields, feedback
// (shown only in review) and the fixture bank's feedback texts.
var keyMarkers = []string{`"correct"`, `correct:`, `"feedback`, `feedback_`, `"answer":`, `left_ids`, `right_ids`, `option_order`,
	"Juuri näin", "Ei tämä", "Oikein, tosi", "Väite on tosi", "Numerot englanniksi", `class="key"`}

func assertNoKeys(t *testing.T, where, body string) {
	t.Helper()
	for _, m := range keyMarkers {
		if strings.Contains(body, m) {
			t.Errorf("%s contains the answer marker %q", where, m)
		}
	}
}

type attemptJSON struct {
	ID     string `json:"id"`
	Number int    `json:"number"`
	Status string `json:"status"`
	Items  []struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Options []struct{ ID, Text string }
		Lefts   []struct{ ID, Text string }
		Rights  []struct{ ID, Text string }
	} `json:"items"`
	Result *struct {
		Score   float64 `json:"score"`
		Percent float64 `json:"percent"`
		Passed  bool    `json:"passed"`
	} `json:"result"`
	Review []struct {
		Correct bool `json:"correct"`
		Choices []struct {
			Correct *bool `json:"correct"`
		} `json:"choices"`
	} `json:"review"`
	Keys bool `json:"keys_shown"`
}

// rightAnswer answers a fixture item correctly from what the learner
// sees (the fixture's option and pair texts say which is right).
func rightAnswer(it struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Options []struct{ ID, Text string }
	Lefts   []struct{ ID, Text string }
	Rights  []struct{ ID, Text string }
}) map[string]any {
	switch it.Type {
	case "single", "multiple":
		var ids []string
		for _, o := range it.Options {
			if strings.HasPrefix(o.Text, "Oikea") {
				ids = append(ids, o.ID)
			}
		}
		return map[string]any{"choices": ids}
	case "truefalse":
		return map[string]any{"value": it.ID == "e-tosi"}
	}
	en := map[string]string{"Yksi": "One", "Kaksi": "Two", "Kolme": "Three"}
	m := map[string]string{}
	for _, l := range it.Lefts {
		for _, r := range it.Rights {
			if en[l.Text] == r.Text {
				m[l.ID] = r.ID
			}
		}
	}
	return map[string]any{"matches": m}
}

func TestExamThroughTheAPI(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register(account.NewID()[:10]+"@example.fi", "Tentti Tekijä")
	studied(t, b)
	token := b.csrf("/tili")
	if resp, _ := b.do("POST", "/api/v1/exam/attempts", nil); resp.StatusCode != 403 {
		t.Fatalf("start without the token = %d", resp.StatusCode)
	}
	resp, body := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token)
	if resp.StatusCode != 201 {
		t.Fatalf("start = %d %s", resp.StatusCode, body)
	}
	assertNoKeys(t, "the started attempt", body)
	a := decode[attemptJSON](t, body)
	if len(a.Items) != 4 || a.Status != "open" || a.Number != 1 {
		t.Fatalf("attempt = %+v", a)
	}
	// Starting again resumes it.
	resp, body = b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token)
	if resp.StatusCode != 200 || decode[attemptJSON](t, body).ID != a.ID {
		t.Fatalf("second start = %d", resp.StatusCode)
	}
	// Another learner sees and changes nothing of it.
	other := newClient(t, r.URL)
	other.register(account.NewID()[:10]+"@example.fi", "Toinen Tekijä")
	ot := other.csrf("/tili")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/exam/attempts/" + a.ID, ""},
		{"PUT", "/api/v1/exam/attempts/" + a.ID + "/answers/" + a.Items[0].ID, `{"seq":1,"choices":[]}`},
		{"POST", "/api/v1/exam/attempts/" + a.ID + "/submit", ""},
		{"GET", "/tentti/" + a.ID, ""},
		{"GET", "/tentti/" + a.ID + "/tarkista", ""},
		{"GET", "/tentti/" + a.ID + "/tulos", ""},
	} {
		if resp, _ := other.do(c.method, c.path, strings.NewReader(c.body), "Content-Type", "application/json", "X-CSRF-Token", ot); resp.StatusCode != 404 {
			t.Errorf("another learner: %s %s = %d", c.method, c.path, resp.StatusCode)
		}
	}
	// Answers, with a stale one that loses.
	for i, it := range a.Items {
		ans := rightAnswer(it)
		ans["seq"] = 10 + i
		resp, body := b.putJSON("/api/v1/exam/attempts/"+a.ID+"/answers/"+it.ID, token, ans)
		if resp.StatusCode != 200 || !strings.Contains(body, `"saved":true`) {
			t.Fatalf("save %s = %d %s", it.ID, resp.StatusCode, body)
		}
		assertNoKeys(t, "a save", body)
	}
	resp, body = b.putJSON("/api/v1/exam/attempts/"+a.ID+"/answers/"+a.Items[0].ID, token, map[string]any{"seq": 1, "choices": []string{}})
	if resp.StatusCode != 200 || !strings.Contains(body, `"saved":false`) {
		t.Fatalf("stale save = %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.putJSON("/api/v1/exam/attempts/"+a.ID+"/answers/"+a.Items[0].ID, token, map[string]any{"seq": 99, "choices": []string{"x", "y"}}); resp.StatusCode != 400 {
		t.Fatalf("a bad answer = %d", resp.StatusCode)
	}
	_, body = b.get("/api/v1/exam/attempts/" + a.ID)
	assertNoKeys(t, "the open attempt", body)
	// Submit, twice: one result.
	resp, body = b.do("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", nil, "X-CSRF-Token", token)
	done := decode[attemptJSON](t, body)
	if resp.StatusCode != 200 || done.Result == nil || !done.Result.Passed || done.Result.Score != 4 || !done.Keys || len(done.Review) != 4 {
		t.Fatalf("submit = %d %s", resp.StatusCode, body)
	}
	_, body = b.do("POST", "/api/v1/exam/attempts/"+a.ID+"/submit", nil, "X-CSRF-Token", token)
	if again := decode[attemptJSON](t, body); again.Result.Score != done.Result.Score {
		t.Fatal("the second submit graded again")
	}
	if resp, _ := b.putJSON("/api/v1/exam/attempts/"+a.ID+"/answers/"+a.Items[0].ID, token, map[string]any{"seq": 100, "choices": []string{}}); resp.StatusCode != 409 {
		t.Fatalf("a save after submitting = %d", resp.StatusCode)
	}
	// Passed: no new attempt.
	if resp, body := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", token); resp.StatusCode != 409 || !strings.Contains(body, "passed") {
		t.Fatalf("start after passing = %d %s", resp.StatusCode, body)
	}
	// The export has the attempt.
	if _, export := b.get("/api/v1/me/export"); !strings.Contains(export, `"exam_attempts": [`) || !strings.Contains(export, a.ID) {
		t.Fatal("the data export lacks the attempt")
	}

	// The bank with keys and the statistics: authors and admins only.
	if resp, _ := b.get("/api/v1/admin/exam/items"); resp.StatusCode != 404 {
		t.Fatalf("a learner reading the keys = %d", resp.StatusCode)
	}
	au, _ := author(t, r)
	resp, body = au.get("/api/v1/admin/exam/items")
	if resp.StatusCode != 200 || !strings.Contains(body, `"correct":true`) || !strings.Contains(body, `"per_module":2`) {
		t.Fatalf("bank = %d", resp.StatusCode)
	}
	resp, body = au.get("/api/v1/admin/exam/stats")
	var st struct {
		Attempts int     `json:"attempts"`
		PassRate float64 `json:"pass_rate"`
		Items    []any   `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 || st.Attempts != 1 || st.PassRate != 1 || len(st.Items) != 4 {
		t.Fatalf("stats = %d %s", resp.StatusCode, body)
	}
	resp, body = au.get("/api/v1/admin/exam/stats?format=csv")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "item,module,type,attempts,facility,discrimination,flags,choices\n") || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv = %d %q", resp.StatusCode, body)
	}
}

// The exam without JavaScript: every page is a form.
func TestExamPagesWithForms(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register(account.NewID()[:10]+"@example.fi", "Lomake Tekijä")
	studied(t, b)
	resp, page := b.get("/tentti")
	if resp.StatusCode != 200 || !strings.Contains(page, "Kokeessa on 4 kysymystä, 2 jokaisesta osiosta.") || !strings.Contains(page, `action="/tentti/aloita"`) {
		t.Fatalf("intro = %d", resp.StatusCode)
	}
	token := csrfField.FindStringSubmatch(page)[1]
	resp, _ = b.post("/tentti/aloita", url.Values{"csrf": {token}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/tentti/") {
		t.Fatalf("start = %d %s", resp.StatusCode, loc)
	}
	id := strings.TrimPrefix(loc, "/tentti/")
	_, page = b.get(loc)
	assertNoKeys(t, "the exam page", page)
	if strings.Count(page, `<fieldset class="exam-item"`) != 4 || !strings.Contains(page, "Vastaamatta 4 kysymystä 4:stä.") {
		t.Fatal("the exam page does not show four unanswered items")
	}
	// One item per page, each answered by its form.
	for n := 1; n <= 4; n++ {
		_, p := b.get(loc + "?nakyma=yksi&kysymys=" + itoa(n))
		assertNoKeys(t, "a one-item page", p)
		if strings.Count(p, `<fieldset class="exam-item"`) != 1 {
			t.Fatalf("page %d shows %d items", n, strings.Count(p, `<fieldset class="exam-item"`))
		}
		f := url.Values{"csrf": {token}, "nakyma": {"yksi"}, "kysymys": {itoa(n)}, "siirry": {itoa(n%4 + 1)}}
		shown := regexp.MustCompile(`name="(q-[a-z0-9-]+-shown)"`).FindStringSubmatch(p)[1]
		f.Set(shown, "1")
		switch {
		case strings.Contains(p, `value="true"`):
			f.Set(strings.TrimSuffix(shown, "-shown"), map[bool]string{true: "true", false: "false"}[strings.Contains(p, "joka on tosi")])
		case strings.Contains(p, `<select`):
			for _, m := range regexp.MustCompile(`<label for="(q-[a-z0-9-]+-l[a-z0-9]+)">(\w+)</label>`).FindAllStringSubmatch(p, -1) {
				want := map[string]string{"Yksi": "One", "Kaksi": "Two", "Kolme": "Three"}[m[2]]
				opt := regexp.MustCompile(`<option value="(r[a-z0-9]+)">` + want + `</option>`).FindStringSubmatch(p)
				f.Set(m[1], opt[1])
			}
		default:
			for _, m := range regexp.MustCompile(`<input type="(?:radio|checkbox)" id="[^"]+" name="(q-[a-z0-9-]+)" value="(o[a-z2-7]+)"> <label for="[^"]+">([^<]+)</label>`).FindAllStringSubmatch(p, -1) {
				if strings.HasPrefix(m[3], "Oikea") {
					f.Add(m[1], m[2])
				}
			}
		}
		resp, _ := b.post("/tentti/"+id, f)
		if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "kysymys="+itoa(n%4+1)) {
			t.Fatalf("saving item %d = %d %s", n, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, page = b.get("/tentti/" + id + "/tarkista")
	assertNoKeys(t, "the check page", page)
	if resp.StatusCode != 200 || !strings.Contains(page, "Olet vastannut kaikkiin kysymyksiin.") {
		t.Fatalf("check = %d", resp.StatusCode)
	}
	resp, _ = b.post("/tentti/"+id+"/palauta", url.Values{"csrf": {token}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/tentti/"+id+"/tulos" {
		t.Fatalf("submit = %d", resp.StatusCode)
	}
	_, page = b.get("/tentti/" + id + "/tulos")
	// Two of e-yksi, e-monta and e-tosi are drawn: at least one of those
	// with feedback.
	if !strings.Contains(page, "Hyväksytty: 100 % (raja 70 %).") || !strings.Contains(page, `class="key"`) || !strings.Contains(page, `class="feedback"`) {
		t.Fatal("the result page lacks the pass, the keys or the feedback")
	}
	// Back to the exam page after submitting: the result.
	if resp, _ := b.get("/tentti/" + id); resp.StatusCode != 303 || resp.Header.Get("Location") != "/tentti/"+id+"/tulos" {
		t.Fatalf("the submitted exam page = %d", resp.StatusCode)
	}
	if _, page := b.get("/tentti"); !strings.Contains(page, "Olet läpäissyt kokeen (100 %).") {
		t.Fatal("the intro does not say the exam is passed")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// An administrator grants extra time; it is in the audit log.
func TestExamExtensionByAdministrator(t *testing.T) {
	r := start(t)
	learner := newClient(t, r.URL)
	email := account.NewID()[:10] + "@example.fi"
	learner.register(email, "Lisä Aika")
	u, _ := r.Accounts().UserByEmail(t.Context(), email)
	admin, token := author(t, r)
	resp, _ := admin.post("/yllapito/kayttajat/"+u.ID+"/tentti", url.Values{"csrf": {token}, "minutes": {"30"}})
	if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "ilmoitus=tentti") {
		t.Fatalf("extension = %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/yllapito/kayttajat/"+u.ID+"/tentti", url.Values{"csrf": {token}, "minutes": {"-5"}}); resp.StatusCode != 400 {
		t.Fatalf("negative minutes = %d", resp.StatusCode)
	}
	if resp, _ := learner.post("/yllapito/kayttajat/"+u.ID+"/tentti", url.Values{"csrf": {learner.csrf("/tili")}, "minutes": {"30"}}); resp.StatusCode != 404 {
		t.Fatalf("a learner granting time = %d", resp.StatusCode)
	}
	if _, page := admin.get("/yllapito/loki"); !strings.Contains(page, "exam.extension (30 min)") {
		t.Fatal("the extension is not in the audit log")
	}
}

func init() {
	stateChanging["POST /tentti/aloita"] = func(t *testing.T, r *running) {
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Csrf Tentti")
		if resp, _ := b.post("/tentti/aloita", url.Values{"x": {"1"}}); resp.StatusCode != 403 {
			t.Errorf("starting without the token = %d", resp.StatusCode)
		}
	}
	examRefused := func(method, path, body, ctype string) func(*testing.T, *running) {
		return func(t *testing.T, r *running) {
			b := newClient(t, r.URL)
			b.register(account.NewID()[:10]+"@example.fi", "Csrf Tentti")
			studied(t, b)
			_, body0 := b.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", b.csrf("/tili"))
			id := decode[attemptJSON](t, body0).ID
			p := strings.Replace(path, ":attempt", id, 1)
			if resp, _ := b.do(method, p, strings.NewReader(body), "Content-Type", ctype); resp.StatusCode != 403 {
				t.Errorf("%s %s without the token = %d", method, p, resp.StatusCode)
			}
		}
	}
	form := "application/x-www-form-urlencoded"
	stateChanging["POST /tentti/:attempt"] = examRefused("POST", "/tentti/:attempt", "x=1", form)
	stateChanging["POST /tentti/:attempt/palauta"] = examRefused("POST", "/tentti/:attempt/palauta", "x=1", form)
	stateChanging["POST /api/v1/exam/attempts"] = examRefused("POST", "/api/v1/exam/attempts", "", "application/json")
	stateChanging["PUT /api/v1/exam/attempts/:attempt/answers/:item"] = examRefused("PUT", "/api/v1/exam/attempts/:attempt/answers/e-yksi", `{"seq":1}`, "application/json")
	stateChanging["POST /api/v1/exam/attempts/:attempt/submit"] = examRefused("POST", "/api/v1/exam/attempts/:attempt/submit", "", "application/json")
	stateChanging["POST /yllapito/kayttajat/:user/tentti"] = func(t *testing.T, r *running) {
		a, _ := author(t, r)
		if resp, _ := a.post("/yllapito/kayttajat/x/tentti", url.Values{"minutes": {"5"}}); resp.StatusCode != 403 {
			t.Errorf("an extension without the token = %d", resp.StatusCode)
		}
	}
	// Attempts belong to one learner: another gets 404 (shown in
	// TestExamThroughTheAPI for every attempt route).
	isolated := func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aino A")
		studied(t, a)
		_, body := a.do("POST", "/api/v1/exam/attempts", nil, "X-CSRF-Token", a.csrf("/tili"))
		id := decode[attemptJSON](t, body).ID
		b := newClient(t, r.URL)
		b.register(account.NewID()[:10]+"@example.fi", "Bertta B")
		tb := b.csrf("/tili")
		for _, c := range []struct{ m, p string }{{"GET", "/api/v1/exam/attempts/" + id}, {"PUT", "/api/v1/exam/attempts/" + id + "/answers/e-yksi"},
			{"POST", "/api/v1/exam/attempts/" + id + "/submit"}, {"GET", "/tentti/" + id}, {"POST", "/tentti/" + id}, {"GET", "/tentti/" + id + "/tarkista"},
			{"POST", "/tentti/" + id + "/palauta"}, {"GET", "/tentti/" + id + "/tulos"}} {
			if resp, _ := b.do(c.m, c.p, strings.NewReader(`{"seq":1,"choices":[]}`), "Content-Type", "application/json", "X-CSRF-Token", tb); resp.StatusCode != 404 {
				t.Errorf("B on A's attempt: %s %s = %d", c.m, c.p, resp.StatusCode)
			}
		}
	}
	for _, route := range []string{"GET /api/v1/exam/attempts/:attempt", "HEAD /api/v1/exam/attempts/:attempt", "PUT /api/v1/exam/attempts/:attempt/answers/:item",
		"POST /api/v1/exam/attempts/:attempt/submit", "GET /tentti/:attempt", "HEAD /tentti/:attempt", "POST /tentti/:attempt", "GET /tentti/:attempt/tarkista",
		"HEAD /tentti/:attempt/tarkista", "POST /tentti/:attempt/palauta", "GET /tentti/:attempt/tulos", "HEAD /tentti/:attempt/tulos"} {
		idorMatrix[route] = isolated
	}
	idorMatrix["POST /yllapito/kayttajat/:user/tentti"] = func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aapo Ei-ylläpitäjä")
		if resp, _ := a.post("/yllapito/kayttajat/"+account.NewID()+"/tentti", url.Values{"csrf": {a.csrf("/tili")}, "minutes": {"5"}}); resp.StatusCode != 404 {
			t.Errorf("a learner granting time = %d", resp.StatusCode)
		}
	}
}
