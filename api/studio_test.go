package api_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tyokyky/tyokyky/account"
)

const studioSection = "modules/01-tyokyvyn-tuki/02-palvelupolku.md"

type previewJSON struct {
	HTML     string `json:"html"`
	Kind     string `json:"kind"`
	Problems []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	} `json:"problems"`
}

func TestStudioEditPublishConflictAndRestore(t *testing.T) {
	r, lib := startPublished(t)
	a, token := author(t, r)
	resp, index := a.get("/studio")
	if resp.StatusCode != 200 || !strings.Contains(index, `/studio/sisalto/`+studioSection) || !strings.Contains(index, "course.yaml") {
		t.Fatalf("studio index = %d", resp.StatusCode)
	}
	resp, editor := a.get("/studio/sisalto/" + studioSection)
	if resp.StatusCode != 200 || !strings.Contains(editor, `name="base_rev" value="1"`) || !strings.Contains(editor, `id="studio-rendered"`) {
		t.Fatalf("editor = %d", resp.StatusCode)
	}
	var file struct {
		Text string `json:"text"`
		Rev  int    `json:"rev"`
	}
	_, body := a.get("/api/v1/studio/files/" + studioSection)
	json.Unmarshal([]byte(body), &file)
	if file.Rev != 1 || !strings.Contains(file.Text, "---") {
		t.Fatalf("file = %+v", file)
	}
	original := file.Text

	// The preview is the learners' HTML, updated from the text.
	edited := original + "\nStudiossa lisätty kappale **lihavoinnilla**.\n"
	resp, body = a.do("POST", "/api/v1/studio/preview", strings.NewReader(mustJSON(map[string]any{"path": studioSection, "text": edited})),
		"Content-Type", "application/json", "X-CSRF-Token", token)
	p := decode[previewJSON](t, body)
	if resp.StatusCode != 200 || p.Kind != "section" || !strings.Contains(p.HTML, "Studiossa lisätty kappale <strong>lihavoinnilla</strong>") || len(p.Problems) != 0 {
		t.Fatalf("preview = %d %+v", resp.StatusCode, p.Problems)
	}
	// Problems come with their line numbers.
	_, body = a.do("POST", "/api/v1/studio/preview", strings.NewReader(mustJSON(map[string]any{"path": studioSection, "text": original + "\n::kuva[Ilman]{src=\"ei.svg\"}\n"})),
		"Content-Type", "application/json", "X-CSRF-Token", token)
	p = decode[previewJSON](t, body)
	if len(p.Problems) == 0 || p.Problems[0].File != studioSection || p.Problems[0].Line < 2 {
		t.Fatalf("problems = %+v", p.Problems)
	}
	// The draft autosaves and learners do not see it.
	if resp, _ := a.putJSON("/api/v1/studio/drafts/"+studioSection, token, map[string]any{"text": edited, "base_rev": 1}); resp.StatusCode != 200 {
		t.Fatalf("draft = %d", resp.StatusCode)
	}
	learner := newClient(t, r.URL)
	if _, page := learner.get("/osiot/tyokyvyn-tuki/palvelupolku"); strings.Contains(page, "Studiossa lisätty") {
		t.Fatal("learners see a draft")
	}
	if _, editor := a.get("/studio/sisalto/" + studioSection); !strings.Contains(editor, "Studiossa lisätty") {
		t.Fatal("the editor does not reopen the draft")
	}
	// Preview as a learner: the learners' page with the draft in it.
	resp, view := a.get("/studio/esikatselu/" + studioSection)
	if resp.StatusCode != 200 || !strings.Contains(view, "Studiossa lisätty kappale <strong>lihavoinnilla</strong>") || !strings.Contains(view, `class="breadcrumbs"`) {
		t.Fatalf("learner view = %d", resp.StatusCode)
	}
	if resp, _ := a.get("/studio/esikatselu/course.yaml"); resp.StatusCode != 404 {
		t.Fatalf("learner view of a data file = %d", resp.StatusCode)
	}

	// A second author began from revision 1 too.
	b, tokenB := author(t, r)
	mine := original + "\nToisen kirjoittajan kappale.\n"

	// The first publishes (form): learners see it at once.
	resp, _ = a.post("/studio/sisalto/"+studioSection, url.Values{"csrf": {token}, "base_rev": {"1"}, "text": {edited}, "action": {"publish"}})
	if resp.StatusCode != 303 {
		t.Fatalf("publish = %d", resp.StatusCode)
	}
	if _, page := learner.get("/osiot/tyokyvyn-tuki/palvelupolku"); !strings.Contains(page, "Studiossa lisätty kappale") {
		t.Fatal("learners do not see the published text")
	}
	if lib.Current().Version < 2 {
		t.Fatal("the library did not move on")
	}
	// The second is stale: 409 with both texts, and nothing is lost.
	resp, body = b.do("POST", "/api/v1/studio/publish/"+studioSection, strings.NewReader(mustJSON(map[string]any{"text": mine, "base_rev": 1})),
		"Content-Type", "application/json", "X-CSRF-Token", tokenB)
	var conflict struct {
		Current string `json:"current"`
		Yours   string `json:"yours"`
		Rev     int    `json:"rev"`
	}
	json.Unmarshal([]byte(body), &conflict)
	if resp.StatusCode != 409 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") || conflict.Rev != 2 ||
		!strings.Contains(conflict.Current, "Studiossa lisätty") || conflict.Yours != mine {
		t.Fatalf("stale publish = %d %s", resp.StatusCode, body)
	}
	// The form shows the merge view with both texts.
	resp, page := b.post("/studio/sisalto/"+studioSection, url.Values{"csrf": {tokenB}, "base_rev": {"1"}, "text": {mine}, "action": {"publish"}})
	if resp.StatusCode != 409 || !strings.Contains(page, "Toisen kirjoittajan kappale.") || !strings.Contains(page, "Studiossa lisätty kappale") || !strings.Contains(page, `name="base_rev" value="2"`) {
		t.Fatalf("merge view = %d", resp.StatusCode)
	}
	// Merged on top of revision 2.
	merged := edited + "\nToisen kirjoittajan kappale.\n"
	resp, body = b.do("POST", "/api/v1/studio/publish/"+studioSection, strings.NewReader(mustJSON(map[string]any{"text": merged, "base_rev": 2})),
		"Content-Type", "application/json", "X-CSRF-Token", tokenB)
	if resp.StatusCode != 200 || !strings.Contains(body, `"rev":3`) {
		t.Fatalf("merged publish = %d %s", resp.StatusCode, body)
	}
	// A text with problems is refused with them; nothing changes.
	resp, body = b.do("POST", "/api/v1/studio/publish/"+studioSection, strings.NewReader(mustJSON(map[string]any{"text": merged + "\n:::tehtava\n", "base_rev": 3})),
		"Content-Type", "application/json", "X-CSRF-Token", tokenB)
	if resp.StatusCode != 422 || !strings.Contains(body, `"problems"`) {
		t.Fatalf("broken publish = %d %s", resp.StatusCode, body)
	}

	// History: a diff between revisions, and restoring the first.
	resp, hist := a.get("/studio/historia/" + studioSection + "?a=1&b=3")
	if resp.StatusCode != 200 || !strings.Contains(hist, "Toisen kirjoittajan kappale.") || !strings.Contains(hist, `class="diff-add"`) {
		t.Fatalf("history = %d", resp.StatusCode)
	}
	resp, _ = a.post("/studio/palauta/"+studioSection, url.Values{"csrf": {token}, "rev": {"1"}})
	if resp.StatusCode != 303 {
		t.Fatalf("restore = %d", resp.StatusCode)
	}
	if _, page := learner.get("/osiot/tyokyvyn-tuki/palvelupolku"); strings.Contains(page, "Studiossa lisätty") || strings.Contains(page, "Toisen kirjoittajan") {
		t.Fatal("the restored text is not what learners see")
	}
	_, body = a.get("/api/v1/studio/files/" + studioSection)
	json.Unmarshal([]byte(body), &file)
	if file.Rev != 4 || file.Text != original {
		t.Fatalf("after restore: rev %d", file.Rev)
	}
	// Every change is in the audit log.
	admin := newClient(t, r.URL)
	email := account.NewID()[:10] + "@example.fi"
	admin.register(email, "Ylli")
	signInAdmin(t, admin, r.Accounts(), email)
	if _, log := admin.get("/yllapito/loki"); !strings.Contains(log, "content.publish") || !strings.Contains(log, "content.restore") {
		t.Error("the audit log lacks the studio's changes")
	}
	// Paths outside the content tree do not exist.
	for _, p := range []string{"/studio/sisalto/..%2F..%2Fetc%2Fpasswd", "/studio/sisalto/modules/kuva.svg", "/studio/sisalto/ei/ole.md"} {
		if resp, _ := a.get(p); resp.StatusCode != 404 {
			t.Errorf("%s = %d", p, resp.StatusCode)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The studio is for authors and administrators with two-factor: learners
// (and anonymous visitors) find nothing there.
func TestStudioRefusesLearnersAndVisitors(t *testing.T) {
	r, _ := startPublished(t)
	studioNobody(t, r)
}

func studioNobody(t *testing.T, r *running) {
	l := newClient(t, r.URL)
	l.register(account.NewID()[:10]+"@example.fi", "Lauri Oppija")
	token := l.csrf("/tili")
	anon := newClient(t, r.URL)
	for _, c := range []struct{ m, p string }{
		{"GET", "/studio"}, {"GET", "/studio/sisalto/course.yaml"}, {"POST", "/studio/sisalto/course.yaml"}, {"GET", "/studio/historia/course.yaml"},
		{"POST", "/studio/palauta/course.yaml"}, {"POST", "/api/v1/studio/preview"}, {"GET", "/api/v1/studio/files/course.yaml"},
		{"PUT", "/api/v1/studio/drafts/course.yaml"}, {"POST", "/api/v1/studio/publish/course.yaml"},
	} {
		if resp, _ := l.do(c.m, c.p, strings.NewReader(`{"text":"x","base_rev":1}`), "Content-Type", "application/json", "X-CSRF-Token", token); resp.StatusCode != 404 {
			t.Errorf("a learner: %s %s = %d", c.m, c.p, resp.StatusCode)
		}
		if resp, _ := anon.do(c.m, c.p, strings.NewReader(`{"text":"x","base_rev":1}`), "Content-Type", "application/json"); resp.StatusCode < 300 {
			t.Errorf("anonymous: %s %s = %d", c.m, c.p, resp.StatusCode)
		}
	}
}

func init() {
	csrfRefused := func(method, path, body, ctype string) func(*testing.T, *running) {
		return func(t *testing.T, r *running) {
			a, _ := author(t, r)
			if resp, _ := a.do(method, path, strings.NewReader(body), "Content-Type", ctype); resp.StatusCode != 403 {
				t.Errorf("an author on %s %s without a CSRF token = %d, want 403", method, path, resp.StatusCode)
			}
			studioNobody(t, r)
		}
	}
	form := "application/x-www-form-urlencoded"
	stateChanging["POST /studio/sisalto/*"] = csrfRefused("POST", "/studio/sisalto/course.yaml", "text=x&base_rev=1&action=draft", form)
	stateChanging["POST /studio/kuvat"] = csrfRefused("POST", "/studio/kuvat", "page=course.yaml", form)
	stateChanging["POST /api/v1/studio/figures"] = csrfRefused("POST", "/api/v1/studio/figures", "page=course.yaml", form)
	stateChanging["POST /studio/rakenne"] = csrfRefused("POST", "/studio/rakenne", "op=up&module=tyokyvyn-tuki&section=palvelupolku", form)
	stateChanging["POST /studio/palauta/*"] = csrfRefused("POST", "/studio/palauta/course.yaml", "rev=1", form)
	stateChanging["POST /api/v1/studio/preview"] = csrfRefused("POST", "/api/v1/studio/preview", `{"path":"course.yaml","text":"x"}`, "application/json")
	stateChanging["PUT /api/v1/studio/drafts/*"] = csrfRefused("PUT", "/api/v1/studio/drafts/course.yaml", `{"text":"x","base_rev":1}`, "application/json")
	stateChanging["POST /api/v1/studio/publish/*"] = csrfRefused("POST", "/api/v1/studio/publish/course.yaml", `{"text":"x","base_rev":1}`, "application/json")
}

func TestStudioStructure(t *testing.T) {
	r, _ := startPublished(t)
	a, token := author(t, r)
	if resp, page := a.get("/studio/rakenne"); resp.StatusCode != 200 || !strings.Contains(page, "/osiot/tyokyvyn-tuki/palvelupolku") {
		t.Fatalf("structure page = %d", resp.StatusCode)
	}
	change := func(v url.Values) (int, string) {
		t.Helper()
		v.Set("csrf", token)
		resp, body := a.post("/studio/rakenne", v)
		return resp.StatusCode, body
	}
	// Add a section: it is on the module page at once.
	if code, body := change(url.Values{"op": {"add"}, "module": {"tyokyvyn-tuki"}, "slug": {"studion-osio"}, "title": {"Studiossa lisätty osio"}, "minutes": {"20"}}); code != 303 {
		t.Fatalf("add = %d %s", code, body)
	}
	anon := newClient(t, r.URL)
	if _, page := anon.get("/osiot/tyokyvyn-tuki"); !strings.Contains(page, "Studiossa lisätty osio") {
		t.Fatal("the new section is not on the module page")
	}
	if code, body := change(url.Values{"op": {"add"}, "module": {"tyokyvyn-tuki"}, "slug": {"Iso Kirjain"}, "title": {"x"}, "minutes": {"5"}}); code != 422 || !strings.Contains(body, "pieniä kirjaimia") {
		t.Fatalf("a bad address = %d", code)
	}
	// A learner opens it; the record follows the rename.
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Laura Lukija")
	lt := learner.csrf("/tili")
	if resp, _ := learner.putJSON("/api/v1/progress/tyokyvyn-tuki/studion-osio", lt, map[string]any{"event": "opened"}); resp.StatusCode != 200 {
		t.Fatalf("progress = %d", resp.StatusCode)
	}
	// Rename: the old address answers 301 to the new one.
	if code, body := change(url.Values{"op": {"rename"}, "module": {"tyokyvyn-tuki"}, "section": {"studion-osio"}, "slug": {"uusi-nimi"}}); code != 303 {
		t.Fatalf("rename = %d %s", code, body)
	}
	resp, _ := anon.get("/osiot/tyokyvyn-tuki/studion-osio")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/osiot/tyokyvyn-tuki/uusi-nimi" {
		t.Fatalf("the old address = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := anon.get("/osiot/tyokyvyn-tuki/uusi-nimi"); resp.StatusCode != 200 {
		t.Fatalf("the new address = %d", resp.StatusCode)
	}
	if _, body := learner.get("/api/v1/progress"); !strings.Contains(body, `"uusi-nimi"`) || strings.Contains(body, `"studion-osio"`) {
		t.Fatalf("the learner's progress did not follow the rename: %s", body)
	}
	// Move it up one place.
	if code, body := change(url.Values{"op": {"up"}, "module": {"tyokyvyn-tuki"}, "section": {"uusi-nimi"}}); code != 303 {
		t.Fatalf("move = %d %s", code, body)
	}
	// Modules move by their order: the second module comes first.
	if code, body := change(url.Values{"op": {"module-up"}, "module": {"monialainen-tyo"}}); code != 303 {
		t.Fatalf("module up = %d %s", code, body)
	}
	_, list := anon.get("/osiot")
	if i, j := strings.Index(list, "/osiot/monialainen-tyo"), strings.Index(list, "/osiot/tyokyvyn-tuki"); i < 0 || j < 0 || i > j {
		t.Fatal("the module list is not in the new order")
	}
	// Archive, with a learner's progress in it: the confirmation says so.
	code, body := change(url.Values{"op": {"archive"}, "module": {"tyokyvyn-tuki"}, "section": {"uusi-nimi"}})
	if code != 200 || !strings.Contains(body, "Tähän osioon liittyy 1 oppijan edistymistietoja") {
		t.Fatalf("archive without confirming = %d", code)
	}
	if resp, _ := anon.get("/osiot/tyokyvyn-tuki/uusi-nimi"); resp.StatusCode != 200 {
		t.Fatal("asking for confirmation archived the section")
	}
	if code, body := change(url.Values{"op": {"archive"}, "module": {"tyokyvyn-tuki"}, "section": {"uusi-nimi"}, "confirm": {"1"}}); code != 303 {
		t.Fatalf("archive = %d %s", code, body)
	}
	resp, _ = anon.get("/osiot/tyokyvyn-tuki/uusi-nimi")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/osiot/tyokyvyn-tuki" {
		t.Fatalf("the archived section's address = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The learner's progress record is kept.
	if _, body := learner.get("/api/v1/progress"); !strings.Contains(body, "uusi-nimi") {
		t.Error("archiving lost the learner's progress")
	}
}

func TestStudioModules(t *testing.T) {
	r, _ := startPublished(t)
	a, token := author(t, r)
	change := func(v url.Values) (int, string) {
		t.Helper()
		v.Set("csrf", token)
		resp, body := a.post("/studio/rakenne", v)
		return resp.StatusCode, body
	}
	publish := func(p string, edit func(string) string) {
		t.Helper()
		var file struct {
			Text string `json:"text"`
			Rev  int    `json:"rev"`
		}
		_, body := a.get("/api/v1/studio/files/" + p)
		if err := json.Unmarshal([]byte(body), &file); err != nil {
			t.Fatalf("%s: %s", p, body)
		}
		resp, body := a.do("POST", "/api/v1/studio/publish/"+p, strings.NewReader(mustJSON(map[string]any{"text": edit(file.Text), "base_rev": file.Rev})),
			"Content-Type", "application/json", "X-CSRF-Token", token)
		if resp.StatusCode != 200 {
			t.Fatalf("publish %s = %d %s", p, resp.StatusCode, body)
		}
	}
	anon := newClient(t, r.URL)

	// Added: hidden, with its folder and exam file; learners see nothing.
	if code, body := change(url.Values{"op": {"module-add"}, "slug": {"uusi-moduuli"}, "title": {"Uusi moduuli"}, "summary": {"Moduulissa harjoitellaan."}}); code != 303 {
		t.Fatalf("module-add = %d %s", code, body)
	}
	if code, body := change(url.Values{"op": {"module-add"}, "slug": {"tyokyvyn-tuki"}, "title": {"Toinen"}, "summary": {"x"}}); code != 422 || !strings.Contains(body, "on jo moduuli") {
		t.Fatalf("a taken address = %d %s", code, body)
	}
	if _, page := a.get("/studio/rakenne"); !strings.Contains(page, "Uusi moduuli <span class=\"badge\">Piilotettu</span>") {
		t.Fatal("the structure page does not show the hidden module")
	}
	if _, page := a.get("/studio"); !strings.Contains(page, "/studio/sisalto/modules/05-uusi-moduuli/module.md") || !strings.Contains(page, "/studio/sisalto/exam/05-uusi-moduuli.yaml") {
		t.Fatal("the content tree does not list the new module's files")
	}
	if _, list := anon.get("/osiot"); strings.Contains(list, "uusi-moduuli") {
		t.Fatal("learners see a hidden module")
	}
	if resp, _ := anon.get("/osiot/uusi-moduuli"); resp.StatusCode != 404 {
		t.Fatalf("a hidden module's page = %d", resp.StatusCode)
	}
	if code, body := change(url.Values{"op": {"add"}, "module": {"uusi-moduuli"}, "slug": {"aloitus"}, "title": {"Aloitus"}, "minutes": {"30"}}); code != 303 {
		t.Fatalf("a section in the hidden module = %d %s", code, body)
	}
	// Its pages preview as a learner will get them.
	if resp, view := a.get("/studio/esikatselu/modules/05-uusi-moduuli/01-aloitus.md"); resp.StatusCode != 200 || !strings.Contains(view, "Kirjoita osion teksti tähän.") {
		t.Fatalf("learner view of a hidden page = %d", resp.StatusCode)
	}
	// Showing an unfinished module is refused with the reasons.
	code, body := change(url.Values{"op": {"module-show"}, "module": {"uusi-moduuli"}})
	if code != 422 || !strings.Contains(body, "no learning objectives") || !strings.Contains(body, "exam items") {
		t.Fatalf("showing an unfinished module = %d", code)
	}
	// Written in the studio: objectives and exam items.
	publish("modules/05-uusi-moduuli/module.md", func(text string) string {
		return strings.Replace(text, "objectives: []", "objectives:\n  - Osaat harjoitella.", 1)
	})
	_, bank := a.get("/api/v1/studio/files/exam/01-tyokyvyn-tuki.yaml")
	var items struct {
		Text string `json:"text"`
	}
	json.Unmarshal([]byte(bank), &items)
	publish("exam/05-uusi-moduuli.yaml", func(string) string {
		text := strings.Replace(strings.ReplaceAll(items.Text, "id: m1-", "id: m5-"), "module: 01-tyokyvyn-tuki", "module: 05-uusi-moduuli", 1)
		// The new module has one objective: every item tests it.
		return regexp.MustCompile(`(?m)^(\s*)objective: \d+$`).ReplaceAllString(text, "${1}objective: 1")
	})
	if code, body := change(url.Values{"op": {"module-show"}, "module": {"uusi-moduuli"}}); code != 303 {
		t.Fatalf("module-show = %d %s", code, body)
	}
	if resp, page := anon.get("/osiot/uusi-moduuli/aloitus"); resp.StatusCode != 200 || !strings.Contains(page, "Aloitus") {
		t.Fatalf("the shown module's section = %d", resp.StatusCode)
	}
	// A learner studies it; renaming the module takes the progress along.
	learner := newClient(t, r.URL)
	learner.register(account.NewID()[:10]+"@example.fi", "Laura Lukija")
	lt := learner.csrf("/tili")
	if resp, _ := learner.putJSON("/api/v1/progress/uusi-moduuli/aloitus", lt, map[string]any{"event": "opened"}); resp.StatusCode != 200 {
		t.Fatalf("progress = %d", resp.StatusCode)
	}
	if code, body := change(url.Values{"op": {"module-rename"}, "module": {"uusi-moduuli"}, "slug": {"harjoitusmoduuli"}}); code != 303 {
		t.Fatalf("module-rename = %d %s", code, body)
	}
	for from, to := range map[string]string{"/osiot/uusi-moduuli": "/osiot/harjoitusmoduuli", "/osiot/uusi-moduuli/aloitus": "/osiot/harjoitusmoduuli/aloitus"} {
		if resp, _ := anon.get(from); resp.StatusCode != 301 || resp.Header.Get("Location") != to {
			t.Fatalf("%s = %d %s", from, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, body := learner.get("/api/v1/progress"); !strings.Contains(body, `"harjoitusmoduuli"`) || strings.Contains(body, `"uusi-moduuli"`) {
		t.Fatalf("the learner's progress did not follow the module: %s", body)
	}
	if _, page := a.get("/studio"); !strings.Contains(page, "/studio/sisalto/exam/05-harjoitusmoduuli.yaml") {
		t.Fatal("the exam file did not follow the module")
	}
	// Hiding asks first, with the number of learners.
	if code, body := change(url.Values{"op": {"module-hide"}, "module": {"harjoitusmoduuli"}}); code != 200 || !strings.Contains(body, "Moduuliin liittyy 1 oppijan edistymistietoja") {
		t.Fatalf("hide without confirming = %d", code)
	}
	if code, body := change(url.Values{"op": {"module-hide"}, "module": {"harjoitusmoduuli"}, "confirm": {"1"}}); code != 303 {
		t.Fatalf("module-hide = %d %s", code, body)
	}
	if resp, _ := anon.get("/osiot/harjoitusmoduuli"); resp.StatusCode != 404 {
		t.Fatalf("a hidden module's page = %d", resp.StatusCode)
	}
	// Its old address does not send learners on to the hidden page.
	if resp, _ := anon.get("/osiot/uusi-moduuli"); resp.StatusCode != 404 {
		t.Fatalf("a redirect into a hidden module = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Archived, after the confirmation: its addresses lead to the list.
	if code, body := change(url.Values{"op": {"module-archive"}, "module": {"harjoitusmoduuli"}}); code != 200 || !strings.Contains(body, "Arkistoidaanko moduuli Uusi moduuli?") {
		t.Fatalf("archive without confirming = %d", code)
	}
	if code, body := change(url.Values{"op": {"module-archive"}, "module": {"harjoitusmoduuli"}, "confirm": {"1"}}); code != 303 {
		t.Fatalf("module-archive = %d %s", code, body)
	}
	for _, from := range []string{"/osiot/harjoitusmoduuli", "/osiot/harjoitusmoduuli/aloitus", "/osiot/uusi-moduuli/aloitus"} {
		if resp, _ := anon.get(from); resp.StatusCode != 301 || resp.Header.Get("Location") != "/osiot" {
			t.Fatalf("%s = %d %s", from, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, page := a.get("/studio/rakenne"); strings.Contains(page, "harjoitusmoduuli") {
		t.Fatal("the archived module is still in the structure")
	}
	if _, body := learner.get("/api/v1/progress"); !strings.Contains(body, `"harjoitusmoduuli@`) {
		t.Errorf("archiving did not keep the learner's progress aside: %s", body)
	}
	// A new module at the address: hidden, the old address still leads to the list.
	if code, body := change(url.Values{"op": {"module-add"}, "slug": {"harjoitusmoduuli"}, "title": {"Uusi yritys"}, "summary": {"Toinen kerta."}}); code != 303 {
		t.Fatalf("module-add at an archived address = %d %s", code, body)
	}
	if resp, _ := anon.get("/osiot/harjoitusmoduuli"); resp.StatusCode != 301 || resp.Header.Get("Location") != "/osiot" {
		t.Fatalf("the archived address with a hidden module there = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Unknown modules and ops are refused.
	if code, _ := change(url.Values{"op": {"module-rename"}, "module": {"ei-ole"}, "slug": {"x"}}); code != 404 {
		t.Fatalf("an unknown module = %d", code)
	}
	if code, _ := change(url.Values{"op": {"module-delete"}, "module": {"tyokyvyn-tuki"}}); code != 400 {
		t.Fatalf("an unknown op = %d", code)
	}
}

func TestStudioFigureUpload(t *testing.T) {
	r, _ := startPublished(t)
	a, token := author(t, r)
	var pngBuf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	png.Encode(&pngBuf, img)
	upload := func(path string, fields map[string]string, name string, data []byte) (*http.Response, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for k, v := range fields {
			w.WriteField(k, v)
		}
		if data != nil {
			fw, _ := w.CreateFormFile("file", name)
			fw.Write(data)
		}
		w.Close()
		return a.do("POST", path, &b, "Content-Type", w.FormDataContentType(), "X-CSRF-Token", token, "Accept", "application/json")
	}
	fields := map[string]string{"page": studioSection, "alt": "Neljä vaihetta nuolin yhdistettyinä", "caption": "Kuva 9. Polun vaiheet."}
	resp, body := upload("/api/v1/studio/figures", fields, "Polun Vaiheet.png", pngBuf.Bytes())
	var out struct{ Block string }
	json.Unmarshal([]byte(body), &out)
	if resp.StatusCode != 201 || out.Block != "::kuva[Kuva 9. Polun vaiheet.]{src=\"kuvat/polun-vaiheet.png\" alt=\"Neljä vaihetta nuolin yhdistettyinä\"}\n" {
		t.Fatalf("figure = %d %s", resp.StatusCode, body)
	}
	// The block works in the page: the preview shows the image with its
	// alternative text and has nothing to fix.
	_, file := a.get("/api/v1/studio/files/" + studioSection)
	var f struct{ Text string }
	json.Unmarshal([]byte(file), &f)
	_, body = a.do("POST", "/api/v1/studio/preview", strings.NewReader(mustJSON(map[string]any{"path": studioSection, "text": f.Text + "\n" + out.Block})),
		"Content-Type", "application/json", "X-CSRF-Token", token)
	p := decode[previewJSON](t, body)
	if len(p.Problems) != 0 || !strings.Contains(p.HTML, `alt="Neljä vaihetta nuolin yhdistettyinä"`) {
		t.Fatalf("preview with the figure: %+v", p.Problems)
	}
	// The same name again gets a free one.
	_, body = upload("/api/v1/studio/figures", fields, "Polun Vaiheet.png", pngBuf.Bytes())
	if !strings.Contains(body, "kuvat/polun-vaiheet-2.png") {
		t.Fatalf("second figure = %s", body)
	}
	// Refusals: no alternative text, not an image, a scripted SVG.
	noAlt := map[string]string{"page": studioSection, "alt": " ", "caption": "x"}
	if resp, _ := upload("/api/v1/studio/figures", noAlt, "a.png", pngBuf.Bytes()); resp.StatusCode != 422 {
		t.Fatalf("no alt = %d", resp.StatusCode)
	}
	if resp, _ := upload("/api/v1/studio/figures", fields, "a.png", []byte("not an image at all")); resp.StatusCode != 415 {
		t.Fatalf("not an image = %d", resp.StatusCode)
	}
	evil := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><title>t</title><desc>d</desc><script>alert(1)</script></svg>`)
	if resp, body := upload("/api/v1/studio/figures", fields, "a.svg", evil); resp.StatusCode != 422 || !strings.Contains(body, "script") {
		t.Fatalf("scripted SVG = %d %s", resp.StatusCode, body)
	}
	if resp, _ := upload("/api/v1/studio/figures", map[string]string{"page": "course.yaml", "alt": "x", "caption": "x"}, "a.png", pngBuf.Bytes()); resp.StatusCode != 422 {
		t.Fatalf("a figure for course.yaml = %d", resp.StatusCode)
	}
	// Without the script: the block is added to the end of the draft.
	fields["csrf"] = token
	resp, _ = upload("/studio/kuvat", fields, "toinen.png", pngBuf.Bytes())
	if resp.StatusCode != 303 {
		t.Fatalf("figure form = %d", resp.StatusCode)
	}
	_, file = a.get("/api/v1/studio/files/" + studioSection)
	if !strings.Contains(file, `kuvat/toinen.png`) {
		t.Fatal("the draft lacks the figure block")
	}
}
