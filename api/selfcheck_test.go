package api_test

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/course"
)

const fixtureQuiz = `module: 02-toinen
sections:
  - section: 01-jatko
    items:
      - id: t-jatko-yksi
        type: single
        stem: Mikä pitää paikkansa?
        options:
          - text: Tämä väite
            correct: true
            feedback: Juuri tämä.
          - text: Tuo väite
            feedback: Ei tuo.
      - id: t-jatko-tosi
        type: truefalse
        stem: Väite pitää paikkansa.
        answer: true
        feedback_false: Väite pitää sittenkin paikkansa.
      - id: t-jatko-pari
        type: matching
        stem: Yhdistä.
        pairs:
          - left: Vasen A
            right: Oikea 1
          - left: Vasen B
            right: Oikea 2
`

// fixtureWithQuiz is the fixture course whose section toinen/jatko has a
// self-check that completes it.
func fixtureWithQuiz(t *testing.T) *course.Library {
	t.Helper()
	sec, err := os.ReadFile("../course/testdata/course/modules/02-toinen/01-jatko.md")
	if err != nil {
		t.Fatal(err)
	}
	return fixtureChanged(t, map[string]string{
		"quizzes/02-toinen.yaml":        fixtureQuiz,
		"modules/02-toinen/01-jatko.md": strings.Replace(string(sec), "minutes:", "completion: quiz\nminutes:", 1),
	})
}

// The self-check's post is not CSRF-checked by its route (checking answers
// changes nothing); a cookie-authenticated post without the session's
// token must not mark the self-check done.
func init() {
	stateChanging["POST /osiot/:module/:section/itsetesti"] = func(t *testing.T, _ *running) {
		r := startWith(t, fixtureWithQuiz(t))
		c := newClient(t, r.URL)
		c.register("csrf-itsetesti@example.fi", "Ilman Tunnistetta")
		resp, _ := c.post("/osiot/toinen/jatko/itsetesti", url.Values{"q-t-jatko-yksi": {"a"}, "q-t-jatko-tosi": {"true"}, "m-t-jatko-pari-0": {"0"}, "m-t-jatko-pari-1": {"1"}, "csrf": {"vaara"}})
		if _, prog := c.get("/api/v1/progress"); resp.StatusCode != 303 || strings.Contains(prog, "self_check_done") {
			t.Errorf("a post without the session's token = %d and recorded: %s", resp.StatusCode, prog)
		}
	}
}

func TestSelfCheck(t *testing.T) {
	r := startWith(t, fixtureWithQuiz(t))
	anon := newClient(t, r.URL)
	_, page := anon.get("/osiot/toinen/jatko")
	for _, want := range []string{`id="itsetesti"`, `action="/osiot/toinen/jatko/itsetesti"`, `name="q-t-jatko-yksi" value="a"`, `name="q-t-jatko-tosi" value="true"`, `name="m-t-jatko-pari-0"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("section page lacks %q", want)
		}
	}
	if strings.Contains(page, `name="csrf"`) {
		t.Fatal("the anonymous (cached) page carries a token")
	}

	// Anyone may check: wrong answers get their feedback, nothing is kept.
	wrong := url.Values{"q-t-jatko-yksi": {"b"}, "q-t-jatko-tosi": {"false"}, "m-t-jatko-pari-0": {"1"}, "m-t-jatko-pari-1": {"0"}}
	resp, _ := anon.post("/osiot/toinen/jatko/itsetesti", wrong)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/osiot/toinen/jatko/itsetesti?") {
		t.Fatalf("check = %d %q", resp.StatusCode, loc)
	}
	resp, body := anon.get(loc)
	for _, want := range []string{"Vastasit oikein 0 kysymykseen 3:stä.", "Ei tuo.", "Väite pitää sittenkin paikkansa.", "Ei aivan oikein", `value="b" checked`} {
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Fatalf("result page (%d) lacks %q:\n%s", resp.StatusCode, want, body)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("result page Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	right := url.Values{"q-t-jatko-yksi": {"a"}, "q-t-jatko-tosi": {"true"}, "m-t-jatko-pari-0": {"0"}, "m-t-jatko-pari-1": {"1"}}
	resp, _ = anon.post("/osiot/toinen/jatko/itsetesti", right)
	_, body = anon.get(resp.Header.Get("Location"))
	if !strings.Contains(body, "Vastasit kaikkiin kysymyksiin oikein.") || strings.Contains(body, "merkitty tehdyksi") {
		t.Fatalf("anonymous right answers:\n%s", body)
	}
	// Without answers the address leads to the form; unknown sections and
	// sections without a self-check are not found.
	if resp, _ := anon.get("/osiot/toinen/jatko/itsetesti"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/osiot/toinen/jatko#itsetesti" {
		t.Errorf("empty result = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/osiot/ensimmainen/alku/itsetesti", "/osiot/toinen/ei-ole/itsetesti"} {
		if resp, _ := anon.post(p, right); resp.StatusCode != 404 {
			t.Errorf("POST %s = %d", p, resp.StatusCode)
		}
	}

	// A signed-in learner: without the session's token nothing is kept;
	// with it, the whole self-check right completes the section.
	c := newClient(t, r.URL)
	c.register("itsetesti@example.fi", "Itse Testaaja")
	c.post("/osiot/toinen/jatko/itsetesti", right)
	if _, prog := c.get("/api/v1/progress"); strings.Contains(prog, "self_check_done") {
		t.Fatalf("recorded without a token: %s", prog)
	}
	token := c.csrf("/osiot/toinen/jatko")
	wrong.Set("csrf", token)
	c.post("/osiot/toinen/jatko/itsetesti", wrong)
	if _, prog := c.get("/api/v1/progress"); strings.Contains(prog, "self_check_done") {
		t.Fatalf("recorded wrong answers: %s", prog)
	}
	right.Set("csrf", token)
	resp, _ = c.post("/osiot/toinen/jatko/itsetesti", right)
	_, body = c.get(resp.Header.Get("Location"))
	if !strings.Contains(body, "Itsetesti on merkitty tehdyksi.") {
		t.Fatalf("signed-in result:\n%s", body)
	}
	if _, prog := c.get("/api/v1/progress"); !strings.Contains(prog, "self_check_done") || !strings.Contains(prog, `"completed_at"`) {
		t.Fatalf("progress after the self-check: %s", prog)
	}
	if _, page := c.get("/osiot/toinen/jatko"); !strings.Contains(page, "Olet suorittanut tämän sivun.") {
		t.Error("the section is not shown done")
	}
	// The dashboard marks the self-check done and counts the module's.
	if _, dash := c.get("/omat-opinnot"); !strings.Contains(dash, "itsetesti tehty") || !strings.Contains(dash, "Itsetestejä tehty 1/1") {
		t.Errorf("the dashboard does not show the self-check done:\n%s", dash)
	}
}
