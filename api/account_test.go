package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/internal/database"
)

// browserClient is a cookie-keeping client that does not follow redirects,
// like a browser seen from the server.
type browserClient struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, base string) *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserClient) do(method, path string, body io.Reader, header ...string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func (b *browserClient) get(path string) (*http.Response, string) { return b.do("GET", path, nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the form token from a page.
func (b *browserClient) csrf(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF field on %s", path)
	}
	return m[1]
}

// post submits a form; the CSRF token is taken from page first unless
// the values carry one.
func (b *browserClient) post(path string, values url.Values) (*http.Response, string) {
	return b.do("POST", path, strings.NewReader(values.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

func (b *browserClient) putJSON(path, token string, v any) (*http.Response, string) {
	data, _ := json.Marshal(v)
	return b.do("PUT", path, strings.NewReader(string(data)), "Content-Type", "application/json", "X-CSRF-Token", token)
}

func (b *browserClient) register(email, name string) {
	b.t.Helper()
	b.registerIn(email, name, account.Organisations[3])
}

// registerIn creates an account of an organisation through the form.
func (b *browserClient) registerIn(email, name, organisation string) {
	b.t.Helper()
	resp, body := b.post("/rekisteroidy", url.Values{"csrf": {b.csrf("/rekisteroidy")}, "email": {email}, "name": {name},
		"password": {"oma pitkä salalause 2026"}, "organisation": {organisation}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Tarkista sähköpostisi") {
		b.t.Fatalf("register %s = %d\n%s", email, resp.StatusCode, body)
	}
	// Registration signs nobody in (it answers a taken address alike);
	// the new account signs in with its password.
	if resp := b.login(email, "oma pitkä salalause 2026"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/omat-opinnot" {
		b.t.Fatalf("sign-in after registering %s = %d", email, resp.StatusCode)
	}
}

func (b *browserClient) login(email, password string) *http.Response {
	b.t.Helper()
	resp, _ := b.post("/kirjaudu", url.Values{"csrf": {b.csrf("/kirjaudu")}, "email": {email}, "password": {password}, "jatka": {"/omat-opinnot"}})
	return resp
}

func TestRegisterStudyAndSignOut(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("anu@example.fi", "Anu Lehto")

	resp, body := b.get("/omat-opinnot")
	if resp.StatusCode != 200 || !strings.Contains(body, "Omat opinnot") || !strings.Contains(body, `action="/kirjaudu-ulos"`) {
		t.Fatalf("dashboard = %d", resp.StatusCode)
	}
	// Signed-in pages are never cached and show the learner's own state.
	resp, body = b.get("/osiot/toinen/jatko")
	if resp.Header.Get("Cache-Control") != "private, no-store" || !strings.Contains(body, `data-progress="/api/v1/progress/toinen/jatko"`) {
		t.Fatalf("signed-in section page: %s", resp.Header.Get("Cache-Control"))
	}
	if strings.Contains(body, "@@tk-") || !strings.Contains(body, "Anu Lehto") || !strings.Contains(body, `data-done="0"`) {
		t.Fatal("the signed-in page was not filled in")
	}
	token := csrfField.FindStringSubmatch(body)[1]
	// Reading through the API: opened, time, completed.
	for _, ev := range []map[string]any{{"event": "opened"}, {"event": "heartbeat", "seconds": 25, "scroll": 0.5}, {"event": "completed"}} {
		if resp, body := b.putJSON("/api/v1/progress/toinen/jatko", token, ev); resp.StatusCode != 200 {
			t.Fatalf("progress %v = %d %s", ev, resp.StatusCode, body)
		}
	}
	if resp, body := b.putJSON("/api/v1/progress/toinen/jatko", token, map[string]any{"event": "dance"}); resp.StatusCode != 400 || !strings.Contains(body, `"code":"progress_bad_event"`) {
		t.Fatalf("unknown event = %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.putJSON("/api/v1/progress/ensimmainen/alku", token, map[string]any{"event": "completed"}); resp.StatusCode != 409 {
		t.Fatalf("completing a video page by reading = %d, want 409", resp.StatusCode)
	}
	_, body = b.get("/omat-opinnot")
	if !strings.Contains(body, "✓ valmis") || !strings.Contains(body, `href="/osiot/toinen/jatko?jatka=1"`) {
		t.Fatalf("dashboard does not show the completed page and where to continue:\n%s", body)
	}
	_, body = b.get("/")
	if !strings.Contains(body, "Jatka siitä mihin jäit") {
		t.Fatal("front page does not offer to continue")
	}
	_, body = b.get("/osiot/toinen")
	if !strings.Contains(body, "✓ valmis") {
		t.Fatal("module page does not mark the completed page")
	}

	// An answer, saved by the form without JavaScript, then through the API.
	task := "ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi"
	resp, _ = b.post("/tehtavat/"+task+"/vastaus", url.Values{"csrf": {token}, "text": {"Ensimmäinen vastaus <script>"}})
	if resp.StatusCode != 303 {
		t.Fatalf("answer form = %d", resp.StatusCode)
	}
	_, body = b.get("/osiot/ensimmainen/tehtava")
	if strings.Contains(body, "@@tk-") || strings.Contains(body, `data-task="`) {
		t.Fatal("placeholders left on the page")
	}
	if !strings.Contains(body, "Ensimmäinen vastaus &lt;script&gt;</textarea>") || !strings.Contains(body, "✓ Olet suorittanut tämän sivun.") {
		t.Fatal("saved answer not shown (escaped) or the task page not completed")
	}
	if resp, body := b.putJSON("/api/v1/tasks/"+task+"/answer", token, map[string]string{"text": "Toinen versio"}); resp.StatusCode != 200 || !strings.Contains(body, "Toinen versio") {
		t.Fatalf("answer API = %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.putJSON("/api/v1/tasks/ei.ole.olemassa/answer", token, map[string]string{"text": "x"}); resp.StatusCode != 404 {
		t.Fatalf("unknown task = %d", resp.StatusCode)
	}
	resp, md := b.get("/omat-opinnot/oppimispaivakirja.md")
	if resp.StatusCode != 200 || !strings.Contains(md, "Toinen versio") || !strings.Contains(md, "# Oppimispäiväkirja") {
		t.Fatalf("diary = %d\n%s", resp.StatusCode, md)
	}
	resp, pdf := b.get("/omat-opinnot/oppimispaivakirja.pdf")
	if resp.StatusCode != 200 || !strings.HasPrefix(pdf, "%PDF-") || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("diary PDF = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Signing out ends the session for good.
	var cookie *http.Cookie
	u, _ := url.Parse(r.URL)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == "session" {
			cookie = c
		}
	}
	resp, _ = b.post("/kirjaudu-ulos", url.Values{"csrf": {token}})
	if resp.StatusCode != 303 {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	other := newClient(t, r.URL)
	resp, _ = other.do("GET", "/api/v1/progress", nil, "Cookie", "session="+cookie.Value)
	if resp.StatusCode != 401 {
		t.Fatalf("a signed-out session still works: %d", resp.StatusCode)
	}
	resp, _ = b.get("/omat-opinnot")
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/kirjaudu") {
		t.Fatalf("dashboard after sign-out = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Signing in again lands on the dashboard, where the learner left off.
	if resp := b.login("anu@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/omat-opinnot" {
		t.Fatalf("login = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSignInErrorsRevealNothing(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("olemassa@example.fi", "Olli Olemassa")
	b.post("/kirjaudu-ulos", url.Values{"csrf": {b.csrf("/tili")}})

	strip := regexp.MustCompile(`name="csrf" value="[^"]+"|[0-9a-f]{24}|value="[^"]*@example.fi"`)
	c1 := newClient(t, r.URL)
	resp1, body1 := c1.post("/kirjaudu", url.Values{"csrf": {c1.csrf("/kirjaudu")}, "email": {"olemassa@example.fi"}, "password": {"väärä salasana"}})
	c2 := newClient(t, r.URL)
	resp2, body2 := c2.post("/kirjaudu", url.Values{"csrf": {c2.csrf("/kirjaudu")}, "email": {"eiole@example.fi"}, "password": {"väärä salasana"}})
	if resp1.StatusCode != 401 || resp2.StatusCode != 401 || strip.ReplaceAllString(body1, "") != strip.ReplaceAllString(body2, "") {
		t.Fatalf("wrong password (%d) and unknown account (%d) answer differently", resp1.StatusCode, resp2.StatusCode)
	}
	if !strings.Contains(body1, "Sähköpostiosoite tai salasana on väärin.") {
		t.Fatal("no clear message")
	}
	// Registration errors are specific about the fields, not about others' accounts.
	c3 := newClient(t, r.URL)
	resp, body := c3.post("/rekisteroidy", url.Values{"csrf": {c3.csrf("/rekisteroidy")}, "email": {"huono"}, "name": {"X"}, "password": {"salasana"}, "organisation": {"?"}})
	for _, want := range []string{`href="#email"`, `href="#name"`, `href="#organisation"`, `href="#password"`, "liian yleinen"} {
		if !strings.Contains(body, want) {
			t.Errorf("registration errors lack %q", want)
		}
	}
	if resp.StatusCode != 422 {
		t.Fatalf("invalid registration = %d", resp.StatusCode)
	}
	resp, body = c3.post("/rekisteroidy", url.Values{"csrf": {c3.csrf("/rekisteroidy")}, "email": {"olemassa@example.fi"}, "name": {"Toinen"}, "password": {"toinen pitkä salalause"}, "organisation": {account.Organisations[0]}})
	// A taken address gets the answer a new one gets (the owner is told
	// by e-mail): see TestRegistrationRevealsNoAccounts.
	if resp.StatusCode != 200 || strings.Contains(body, "on jo olemassa") || !strings.Contains(body, "Tarkista sähköpostisi") {
		t.Fatalf("taken address = %d", resp.StatusCode)
	}
}

func TestSignInRateLimit(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("raja@example.fi", "Raili Raja")
	b.post("/kirjaudu-ulos", url.Values{"csrf": {b.csrf("/tili")}})
	var last *http.Response
	for i := 0; i < 11; i++ {
		last = b.login("raja@example.fi", "väärin")
	}
	if resp := b.login("raja@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 11 failures even the right password = %d (last failure %d), want 429 with Retry-After", resp.StatusCode, last.StatusCode)
	}
	// The limit releases: the first delay is one second.
	time.Sleep(1100 * time.Millisecond)
	if resp := b.login("raja@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 {
		t.Fatalf("after the delay = %d", resp.StatusCode)
	}
}

var secretRE = regexp.MustCompile(`<code class="secret">([A-Z2-7]+)</code>`)

func TestTwoFactorEnrolmentAndRecoveryCode(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("totp@example.fi", "Tero Totp")
	_, page := b.get("/tili/kaksivaiheinen")
	if secretRE.MatchString(page) {
		t.Fatal("opening the page made a secret: a GET must change nothing")
	}
	_, page = b.post("/tili/kaksivaiheinen", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "step": {"begin"}})
	m := secretRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatal("enrolment page shows no QR code and key")
	}
	code, _ := account.CodeAt(m[1], time.Now())
	resp, body := b.post("/tili/kaksivaiheinen", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "code": {code}})
	codes := regexp.MustCompile(`<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>`).FindAllStringSubmatch(body, -1)
	if resp.StatusCode != 200 || len(codes) != 10 {
		t.Fatalf("confirm = %d, %d recovery codes", resp.StatusCode, len(codes))
	}
	b.post("/kirjaudu-ulos", url.Values{"csrf": {b.csrf("/tili")}})

	resp = b.login("totp@example.fi", "oma pitkä salalause 2026")
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/kirjaudu/vahvista") {
		t.Fatalf("password step = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Half signed in: nothing but the second step.
	if resp, _ := b.get("/omat-opinnot"); resp.StatusCode != 303 {
		t.Fatalf("dashboard before the second factor = %d", resp.StatusCode)
	}
	verify := func(code string) *http.Response {
		resp, _ := b.post("/kirjaudu/vahvista", url.Values{"csrf": {b.csrf("/kirjaudu/vahvista")}, "code": {code}, "jatka": {"/omat-opinnot"}})
		return resp
	}
	if resp := verify("000000"); resp.StatusCode != 401 {
		t.Fatalf("wrong code = %d", resp.StatusCode)
	}
	if resp := verify(codes[0][1]); resp.StatusCode != 303 || resp.Header.Get("Location") != "/omat-opinnot" {
		t.Fatalf("recovery code = %d", resp.StatusCode)
	}
	if resp, _ := b.get("/omat-opinnot"); resp.StatusCode != 200 {
		t.Fatalf("dashboard after the second factor = %d", resp.StatusCode)
	}
	// The recovery code is used up.
	b.post("/kirjaudu-ulos", url.Values{"csrf": {b.csrf("/tili")}})
	b.login("totp@example.fi", "oma pitkä salalause 2026")
	if resp := verify(codes[0][1]); resp.StatusCode != 401 {
		t.Fatalf("a used recovery code worked again: %d", resp.StatusCode)
	}
	// The API needs the code too.
	api := newClient(t, r.URL)
	resp, _ = api.do("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"totp@example.fi","password":"oma pitkä salalause 2026"}`), "Content-Type", "application/json")
	if resp.StatusCode != 401 {
		t.Fatalf("API sign-in without the code = %d", resp.StatusCode)
	}
	code, _ = account.CodeAt(m[1], time.Now().Add(30*time.Second)) // the enrolment used this step's code
	resp, body = api.do("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"totp@example.fi","password":"oma pitkä salalause 2026","code":"`+code+`"}`), "Content-Type", "application/json")
	if resp.StatusCode != 200 || !strings.Contains(body, `"token"`) {
		t.Fatalf("API sign-in with the code = %d %s", resp.StatusCode, body)
	}
}

func TestBearerAPI(t *testing.T) {
	r := start(t)
	c := newClient(t, r.URL)
	resp, body := c.do("POST", "/api/v1/auth/register", strings.NewReader(`{"email":"api@example.fi","name":"Api Käyttäjä","password":"rajapinnan salalause","organisation":"HUS-yhtymä"}`), "Content-Type", "application/json")
	if resp.StatusCode != 202 {
		t.Fatalf("API register = %d %s", resp.StatusCode, body)
	}
	// A taken address gets the very same answer.
	again, againBody := c.do("POST", "/api/v1/auth/register", strings.NewReader(`{"email":"api@example.fi","name":"Joku Muu","password":"toinen pitkä salalause","organisation":"HUS-yhtymä"}`), "Content-Type", "application/json")
	if again.StatusCode != resp.StatusCode || againBody != body {
		t.Fatalf("a taken address answered %d %s, a new one %d %s", again.StatusCode, againBody, resp.StatusCode, body)
	}
	resp, body = c.do("POST", "/api/v1/auth/register", strings.NewReader(`{"email":"x","name":"","password":"lyhyt","organisation":""}`), "Content-Type", "application/json")
	if resp.StatusCode != 422 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, `"field":"email"`) {
		t.Fatalf("API register errors = %d %s", resp.StatusCode, body)
	}
	resp, _ = c.do("POST", "/api/v1/auth/login", strings.NewReader("email=api@example.fi&password=x"), "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != 415 {
		t.Fatalf("form-encoded API sign-in = %d", resp.StatusCode)
	}
	resp, body = c.do("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"api@example.fi","password":"rajapinnan salalause"}`), "Content-Type", "application/json")
	var tok struct{ Token string }
	json.Unmarshal([]byte(body), &tok)
	if resp.StatusCode != 200 || tok.Token == "" {
		t.Fatalf("API login = %d %s", resp.StatusCode, body)
	}
	bearer := "Bearer " + tok.Token
	if resp, body := c.do("GET", "/api/v1/auth/session", nil, "Authorization", bearer); resp.StatusCode != 200 || !strings.Contains(body, `"email":"api@example.fi"`) || strings.Contains(body, "csrf_token") {
		t.Fatalf("session = %d %s", resp.StatusCode, body)
	}
	// Bearer requests need no CSRF token.
	if resp, body := c.do("PUT", "/api/v1/progress/toinen/jatko", strings.NewReader(`{"event":"opened"}`), "Authorization", bearer, "Content-Type", "application/json"); resp.StatusCode != 200 {
		t.Fatalf("progress with bearer = %d %s", resp.StatusCode, body)
	}
	if resp, body := c.do("GET", "/api/v1/progress", nil, "Authorization", bearer); resp.StatusCode != 200 || !strings.Contains(body, `"section":"jatko"`) {
		t.Fatalf("progress = %d %s", resp.StatusCode, body)
	}
	if resp, _ := c.do("POST", "/api/v1/auth/logout", nil, "Authorization", bearer); resp.StatusCode != 204 {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/api/v1/auth/session", nil, "Authorization", bearer); resp.StatusCode != 401 {
		t.Fatalf("revoked token still works: %d", resp.StatusCode)
	}
}

func TestAccountPageSessionsAndDeletion(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("tili@example.fi", "Tiina Tili")
	u, _ := r.Accounts().UserByEmail(t.Context(), "tili@example.fi")
	userID := u.ID
	// Some study data and feedback to delete.
	_, sec := b.get("/osiot/ensimmainen/tehtava")
	tok := csrfField.FindStringSubmatch(sec)[1]
	b.post("/tehtavat/ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi/vastaus", url.Values{"csrf": {tok}, "text": {"Tiinan vastaus"}})
	b.putJSON("/api/v1/progress/toinen/jatko", tok, map[string]any{"event": "heartbeat", "seconds": 10})
	b.post("/palaute", url.Values{"csrf": {tok}, "kind": {"content"}, "message": {"Hyvä kurssi."}, "contact": {"tili@example.fi"}})
	certificate := passExam(t, b)
	// The export has all of it, and nothing of anyone else.
	other := newClient(t, r.URL)
	other.register("muu@example.fi", "Muu Henkilö")
	_, export := b.get("/api/v1/me/export")
	for _, want := range []string{"tili@example.fi", "Tiinan vastaus", `"section": "jatko"`, "Hyvä kurssi.", certificate.ID, certificate.Token} {
		if !strings.Contains(export, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	if strings.Contains(export, "muu@example.fi") || strings.Contains(export, "password_hash") || strings.Contains(export, "totp_secret") {
		t.Error("export contains someone else's data or secrets")
	}
	phone := newClient(t, r.URL)
	phone.login("tili@example.fi", "oma pitkä salalause 2026")
	_, page := b.get("/tili")
	ids := regexp.MustCompile(`/tili/istunnot/([0-9a-f]{64})/lopeta`).FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("account page lists %d sessions, want 2", len(ids))
	}
	token := csrfField.FindStringSubmatch(page)[1]
	if resp, _ := b.post("/tili/istunnot/lopeta-muut", url.Values{"csrf": {token}}); resp.StatusCode != 303 {
		t.Fatalf("end others = %d", resp.StatusCode)
	}
	if resp, _ := phone.get("/omat-opinnot"); resp.StatusCode != 303 {
		t.Fatal("the other device is still signed in")
	}
	// Changing the password needs the current one.
	resp, body := b.post("/tili/salasana", url.Values{"csrf": {token}, "current": {"väärä"}, "password": {"uusi pitkä salalause"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "Nykyinen salasana on väärin.") {
		t.Fatalf("password change with a wrong current = %d", resp.StatusCode)
	}
	resp, _ = b.post("/tili/salasana", url.Values{"csrf": {token}, "current": {"oma pitkä salalause 2026"}, "password": {"uusi pitkä salalause"}})
	if resp.StatusCode != 303 {
		t.Fatalf("password change = %d", resp.StatusCode)
	}
	_, page = b.get("/tili")
	token = csrfField.FindStringSubmatch(page)[1]
	resp, _ = b.post("/tili/poista", url.Values{"csrf": {token}, "password": {"uusi pitkä salalause"}})
	if resp.StatusCode != 303 {
		t.Fatalf("delete = %d", resp.StatusCode)
	}
	if resp := newClient(t, r.URL).login("tili@example.fi", "uusi pitkä salalause"); resp.StatusCode != 401 {
		t.Fatalf("a deleted account signs in: %d", resp.StatusCode)
	}
	// An author's upload, so that the bucket scan reads real objects.
	au, atok := author(t, r)
	if resp, body := au.do("POST", "/api/v1/media?title=Skannattava", bytes.NewReader(sampleFile(t, "audio", 1)), "Content-Type", "audio/mpeg", "X-CSRF-Token", atok); resp.StatusCode != 201 {
		t.Fatalf("upload = %d %s", resp.StatusCode, body)
	}
	// Nothing of the person is left in any collection or object.
	scanForPerson(t, r.db, []string{"tili@example.fi", "Tiina Tili", userID})
	// The item statistics keep the submitted attempt, under a pseudonym.
	if _, stats := au.get("/api/v1/admin/exam/stats"); !strings.Contains(stats, `"attempts":1`) || !strings.Contains(stats, `"learners":1`) {
		t.Fatalf("the statistics lost the deleted learner's attempt: %.200s", stats)
	}
	scanBucketForPerson(t, r.store.Bucket(), []string{"tili@example.fi", "Tiina Tili", userID})
	// The certificate was withdrawn by the documented policy: its page
	// says so without naming anyone, and verifying reports it revoked.
	resp, page = newClient(t, r.URL).get("/todistus/" + certificate.ID + "?lang=fi")
	if resp.StatusCode != 200 || !strings.Contains(page, "Peruttu haltijan pyynnöstä") || strings.Contains(page, "Tiina") {
		t.Fatalf("the withdrawn certificate's page = %d", resp.StatusCode)
	}
	resp, body = newClient(t, r.URL).do("POST", "/api/v1/certificates/verify", strings.NewReader(mustJSON(map[string]string{"token": certificate.Token})), "Content-Type", "application/json")
	if resp.StatusCode != 200 || !strings.Contains(body, `"revoked":true`) || !strings.Contains(body, "withdrawn at the holder") {
		t.Fatalf("verifying a withdrawn certificate = %s", body)
	}
}

// adminOnly: a learner posting to an administration route that takes a
// user's id finds nothing there (404).
func adminOnly(path string) func(*testing.T, *running) {
	return func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aapo Ei-ylläpitäjä")
		resp, _ := a.post(strings.Replace(path, ":user", account.NewID(), 1), url.Values{"csrf": {a.csrf("/tili")}, "role": {"admin"}, "tila": {"pois"}})
		if resp.StatusCode != 404 {
			t.Errorf("a learner on %s = %d, want 404", path, resp.StatusCode)
		}
	}
}

// adminRefused: an administrator signed in with both factors, without the
// CSRF token, is refused (403); path may name the admin's own id as :self.
func adminRefused(path, body string) func(*testing.T, *running) {
	return adminRefusedAs(path, body, "application/x-www-form-urlencoded")
}

func adminRefusedAs(path, body, contentType string) func(*testing.T, *running) {
	return func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		email := account.NewID()[:10] + "@example.fi"
		a.register(email, "Ylli Ylläpitäjä")
		signInAdmin(t, a, r.Accounts(), email)
		u, _ := r.Accounts().UserByEmail(t.Context(), email)
		target := strings.Replace(path, ":self", u.ID, 1)
		resp, _ := a.do("POST", target, strings.NewReader(body), "Content-Type", contentType)
		if resp.StatusCode != 403 {
			t.Errorf("administrator on %s without a CSRF token = %d, want 403", target, resp.StatusCode)
		}
	}
}

// scanBucketForPerson fails when any object of the bucket holds one of
// the person's identifiers in its key, its metadata or its content.
func scanBucketForPerson(t *testing.T, bucket string, needles []string) {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(env.MinIO.Endpoint(), "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(env.MinIO.Credentials.AccessKey, env.MinIO.Credentials.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for o := range c.ListObjectsIter(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true, WithMetadata: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
		obj, err := c.GetObject(t.Context(), bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(io.LimitReader(obj, 64<<20))
		obj.Close()
		text := o.Key + fmt.Sprint(o.UserMetadata) + string(data)
		for _, needle := range needles {
			if strings.Contains(text, needle) {
				t.Errorf("object %s still holds %q", o.Key, needle)
			}
		}
	}
	if n == 0 {
		t.Fatalf("bucket %s has no objects to scan", bucket)
	}
}

// scanForPerson fails when any document of any collection still holds one
// of the person's identifiers.
func scanForPerson(t *testing.T, db *database.DB, needles []string) {
	t.Helper()
	names, err := db.Database.ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		cur, err := db.Collection(name).Find(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(t.Context(), &docs); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			// The confirmation of the deletion has to reach the address
			// (and only the address) until it is delivered; the sender
			// then deletes it (mail.Request.Forget).
			if name == "outbox" && d["kind"] == "account_deleted" && d["forget"] == true {
				delete(d, "to")
			}
			text, _ := json.Marshal(d)
			for _, n := range needles {
				if strings.Contains(string(text), n) {
					t.Errorf("collection %s still holds %q: %s", name, n, text)
				}
			}
		}
	}
}

func TestPasswordResetLink(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("reset@example.fi", "Reetta Reset")
	token, _, err := r.Accounts().IssueReset(t.Context(), "reset@example.fi", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, r.URL)
	form := c.csrf("/salasana/uusi?token=" + token)
	resp, _ := c.post("/salasana/uusi", url.Values{"csrf": {form}, "token": {token}, "password": {"palautettu salalause"}})
	if resp.StatusCode != 303 {
		t.Fatalf("reset = %d", resp.StatusCode)
	}
	if resp, _ := b.get("/omat-opinnot"); resp.StatusCode != 303 {
		t.Fatal("the reset did not end the old sessions")
	}
	resp, body := c.post("/salasana/uusi", url.Values{"csrf": {form}, "token": {token}, "password": {"kolmas salalause"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "vanhentunut tai jo käytetty") {
		t.Fatalf("second use of the link = %d", resp.StatusCode)
	}
}

func TestAdministratorManagesUsers(t *testing.T) {
	r := start(t)
	learner := newClient(t, r.URL)
	learner.register("oppija@example.fi", "Olli Oppija")
	// Learners do not even see that administration exists.
	if resp, _ := learner.get("/yllapito/kayttajat"); resp.StatusCode != 404 {
		t.Fatalf("learner on the admin page = %d", resp.StatusCode)
	}
	admin := newClient(t, r.URL)
	admin.register("yllapito@example.fi", "Ylli Ylläpito")
	// An admin without two-factor authentication is sent to set it up.
	r.Accounts().SetRole(t.Context(), "yllapito@example.fi", account.RoleAdmin)
	if resp, _ := admin.get("/yllapito/kayttajat"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/tili/kaksivaiheinen" {
		t.Fatalf("admin without 2FA = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	signInAdmin(t, admin, r.Accounts(), "yllapito@example.fi")
	_, page := admin.get("/yllapito/kayttajat?q=oppija")
	m := regexp.MustCompile(`/yllapito/kayttajat/([a-z0-9]+)/rooli`).FindStringSubmatch(page)
	if m == nil || strings.Contains(page, "yllapito@example.fi") {
		t.Fatalf("search did not find just the learner:\n%s", page)
	}
	// The list shows role, organisation and last activity, sorts by a
	// column (marked for screen readers) and refuses an unknown order.
	for _, want := range []string{account.Organisations[3], `<th scope="col" aria-sort="ascending"><a href="/yllapito/kayttajat?jarjestys=email&amp;q=oppija" aria-current="true">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the user list lacks %q", want)
		}
	}
	if _, sorted := admin.get("/yllapito/kayttajat?jarjestys=last_active"); !strings.Contains(sorted, `aria-sort="descending"`) || !strings.Contains(sorted, `name="jarjestys" value="last_active"`) {
		t.Error("sorting by the latest activity is not shown as the current order")
	}
	if resp, _ := admin.get("/yllapito/kayttajat?jarjestys=password_hash"); resp.StatusCode != 400 {
		t.Errorf("an unknown order = %d, want 400", resp.StatusCode)
	}
	token := csrfField.FindStringSubmatch(page)[1]
	if resp, _ := admin.post("/yllapito/kayttajat/"+m[1]+"/rooli", url.Values{"csrf": {token}, "role": {"author"}}); resp.StatusCode != 303 {
		t.Fatalf("role change = %d", resp.StatusCode)
	}
	if u, _ := r.Accounts().UserByEmail(t.Context(), "oppija@example.fi"); u.Role != account.RoleAuthor {
		t.Fatalf("role = %s", u.Role)
	}
	if resp, _ := admin.post("/yllapito/kayttajat/"+m[1]+"/rooli", url.Values{"csrf": {token}, "role": {"king"}}); resp.StatusCode != 400 {
		t.Fatalf("bad role = %d", resp.StatusCode)
	}
	resp, body := admin.post("/yllapito/kayttajat/"+m[1]+"/nollaus", url.Values{"csrf": {token}})
	link := regexp.MustCompile(`/salasana/uusi\?token=([A-Za-z0-9]+)`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || link == nil {
		t.Fatalf("reset link = %d", resp.StatusCode)
	}
	if _, err := r.Accounts().UseReset(t.Context(), link[1], "ylläpidon antama uusi"); err != nil {
		t.Fatalf("the issued link does not work: %v", err)
	}
	// Both actions are in the audit log, with who did them to whom.
	_, logPage := admin.get("/yllapito/loki")
	for _, want := range []string{"role.change (learner → author)", "password.reset-link", "Ylli Ylläpito &lt;yllapito@example.fi&gt;", "Olli Oppija &lt;oppija@example.fi&gt;"} {
		if !strings.Contains(logPage, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
	if resp, _ := admin.post("/yllapito/kayttajat/eiole/rooli", url.Values{"csrf": {token}, "role": {"author"}}); resp.StatusCode != 404 {
		t.Fatalf("unknown user = %d", resp.StatusCode)
	}
}

func init() {
	// Every state-changing route: a cookie-authenticated request without
	// the CSRF token must be refused.
	refused := func(method, path string, body string, contentType string, wantStatus int) func(*testing.T, *running) {
		return func(t *testing.T, r *running) {
			b := newClient(t, r.URL)
			b.register(account.NewID()[:10]+"@example.fi", "Csrf Testaaja")
			resp, _ := b.do(method, path, strings.NewReader(body), "Content-Type", contentType)
			if resp.StatusCode != wantStatus {
				t.Errorf("%s %s without a CSRF token = %d, want %d", method, path, resp.StatusCode, wantStatus)
			}
		}
	}
	form := "application/x-www-form-urlencoded"
	for _, route := range []string{"/kirjaudu", "/kirjaudu/vahvista", "/kirjaudu-ulos", "/rekisteroidy", "/salasana/uusi",
		"/tili/salasana", "/tili/istunnot/lopeta-muut", "/tili/poista", "/tili/kaksivaiheinen"} {
		stateChanging["POST "+route] = refused("POST", route, "x=1", form, 403)
	}
	stateChanging["POST /tili/istunnot/:session/lopeta"] = refused("POST", "/tili/istunnot/"+strings.Repeat("a", 64)+"/lopeta", "x=1", form, 403)
	stateChanging["POST /osiot/:module/:section/luettu"] = refused("POST", "/osiot/toinen/jatko/luettu", "x=1", form, 403)
	stateChanging["POST /tehtavat/:task/vastaus"] = refused("POST", "/tehtavat/ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi/vastaus", "text=x", form, 403)
	stateChanging["POST /api/v1/auth/logout"] = refused("POST", "/api/v1/auth/logout", "", "application/json", 403)
	stateChanging["PUT /api/v1/progress/:module/:section"] = refused("PUT", "/api/v1/progress/toinen/jatko", `{"event":"opened"}`, "application/json", 403)
	stateChanging["POST /api/v1/sync"] = refused("POST", "/api/v1/sync", `{"device":"device-aaaaaaaa","items":[]}`, "application/json", 403)
	stateChanging["PUT /api/v1/tasks/:task/answer"] = refused("PUT", "/api/v1/tasks/ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi/answer", `{"text":"x"}`, "application/json", 403)
	// Sign-in and registration in the API accept only JSON, which a
	// cross-site form cannot send.
	stateChanging["POST /api/v1/auth/login"] = refused("POST", "/api/v1/auth/login", "email=a&password=b", form, 415)
	stateChanging["POST /api/v1/auth/register"] = refused("POST", "/api/v1/auth/register", "email=a", form, 415)

	// Routes that take the id of something that belongs to a user: called
	// by user A with B's ids, they answer 404 and leak nothing.
	task := "ensimmainen.tehtava.tehtava-pohdi-omaa-tyotasi"
	twoUsers := func(t *testing.T, r *running) (a, b *browserClient, tokenA string) {
		a, b = newClient(t, r.URL), newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aino A")
		b.register(account.NewID()[:10]+"@example.fi", "Bertta B")
		_, page := b.get("/osiot/ensimmainen/tehtava")
		b.post("/tehtavat/"+task+"/vastaus", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "text": {"Bertan salainen vastaus"}})
		return a, b, a.csrf("/tili")
	}
	answerIsolated := func(t *testing.T, r *running) {
		a, b, tokenA := twoUsers(t, r)
		if _, body := a.get("/api/v1/tasks/" + task + "/answer"); strings.Contains(body, "Bertan") {
			t.Error("A read B's answer")
		}
		a.putJSON("/api/v1/tasks/"+task+"/answer", tokenA, map[string]string{"text": "Ainon vastaus"})
		a.post("/tehtavat/"+task+"/vastaus", url.Values{"csrf": {tokenA}, "text": {"Ainon toinen"}})
		if _, body := b.get("/api/v1/tasks/" + task + "/answer"); !strings.Contains(body, "Bertan salainen vastaus") {
			t.Error("A's writes changed B's answer")
		}
		if _, body := a.get("/osiot/ensimmainen/tehtava"); strings.Contains(body, "Bertan") {
			t.Error("B's answer shown on A's page")
		}
	}
	idorMatrix["GET /api/v1/tasks/:task/answer"] = answerIsolated
	idorMatrix["HEAD /api/v1/tasks/:task/answer"] = answerIsolated
	idorMatrix["PUT /api/v1/tasks/:task/answer"] = answerIsolated
	idorMatrix["POST /tehtavat/:task/vastaus"] = answerIsolated
	// Sync names tasks and pages, never a user: A syncing B's task and
	// B's idempotency key changes only A's own answer.
	idorMatrix["POST /api/v1/sync"] = func(t *testing.T, r *running) {
		a, b, tokenA := twoUsers(t, r)
		data, _ := json.Marshal(map[string]any{"device": "device-aaaaaaaa", "items": []map[string]any{
			{"key": "avain-0123456789", "seq": 1, "type": "answer", "task": task, "text": "Ainon junassa"}}})
		for i := 0; i < 2; i++ {
			resp, body := a.do("POST", "/api/v1/sync", strings.NewReader(string(data)), "Content-Type", "application/json", "X-CSRF-Token", tokenA)
			if resp.StatusCode != 200 || strings.Contains(body, "Bertan") {
				t.Errorf("A's sync = %d %s", resp.StatusCode, body)
			}
		}
		if _, body := b.get("/api/v1/tasks/" + task + "/answer"); !strings.Contains(body, "Bertan salainen vastaus") {
			t.Error("A's sync changed B's answer")
		}
		if _, body := a.get("/api/v1/tasks/" + task + "/answer"); !strings.Contains(body, "Ainon junassa") {
			t.Errorf("A's sync did not save A's answer: %s", body)
		}
	}
	// Administration routes take any user's id, but only administrators
	// reach them: for everyone else they do not exist.
	idorMatrix["POST /yllapito/kayttajat/:user/rooli"] = adminOnly("/yllapito/kayttajat/:user/rooli")
	idorMatrix["POST /yllapito/kayttajat/:user/nollaus"] = adminOnly("/yllapito/kayttajat/:user/nollaus")
	stateChanging["POST /sanasto/:concept/muokkaa"] = adminRefused("/sanasto/tyokyky/muokkaa", "term=x")
	stateChanging["POST /palaute"] = refused("POST", "/palaute", "kind=content&message=hei", form, 403)
	stateChanging["POST /api/v1/feedback"] = refused("POST", "/api/v1/feedback", "kind=content&message=hei", form, 415)
	stateChanging["POST /yllapito/palaute/:feedback"] = adminRefused("/yllapito/palaute/x", "status=answered")
	idorMatrix["POST /yllapito/palaute/:feedback"] = func(t *testing.T, r *running) {
		a := newClient(t, r.URL)
		a.register(account.NewID()[:10]+"@example.fi", "Aapo Oppija")
		resp, _ := a.post("/yllapito/palaute/x", url.Values{"csrf": {a.csrf("/tili")}, "status": {"answered"}})
		if resp.StatusCode != 404 {
			t.Errorf("a learner answering feedback = %d, want 404", resp.StatusCode)
		}
	}
	stateChanging["POST /yllapito/kayttajat/:user/rooli"] = adminRefused("/yllapito/kayttajat/:self/rooli", "role=learner")
	stateChanging["POST /yllapito/kayttajat/:user/nollaus"] = adminRefused("/yllapito/kayttajat/:self/nollaus", "x=1")
	idorMatrix["POST /tili/istunnot/:session/lopeta"] = func(t *testing.T, r *running) {
		a, b, tokenA := twoUsers(t, r)
		_, page := b.get("/tili")
		m := regexp.MustCompile(`/tili/istunnot/([0-9a-f]{64})/lopeta`).FindStringSubmatch(page)
		resp, _ := a.post("/tili/istunnot/"+m[1]+"/lopeta", url.Values{"csrf": {tokenA}})
		if resp.StatusCode != 404 {
			t.Errorf("A ending B's session = %d, want 404", resp.StatusCode)
		}
		if resp, _ := b.get("/omat-opinnot"); resp.StatusCode != 200 {
			t.Error("A ended B's session")
		}
	}
}

// An author cannot spell the signed-in page's placeholders: text and a
// link in a section that say "@@tk-csrf@@" stay as written and never
// carry the viewer's CSRF token or name to another site.
func TestContentCannotExpressSignedInPlaceholders(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../course/testdata/course")); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "modules/02-toinen/01-jatko.md")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	bait := "\n\nKatso @@tk-csrf@@ ja @@tk-name@@ sekä [lähde](https://evil.example/kerää?t=@@tk-csrf@@&n=@@tk-name@@).\n"
	if err := os.WriteFile(page, append(data, bait...), 0o644); err != nil {
		t.Fatal(err)
	}
	c, problems := course.Load(os.DirFS(dir))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	r := startWith(t, course.NewStaticLibrary(&course.Published{Version: 1, Course: c}))
	b := newClient(t, r.URL)
	b.register("paikka@example.fi", "Pia Paikka")
	_, body := b.get("/osiot/toinen/jatko")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the signed-in page")
	}
	if strings.Contains(body, "t="+m[1]) || strings.Contains(body, "n=Pia") || strings.Contains(body, "Katso "+m[1]) {
		t.Fatal("the section's text was filled with the viewer's token or name")
	}
	if !strings.Contains(body, "Katso @@tk-csrf@@ ja @@tk-name@@") {
		t.Fatal("the author's text did not stay as written")
	}
}

// enrolTOTP turns two-factor on for the signed-in client through the
// pages and returns the secret.
func enrolTOTP(t *testing.T, b *browserClient) string {
	t.Helper()
	_, page := b.post("/tili/kaksivaiheinen", url.Values{"csrf": {b.csrf("/tili/kaksivaiheinen")}, "step": {"begin"}})
	m := secretRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no secret after beginning enrolment")
	}
	code, _ := account.CodeAt(m[1], time.Now())
	if resp, body := b.post("/tili/kaksivaiheinen", url.Values{"csrf": {b.csrf("/tili/kaksivaiheinen")}, "step": {"confirm"}, "code": {code}}); resp.StatusCode != 200 || !strings.Contains(body, "<code>") {
		t.Fatalf("confirm = %d", resp.StatusCode)
	}
	return m[1]
}

// Opening the two-factor page (as a cross-site link would) changes
// nothing; a new authenticator and turning two-factor off both need the
// password and a current code; roles that require two factors cannot turn
// it off; each change is in the audit log.
func TestTwoFactorChangesNeedPasswordAndCode(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("muutos@example.fi", "Mari Muutos")
	secret := enrolTOTP(t, b)
	user := func() *account.User {
		u, err := r.Accounts().UserByEmail(t.Context(), "muutos@example.fi")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// A GET, cross-site (no Origin, Lax cookie sent): still on, same secret.
	for range 3 {
		if resp, body := b.get("/tili/kaksivaiheinen"); resp.StatusCode != 200 || secretRE.MatchString(body) {
			t.Fatalf("GET = %d, or it showed a new secret", resp.StatusCode)
		}
	}
	if u := user(); !u.TOTPEnabled || u.TOTPSecret != secret || u.TOTPPending != "" {
		t.Fatal("a GET changed two-factor authentication")
	}
	step := func(values url.Values) (*http.Response, string) {
		values.Set("csrf", b.csrf("/tili/kaksivaiheinen"))
		return b.post("/tili/kaksivaiheinen", values)
	}
	// Without the password and a code: refused, nothing pending.
	for _, v := range []url.Values{
		{"step": {"begin"}},
		{"step": {"begin"}, "password": {"oma pitkä salalause 2026"}},
		{"step": {"begin"}, "password": {"väärä"}, "code": {"123456"}},
		{"step": {"disable"}},
		{"step": {"disable"}, "password": {"oma pitkä salalause 2026"}, "code": {"000000"}},
	} {
		if resp, body := step(v); resp.StatusCode != 422 || secretRE.MatchString(body) {
			t.Fatalf("%v = %d", v, resp.StatusCode)
		}
	}
	if u := user(); !u.TOTPEnabled || u.TOTPPending != "" {
		t.Fatal("a refused change left two-factor changed")
	}
	// With both: a new authenticator, while the old one keeps working until
	// the new one is confirmed.
	code, _ := account.CodeAt(secret, time.Now().Add(30*time.Second))
	resp, body := step(url.Values{"step": {"begin"}, "password": {"oma pitkä salalause 2026"}, "code": {code}})
	m := secretRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || m[1] == secret {
		t.Fatalf("replacing with password and code = %d", resp.StatusCode)
	}
	if u := user(); !u.TOTPEnabled || u.TOTPSecret != secret {
		t.Fatal("the active authenticator stopped before the new one was confirmed")
	}
	newCode, _ := account.CodeAt(m[1], time.Now())
	if resp, _ := step(url.Values{"step": {"confirm"}, "code": {newCode}}); resp.StatusCode != 200 {
		t.Fatalf("confirming the new authenticator = %d", resp.StatusCode)
	}
	if u := user(); u.TOTPSecret != m[1] {
		t.Fatal("the new authenticator is not the active one")
	}
	// A learner may turn it off with the password and a current code.
	offCode, _ := account.CodeAt(m[1], time.Now().Add(30*time.Second))
	if resp, _ := step(url.Values{"step": {"disable"}, "password": {"oma pitkä salalause 2026"}, "code": {offCode}}); resp.StatusCode != 303 {
		t.Fatalf("turning off = %d", resp.StatusCode)
	}
	if u := user(); u.TOTPEnabled || u.TOTPSecret != "" {
		t.Fatal("two-factor is still on")
	}
	var actions []string
	cur, err := r.db.Collection("audit_log").Find(t.Context(), bson.D{{Key: "target", Value: user().ID}})
	if err != nil {
		t.Fatal(err)
	} else {
		var docs []struct {
			Action string `bson:"action"`
		}
		_ = cur.All(t.Context(), &docs)
		for _, d := range docs {
			actions = append(actions, d.Action)
		}
	}
	for _, want := range []string{"totp.enabled", "totp.replaced", "totp.disabled"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log lacks %s (has %v)", want, actions)
		}
	}

	// An author cannot turn it off, even with both.
	a := newClient(t, r.URL)
	a.register("kirjoittaja@example.fi", "Kirsi Kirjoittaja")
	signInAs(t, a, r.Accounts(), "kirjoittaja@example.fi", account.RoleAuthor)
	author, _ := r.Accounts().UserByEmail(t.Context(), "kirjoittaja@example.fi")
	authorCode, _ := account.CodeAt(author.TOTPSecret, time.Now().Add(30*time.Second))
	resp, _ = a.post("/tili/kaksivaiheinen", url.Values{"csrf": {a.csrf("/tili/kaksivaiheinen")}, "step": {"disable"}, "password": {"oma pitkä salalause 2026"}, "code": {authorCode}})
	if resp.StatusCode != 409 {
		t.Fatalf("an author turning two-factor off = %d, want 409", resp.StatusCode)
	}
	if u, _ := r.Accounts().UserByEmail(t.Context(), "kirjoittaja@example.fi"); !u.TOTPEnabled {
		t.Fatal("an author's two-factor was turned off")
	}
}

// Wrong second-factor codes are counted across password steps: signing in
// again with the right password does not give ten fresh guesses.
func TestSecondFactorLimitSurvivesThePasswordStep(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("arvaus@example.fi", "Arvo Arvaaja")
	secret := enrolTOTP(t, b)
	b.post("/kirjaudu-ulos", url.Values{"csrf": {b.csrf("/tili")}})
	verify := func(code string) *http.Response {
		resp, _ := b.post("/kirjaudu/vahvista", url.Values{"csrf": {b.csrf("/kirjaudu/vahvista")}, "code": {code}, "jatka": {"/omat-opinnot"}})
		return resp
	}
	limited := false
	for round := 0; round < 4 && !limited; round++ {
		if resp := b.login("arvaus@example.fi", "oma pitkä salalause 2026"); resp.StatusCode != 303 {
			t.Fatalf("password step = %d", resp.StatusCode)
		}
		for range 3 {
			if resp := verify("000000"); resp.StatusCode == 429 {
				limited = true
				if resp.Header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
				break
			}
		}
	}
	if !limited {
		t.Fatal("twelve wrong codes over four password steps were never limited")
	}
	// The right code is refused too while the lock lasts.
	code, _ := account.CodeAt(secret, time.Now().Add(30*time.Second))
	if resp := verify(code); resp.StatusCode != 429 {
		t.Fatalf("the right code during the lock = %d, want 429", resp.StatusCode)
	}
	// The API counts the same way.
	resp, _ := b.do("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"arvaus@example.fi","password":"oma pitkä salalause 2026","code":"000000"}`), "Content-Type", "application/json")
	if resp.StatusCode != 429 {
		t.Fatalf("API sign-in with a code during the lock = %d, want 429", resp.StatusCode)
	}
}

// A TOTP code works once: the same code sent again (a replay, or a second
// tab) is refused.
func TestTOTPCodeWorksOnce(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("kerran@example.fi", "Kerttu Kerran")
	secret := enrolTOTP(t, b)
	code, _ := account.CodeAt(secret, time.Now().Add(30*time.Second))
	for i, want := range []int{303, 401} {
		c := newClient(t, r.URL)
		c.login("kerran@example.fi", "oma pitkä salalause 2026")
		resp, _ := c.post("/kirjaudu/vahvista", url.Values{"csrf": {c.csrf("/kirjaudu/vahvista")}, "code": {code}, "jatka": {"/omat-opinnot"}})
		if resp.StatusCode != want {
			t.Fatalf("use %d of one code = %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

// Password re-checks on the account page (change password, delete the
// account) are limited like sign-in.
func TestPasswordRechecksAreRateLimited(t *testing.T) {
	for _, path := range []string{"/tili/salasana", "/tili/poista"} {
		t.Run(path, func(t *testing.T) {
			r := start(t)
			b := newClient(t, r.URL)
			b.register("uudelleen@example.fi", "Uuno Uudelleen")
			field := map[string]string{"/tili/salasana": "current", "/tili/poista": "password"}[path]
			var resp *http.Response
			for i := 0; i < 15; i++ {
				resp, _ = b.post(path, url.Values{"csrf": {b.csrf("/tili")}, field: {"väärä salasana"}, "password2": {"x"}})
				if resp.StatusCode == 429 {
					break
				}
			}
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("15 wrong passwords = %d, want 429 with Retry-After", resp.StatusCode)
			}
			if u, err := r.Accounts().UserByEmail(t.Context(), "uudelleen@example.fi"); err != nil || u == nil {
				t.Fatal("the account is gone")
			}
		})
	}
}
